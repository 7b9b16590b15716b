"""Our thin async wrapper of the Feishu open platform calls the adapter makes, on top of lark-oapi's client.

Every lark-oapi call is treated as blocking: its ``a``-prefixed methods fetch the tenant token with a sync
request on a cache miss and open a new httpx client per call. So the SDK's sync ``Client.request`` runs in a
small named thread pool, each await bounded by a timeout. Feishu errors are translated here, where they enter:
rate limits (230020, 99991400, HTTP 429) -> ``RateLimited``, everything else -> ``FeishuApiError`` (a
``SendFailed``) carrying Feishu's code. Nothing outside ``channels/feishu`` sees a lark type.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import lark_oapi as lark
import requests
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager
from requests_toolbelt import MultipartEncoder

from assistant.config import FeishuConfig
from assistant.errors import ConfigError, RateLimited, SendFailed

from .render import OutgoingPart

__all__ = ["BotInfo", "ChatMember", "FeishuApi", "FeishuApiError"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
API_THREADS = 4
RATE_LIMIT_CODES = frozenset({230020, 99991400})
# The tenant token was revoked or expired early: drop the cached one and try once more.
STALE_TOKEN_CODES = frozenset({99991661, 99991663, 99991668})
# Wrong credentials: retrying cannot help until someone fixes the config.
BAD_CREDENTIAL_CODES = frozenset({10003, 10014})
RATE_LIMIT_RESET_HEADER = "x-ogw-ratelimit-reset"
DEFAULT_RETRY_AFTER_S = 1.0
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_T = TypeVar("_T")


class FeishuApiError(SendFailed):
    """Feishu answered with an error code (``code``) or an HTTP error (``status``)."""

    def __init__(self, message: str, *, code: int, status: int, permanent: bool) -> None:
        super().__init__(message, permanent=permanent)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class BotInfo:
    open_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ChatMember:
    open_id: str
    name: str


class FeishuApi:
    """The open-platform calls teamclaw makes. ``aclose()`` shuts the thread pool; the object is then done."""

    def __init__(self, config: FeishuConfig, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        secret = config.secret()
        if not config.app_id or not secret:
            raise ConfigError(
                "channels.feishu.app_id or app_secret is empty: set both (app_secret may come from the "
                "FEISHU_APP_SECRET environment variable) from the app's page in the Feishu developer console"
            )
        try:
            self._client = (
                lark.Client.builder().app_id(config.app_id).app_secret(secret).domain(config.domain)
                .timeout(timeout_s).log_level(lark.LogLevel.WARNING).build()
            )
        except ValueError as exc:
            raise ConfigError(f"channels.feishu.domain = {config.domain!r}: {exc}") from exc
        self._app_id = config.app_id
        self._timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="feishu-api")

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- messages -------------------------------------------------------------------------------------------

    async def create_message(self, chat_id: str, part: OutgoingPart) -> str:
        # A direct answer to a member goes to their open_id; everything else to a chat id.
        id_type = "open_id" if chat_id.startswith("ou_") else "chat_id"
        data = await self.call("POST", "/open-apis/im/v1/messages", queries=[("receive_id_type", id_type)],
                               body={"receive_id": chat_id, "msg_type": part.msg_type,
                                     "content": part.content_json(), "uuid": part.uuid})
        return str(data["data"]["message_id"])

    async def reply_message(self, message_id: str, part: OutgoingPart, *, in_thread: bool) -> str:
        data = await self.call("POST", "/open-apis/im/v1/messages/:message_id/reply",
                               paths={"message_id": message_id},
                               body={"msg_type": part.msg_type, "content": part.content_json(),
                                     "reply_in_thread": in_thread, "uuid": part.uuid})
        return str(data["data"]["message_id"])

    async def update_message(self, message_id: str, msg_type: str, content: dict[str, Any]) -> None:
        """Edit a sent message: PATCH for cards, PUT for text and post (Feishu allows a bounded number of edits)."""
        encoded = json.dumps(content, ensure_ascii=False)
        if msg_type == "interactive":
            await self.call("PATCH", "/open-apis/im/v1/messages/:message_id", paths={"message_id": message_id},
                            body={"content": encoded})
        else:
            await self.call("PUT", "/open-apis/im/v1/messages/:message_id", paths={"message_id": message_id},
                            body={"msg_type": msg_type, "content": encoded})

    async def add_reaction(self, message_id: str, emoji_type: str) -> str:
        data = await self.call("POST", "/open-apis/im/v1/messages/:message_id/reactions",
                               paths={"message_id": message_id},
                               body={"reaction_type": {"emoji_type": emoji_type}})
        return str(data["data"]["reaction_id"])

    async def delete_reaction(self, message_id: str, reaction_id: str) -> None:
        await self.call("DELETE", "/open-apis/im/v1/messages/:message_id/reactions/:reaction_id",
                        paths={"message_id": message_id, "reaction_id": reaction_id})

    # -- people ---------------------------------------------------------------------------------------------

    async def bot_info(self) -> BotInfo:
        data = await self.call("GET", "/open-apis/bot/v3/info")
        bot = data.get("bot") or {}
        if not bot.get("open_id"):
            raise FeishuApiError("bot info has no open_id: enable the bot ability for this app",
                                 code=-1, status=200, permanent=True)
        return BotInfo(open_id=str(bot["open_id"]), name=str(bot.get("app_name") or ""))

    async def user_name(self, open_id: str) -> str:
        """The member's display name; needs the contact:user.base:readonly scope (else error 99991672)."""
        data = await self.call("GET", "/open-apis/contact/v3/users/:user_id", paths={"user_id": open_id},
                               queries=[("user_id_type", "open_id")])
        return str(((data.get("data") or {}).get("user") or {}).get("name") or "")

    async def chat_members(self, chat_id: str) -> list[ChatMember]:
        members: list[ChatMember] = []
        page_token = ""
        while True:
            queries = [("member_id_type", "open_id"), ("page_size", "100")]
            if page_token:
                queries.append(("page_token", page_token))
            data = (await self.call("GET", "/open-apis/im/v1/chats/:chat_id/members", paths={"chat_id": chat_id},
                                    queries=queries)).get("data") or {}
            members += [ChatMember(str(item.get("member_id", "")), str(item.get("name", "")))
                        for item in data.get("items") or []]
            page_token = str(data.get("page_token") or "")
            if not data.get("has_more") or not page_token:
                return members

    # -- transport ------------------------------------------------------------------------------------------

    async def call(self, method: str, uri: str, *, paths: dict[str, str] | None = None,
                   queries: list[tuple[str, str]] | None = None, body: Any = None) -> dict[str, Any]:
        """One API call through lark-oapi; returns the decoded body, raises on any Feishu error."""
        headers = dict(_JSON_HEADERS) if body is not None else {}

        async def once() -> dict[str, Any]:
            return _checked(method, uri, await self._respond(method, uri, paths, queries, body, dict(headers)))

        return await self._fresh_token_retry(once)

    async def resource(self, message_id: str, file_key: str, kind: str) -> bytes:
        """The bytes of a file, image, recording or video a member sent (``kind``: "image" or "file")."""
        uri = "/open-apis/im/v1/messages/:message_id/resources/:file_key"

        async def once() -> bytes:
            response = await self._respond("GET", uri, {"message_id": message_id, "file_key": file_key},
                                           [("type", kind)], None, {})
            raw = response.raw
            status = int(getattr(raw, "status_code", 0) or 0)
            content_type = str((getattr(raw, "headers", None) or {}).get("Content-Type", "")
                               or (getattr(raw, "headers", None) or {}).get("content-type", ""))
            if 200 <= status < 300 and not content_type.startswith("application/json"):
                return bytes(raw.content or b"")
            _checked("GET", uri, response)  # raises with Feishu's code
            raise FeishuApiError(f"Feishu GET {uri} answered JSON instead of the file", code=-1, status=status,
                                 permanent=True)

        return await self._fresh_token_retry(once)

    async def upload(self, uri: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A multipart upload (``fields`` values: strings, or (file name, bytes, mime) for the file)."""

        async def once() -> dict[str, Any]:
            encoder = MultipartEncoder({k: (v[0], io.BytesIO(v[1]), v[2]) if isinstance(v, tuple) else v
                                        for k, v in fields.items()})
            response = await self._respond("POST", uri, None, None, encoder, {"Content-Type": encoder.content_type})
            return _checked("POST", uri, response)

        return await self._fresh_token_retry(once)

    async def _fresh_token_retry(self, once: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await once()
        except FeishuApiError as exc:
            if exc.code not in STALE_TOKEN_CODES:
                raise
            self._forget_token()
            return await once()

    async def _respond(self, method: str, uri: str, paths: dict[str, str] | None,
                       queries: list[tuple[str, str]] | None, body: Any, headers: dict[str, str]) -> Any:
        request = (
            lark.BaseRequest.builder().http_method(lark.HttpMethod[method]).uri(uri)
            .token_types({lark.AccessTokenType.TENANT}).paths(dict(paths or {})).queries(list(queries or []))
            .headers(headers).body(body).build()
        )
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout_s * 2 + 1):  # token fetch + call, each bounded by requests
                return await loop.run_in_executor(self._executor, self._client.request, request)
        except TimeoutError as exc:
            raise SendFailed(f"Feishu {method} {uri} timed out after {self._timeout_s:.0f}s") from exc
        except ObtainAccessTokenException as exc:
            code = int(getattr(exc, "code", 0) or 0)
            permanent = code in BAD_CREDENTIAL_CODES
            hint = ": check channels.feishu.app_id and app_secret" if permanent else ""
            raise FeishuApiError(f"Feishu refused the tenant token (code {code}){hint}",
                                 code=code, status=0, permanent=permanent) from exc
        except (requests.RequestException, OSError, ValueError) as exc:
            raise SendFailed(f"Feishu {method} {uri} failed: {type(exc).__name__}") from exc

    def _forget_token(self) -> None:
        TokenManager.cache.set(f"self_tenant_token:{self._app_id}", "", 0)


def _checked(method: str, uri: str, response: Any) -> dict[str, Any]:
    raw = response.raw
    status = int(getattr(raw, "status_code", 0) or 0)
    headers = {str(k).lower(): str(v) for k, v in (getattr(raw, "headers", None) or {}).items()}
    try:
        data = json.loads(raw.content or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = int(data.get("code", 0 if 200 <= status < 300 else -1) or 0)
    msg = str(data.get("msg") or "")
    if status == 429 or code in RATE_LIMIT_CODES:
        retry_after = _retry_after(headers)
        raise RateLimited(f"Feishu rate limit on {method} {uri} (code {code}, HTTP {status}): retry in "
                          f"{retry_after:.0f}s", retry_after=retry_after)
    if code != 0 or status >= 400:
        # Feishu answers business errors (bot not in chat, bad content, no permission) with HTTP 400: those
        # will fail the same way again. 5xx and unknown transport trouble may pass on a retry.
        permanent = 400 <= status < 500 and code not in STALE_TOKEN_CODES
        raise FeishuApiError(f"Feishu {method} {uri} failed: code {code}, {msg or 'no message'} (HTTP {status})",
                             code=code, status=status, permanent=permanent)
    return data


def _retry_after(headers: dict[str, str]) -> float:
    try:
        return max(float(headers[RATE_LIMIT_RESET_HEADER]), 0.0) or DEFAULT_RETRY_AFTER_S
    except (KeyError, ValueError):
        return DEFAULT_RETRY_AFTER_S
