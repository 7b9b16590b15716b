"""The HTTP plumbing both cloud providers share: one pooled client, status-to-error mapping, retries and SSE.

Every httpx exception is translated here, so nothing above the provider seam sees an httpx type. Headers (and
so the API key) are never logged or put into an error message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from assistant.errors import (
    ContextOverflow,
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from assistant.providers.retry import Sleep, with_retries

__all__ = ["DEFAULT_LIMITS", "JsonEndpoint", "make_client", "parse_retry_after"]

T = TypeVar("T")

# Sized for about 64 model calls in flight at once (the agent caps concurrent turns well below that).
DEFAULT_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32, keepalive_expiry=30.0)
CONNECT_TIMEOUT_S = 10.0
# Lower-cased phrases endpoints use for "the prompt does not fit" (OpenAI, Anthropic, vLLM, llama.cpp server).
_OVERFLOW_MARKERS = (
    "context_length_exceeded",
    "context length",
    "maximum context",
    "context window",
    "prompt is too long",
    "too many tokens",
    "exceeds the available context",
)
_ERROR_TEXT_LIMIT = 300


def make_client(timeout_s: float) -> httpx.AsyncClient:
    """The one pooled client a provider owns; ``timeout_s`` bounds connect, each read, write and pool wait."""
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
    return httpx.AsyncClient(timeout=timeout, limits=DEFAULT_LIMITS, follow_redirects=False)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _endpoint_message(text: str) -> str:
    """The human message of an error body: ``{"error": {"message": ...}}`` in both OpenAI and Anthropic."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:_ERROR_TEXT_LIMIT] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_ERROR_TEXT_LIMIT]
        if isinstance(error, str):
            return error[:_ERROR_TEXT_LIMIT]
        if isinstance(data.get("message"), str):
            return str(data["message"])[:_ERROR_TEXT_LIMIT]
    return text.strip()[:_ERROR_TEXT_LIMIT]


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ProviderUnavailable | ProviderTimeout)


class JsonEndpoint:
    """POST JSON to one URL with retries; the provider builds bodies and reads answers, this moves the bytes.

    ``label`` names the model in every error (``model 'fast'``), ``config_key`` is the TOML table a user edits
    to fix it (``models.fast``). A client passed in belongs to the caller and is not closed by ``aclose``.
    """

    def __init__(
        self,
        *,
        label: str,
        config_key: str,
        url: str,
        headers: Mapping[str, str],
        timeout_s: float,
        max_retries: int,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.label = label
        self.url = url
        self._config_key = config_key
        self._headers = dict(headers)
        # Credentials as sent, so an endpoint that echoes one in an error message cannot leak it into our errors.
        self._secrets = [
            value.removeprefix("Bearer ").strip()
            for name, value in headers.items()
            if name.lower() in ("authorization", "x-api-key", "api-key") and value.strip()
        ]
        self._timeout_s = timeout_s
        self._attempts = max_retries + 1
        self._owns_client = client is None
        self._client = client if client is not None else make_client(timeout_s)
        self._sleep = sleep

    async def post(self, body: dict[str, Any], read: Callable[[dict[str, Any]], T]) -> T:
        """``read(answer JSON)``; raises only ``ProviderError``s, after retrying the transient ones.

        ``read`` runs inside each attempt, so an answer of the wrong shape (``read`` raises
        ``ProviderUnavailable``) is retried like a body cut short.
        """

        async def attempt() -> T:
            return read(await self._post_once(body))

        return await with_retries(attempt, attempts=self._attempts, retry_on=_is_transient, sleep=self._sleep)

    async def stream(self, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """Each SSE ``data:`` payload as JSON, until ``[DONE]`` or the end of the body.

        Opening the stream is retried like ``post``; once the first event has been yielded a failure is
        raised, not retried, since the caller has already shown part of the answer.
        """
        response = await with_retries(
            lambda: self._open_stream(body),
            attempts=self._attempts,
            retry_on=_is_transient,
            sleep=self._sleep,
        )
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue  # "event:", "id:", comments and keep-alive blank lines
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                try:
                    event = json.loads(payload)
                except ValueError as exc:
                    raise ProviderUnavailable(f"{self.label} sent a stream event that is not JSON") from exc
                if not isinstance(event, dict):
                    continue
                if "error" in event:  # OpenAI {"error": {...}}, Anthropic {"type": "error", "error": {...}}
                    raise ProviderUnavailable(f"{self.label} failed mid-answer: {self._message(json.dumps(event))}")
                yield event
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"{self.label} stopped sending within {self._timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"{self.label}: the stream broke off ({type(exc).__name__})") from exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _post_once(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(self.url, json=body, headers=self._headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderTimeout(
                f"{self.label} did not answer within {self._timeout_s:g} s: raise "
                f"{self._config_key}.timeout_s or check the endpoint"
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"{self.label} is unreachable at {self.url} ({type(exc).__name__})") from exc
        self._raise_for_status(response.status_code, response.headers, response.text)
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise ProviderUnavailable(f"{self.label} answered with a body that is not JSON") from exc
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{self.label} answered with JSON that is not an object")
        return data

    async def _open_stream(self, body: dict[str, Any]) -> httpx.Response:
        request = self._client.build_request("POST", self.url, json=body, headers=self._headers)
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.send(request, stream=True)
                if response.status_code >= 400:
                    try:
                        text = (await response.aread()).decode("utf-8", "replace")
                    finally:
                        await response.aclose()
                    self._raise_for_status(response.status_code, response.headers, text)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderTimeout(f"{self.label} did not start answering within {self._timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"{self.label} is unreachable at {self.url} ({type(exc).__name__})") from exc
        return response

    def _message(self, body: str) -> str:
        message = _endpoint_message(body)
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        return message

    def _raise_for_status(self, status: int, headers: httpx.Headers, text: str) -> None:
        if status < 400:
            return
        message = self._message(text)
        if status in (401, 403):
            raise ProviderAuthError(
                f"{self.label} refused the credentials ({status}: {message}): check "
                f"{self._config_key}.api_key or {self._config_key}.api_key_env"
            )
        if status == 413 or (status == 400 and any(m in text.lower() for m in _OVERFLOW_MARKERS)):
            raise ContextOverflow(f"{self.label}: the request does not fit the context window ({message})")
        if status == 408:
            raise ProviderTimeout(f"{self.label} timed out the request (408)")
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(headers.get("retry-after"))
            what = "rate-limited the request" if status == 429 else "is failing"
            raise ProviderUnavailable(f"{self.label} {what} ({status}: {message})", retry_after=retry_after)
        raise ProviderError(f"{self.label} rejected the request ({status}: {message})")
