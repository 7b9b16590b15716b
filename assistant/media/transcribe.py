"""Speech to text through an OpenAI-compatible ``/audio/transcriptions`` endpoint (whisper.cpp's server,
faster-whisper-server, LocalAI, vLLM, or a cloud API). No registry package ships a small general speech model
that runs in-process, so transcription is a configured endpoint, like a model."""

from __future__ import annotations

import httpx

from assistant.config import MediaConfig
from assistant.errors import PrivacyViolation, ProviderAuthError, ProviderTimeout, ProviderUnavailable
from assistant.media.sniff import extension_for

__all__ = ["Transcriber"]


class Transcriber:
    """One transcription endpoint. Owns its httpx client; ``aclose`` once."""

    def __init__(self, config: MediaConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._url = config.transcribe_url.rstrip("/") + "/audio/transcriptions"
        headers = {"Accept": "application/json"}
        key = config.transcribe_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._owned = client is None
        self._client = client or httpx.AsyncClient(timeout=config.transcribe_timeout_s, headers=headers)
        if client is not None:
            self._client.headers.update(headers)

    @property
    def location(self) -> str:
        return self._config.transcribe_location

    async def transcribe(self, data: bytes, mime: str, *, private: bool) -> str:
        """The words spoken in ``data``. A private recording never goes to a cloud endpoint (PrivacyViolation,
        raised before a byte leaves)."""
        if private and self.location != "local":
            raise PrivacyViolation("refused to send local-only audio to the cloud transcription endpoint")
        files = {"file": (f"audio{extension_for(mime)}", data, mime)}
        fields = {"model": self._config.transcribe_model, "response_format": "json"}
        try:
            response = await self._client.post(self._url, data=fields, files=files)
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"the transcription endpoint gave no answer within "
                                  f"{self._config.transcribe_timeout_s:.0f} s") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the transcription endpoint could not be reached ({type(exc).__name__}): "
                                      "check media.transcribe_url") from exc
        if response.status_code in (401, 403):
            raise ProviderAuthError("the transcription endpoint refused our key: check media.transcribe_api_key")
        if response.status_code >= 400:
            raise ProviderUnavailable(f"the transcription endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderUnavailable("the transcription endpoint answered something that is not JSON") from exc
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ProviderUnavailable("the transcription endpoint's answer has no text")
        return text.strip()

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()
