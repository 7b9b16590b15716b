"""The HTTP side of the stand-in Bot API: routes /bot<TOKEN>/<method> and /file/bot<TOKEN>/<path>, decodes
parameters the three ways PTB sends them (form-urlencoded with nested JSON strings, JSON, multipart) and writes
Telegram's answer envelopes ({"ok": true, "result": ...} or {"ok": false, "error_code": ..., "description": ...}).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

__all__ = ["BotApi", "BotApiError", "handler_for"]

_JSON_PARAMS = {
    "reply_parameters", "entities", "caption_entities", "reply_markup", "allowed_updates", "link_preview_options",
    "reaction", "media",
}
_INT_PARAMS = {"message_id", "message_thread_id", "offset", "limit", "timeout", "reply_to_message_id"}


class BotApiError(Exception):
    """One of Telegram's error answers: HTTP status = error_code, with optional ``parameters``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class BotApi(Protocol):
    """What the HTTP layer needs from the stand-in's state."""

    token: str

    def handle(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any: ...

    def file_content(self, path: str) -> bytes | None: ...


def _decode_params(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    files: dict[str, tuple[str, bytes]] = {}
    raw: dict[str, Any] = {}
    if not body:
        return {}, files
    if content_type.startswith("application/json"):
        return json.loads(body), files
    if content_type.startswith("multipart/form-data"):
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[str(name)] = (filename, bytes(payload))  # type: ignore[arg-type]
            else:
                raw[str(name)] = bytes(payload).decode()  # type: ignore[arg-type]
    else:
        raw = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    return {name: _coerce(name, value) for name, value in raw.items()}, files


def _coerce(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _JSON_PARAMS:
        return json.loads(value)
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def handler_for(fake: BotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds ~40 ms to each call.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def handle(self) -> None:
            try:
                super().handle()
            except (ConnectionResetError, BrokenPipeError):
                pass  # the client died mid-request (a killed daemon): there is no one to answer

        def do_GET(self) -> None:
            path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)  # PTB sends the token's ":" as %3A
            prefix = f"/file/bot{fake.token}/"
            if path.startswith("/file/bot"):
                content = fake.file_content(path[len(prefix):]) if path.startswith(prefix) else None
                if content is None:
                    self._answer(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
                else:
                    self._answer(200, content, "application/octet-stream")
                return
            self._api(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._api(self.rfile.read(length))

        def _api(self, body: bytes) -> None:
            parsed = urllib.parse.urlparse(self.path)
            match = re.fullmatch(r"/bot(?P<token>[^/]*)/(?P<method>\w+)", urllib.parse.unquote(parsed.path))
            if match is None:
                self._answer(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
                return
            if match.group("token") != fake.token:
                self._answer(401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')
                return
            try:
                params, files = _decode_params(self.headers.get("Content-Type", ""), body)
                params.update({k: _coerce(k, v) for k, v in urllib.parse.parse_qsl(parsed.query)})
                result = fake.handle(match.group("method"), params, files)
            except BotApiError as exc:
                error: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
                if exc.parameters:
                    error["parameters"] = exc.parameters
                self._answer(exc.code, json.dumps(error).encode())
                return
            except (ValueError, KeyError) as exc:
                self._answer(400, json.dumps({"ok": False, "error_code": 400,
                                              "description": f"Bad Request: {exc}"}).encode())
                return
            self._answer(200, json.dumps({"ok": True, "result": result}).encode())

        def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on a long poll (a stopped adapter): nothing to answer

    return Handler
