"""A stand-in Feishu open platform on 127.0.0.1, plus a webhook pusher that encrypts and signs like Feishu.

``FakeFeishu`` is a real HTTP server in a thread speaking the open API's wire format (tenant token, bot info,
messages create/reply/update with ``uuid`` idempotency, reactions, contact users, chat members, injectable
failures) and the long-connection endpoint (``/callback/ws/endpoint`` and a websocket speaking lark's protobuf
frames). Drive it through lark-oapi by pointing the SDK's ``domain`` at ``fake.url``.
``FeishuPusher`` builds schema-2.0 ``im.message.receive_v1`` bodies and POSTs them to a webhook, encrypted
(AES-256-CBC, key sha256(encrypt_key)) and signed (``X-Lark-Signature``), with options to break each check.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import hashlib
import json
import secrets
import socket
import threading
import time
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from websockets.asyncio.server import ServerConnection, serve

from assistant.config import FeishuConfig

__all__ = ["FakeFeishu", "FeishuPusher", "SentMessage", "encrypt_body", "feishu_config", "sign_body"]

UUID_TTL_S = 3600.0
ENCRYPT_KEY = "test-encrypt-key"
VERIFICATION_TOKEN = "test-verification-token"


def feishu_config(fake: FakeFeishu, **overrides: Any) -> FeishuConfig:
    """The channel's config pointed at ``fake`` (webhook keys included; ``mode`` defaults to webhook)."""
    values: dict[str, Any] = {
        "enabled": True, "app_id": fake.app_id, "app_secret": fake.app_secret, "app_secret_env": None,
        "domain": fake.url, "mode": "webhook", "encrypt_key": ENCRYPT_KEY, "verification_token": VERIFICATION_TOKEN,
        "webhook_host": "127.0.0.1", "webhook_port": _free_port(),
    }
    values.update(overrides)
    return FeishuConfig(**values)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SentMessage:
    chat_id: str
    msg_type: str
    content: dict[str, Any]
    reply_to: str | None
    uuid: str | None
    message_id: str
    reply_in_thread: bool = False
    thread_id: str | None = None

    @property
    def text(self) -> str:
        """What a member reads: the text body, or the card's markdown."""
        if self.msg_type == "text":
            return str(self.content.get("text", ""))
        return "\n".join(str(el.get("content", "")) for el in self.content.get("elements", []))


@dataclass
class _Failure:
    path_suffix: str
    code: int | None
    http_status: int | None
    reset: float | None
    msg: str


@dataclass
class _State:
    tokens: set[str] = field(default_factory=set)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # message_id -> {chat_id, thread_id}
    by_uuid: dict[str, tuple[str, float]] = field(default_factory=dict)
    sent: list[SentMessage] = field(default_factory=list)
    edits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    reactions: dict[str, dict[str, str]] = field(default_factory=dict)  # message_id -> {reaction_id: emoji}
    reaction_log: list[tuple[str, str, str]] = field(default_factory=list)  # (action, message_id, emoji)
    users: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    resources: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # key -> (message_id, bytes)
    uploads: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # image/file key -> (name, bytes)


class FakeFeishu:
    """The open platform. Use as a context manager or call start()/stop(); ``url`` is the SDK's domain."""

    def __init__(self, *, app_id: str | None = None, app_secret: str = "fake-secret", bot_open_id: str = "ou_bot",
                 bot_name: str = "teamclaw") -> None:
        # A fresh app id per instance: lark-oapi caches tenant tokens process-wide, keyed by app id.
        self.app_id = app_id or f"cli_{secrets.token_hex(8)}"
        self.app_secret = app_secret
        self.bot_open_id = bot_open_id
        self.bot_name = bot_name
        self.contact_permission = True
        self._state = _State()
        self._lock = threading.Condition()
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ws = FakeLongConnection()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeFeishu:
        fake = self

        class Handler(_Handler):
            platform = fake

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), name="fake-feishu",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.ws.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> FakeFeishu:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._http is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # -- arranging -------------------------------------------------------------------------------------------

    def add_user(self, open_id: str, name: str) -> None:
        with self._lock:
            self._state.users[open_id] = name

    def add_member(self, chat_id: str, open_id: str, name: str) -> None:
        with self._lock:
            self._state.members.setdefault(chat_id, []).append((open_id, name))

    def note_message(self, message_id: str, chat_id: str, thread_id: str | None = None) -> None:
        """A message members posted (the pusher calls this), so replies to it know their chat."""
        with self._lock:
            self._state.messages[message_id] = {"chat_id": chat_id, "thread_id": thread_id}

    def add_resource(self, message_id: str, content: bytes, *, prefix: str = "file") -> str:
        """A file a member posts (image, file, audio, media): served at the message's resources; returns its key."""
        key = f"{prefix}_v3_{secrets.token_hex(8)}"
        with self._lock:
            self._state.resources[key] = (message_id, content)
        return key

    def uploaded(self, key: str) -> tuple[str, bytes] | None:
        """(name, bytes) of what the bot uploaded under an image_key or file_key."""
        with self._lock:
            return self._state.uploads.get(key)

    def fail_next(self, path_suffix: str, *, code: int | None = None, http_status: int | None = None,
                  reset: float | None = None, msg: str = "injected failure") -> None:
        """The next request whose path ends with ``path_suffix`` fails: code 230020, HTTP 429 (+ reset), ..."""
        with self._lock:
            self._state.failures.append(_Failure(path_suffix, code, http_status, reset, msg))

    # -- observing -------------------------------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._state.sent)

    @property
    def edits(self) -> list[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            return list(self._state.edits)

    @property
    def requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._state.requests)

    @property
    def reaction_log(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._state.reaction_log)

    def reactions_on(self, message_id: str) -> list[str]:
        with self._lock:
            return sorted(self._state.reactions.get(message_id, {}).values())

    def wait_for_sent_sync(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._state.sent) >= n, timeout):
                raise TimeoutError(f"fake Feishu got {len(self._state.sent)} messages, expected {n}")
            return list(self._state.sent)

    async def wait_for_sent(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        return await asyncio.to_thread(self.wait_for_sent_sync, n, timeout)

    # -- serving (called from the handler thread) ----------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self._state.requests.append((method, path))
            failure = next((f for f in self._state.failures if path.endswith(f.path_suffix)), None)
            if failure is not None:
                self._state.failures.remove(failure)
                return _failure_answer(failure)
            if path.startswith("/open-apis/auth/v3/"):
                return self._token(body)
            if path == "/callback/ws/endpoint":
                return self._ws_endpoint(body)
            if headers.get("authorization", "").removeprefix("Bearer ") not in self._state.tokens:
                return 400, {"code": 99991663, "msg": "Invalid access token for authorization."}, {}
            result = self._route(method, path, query, body)
            self._lock.notify_all()
            return result

    def _route(self, method: str, path: str, query: dict[str, str],
               body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = path.strip("/").split("/")
        if path == "/open-apis/bot/v3/info":
            return 200, {"code": 0, "msg": "ok", "bot": {"activate_status": 2, "app_name": self.bot_name,
                                                        "open_id": self.bot_open_id, "ip_white_list": []}}, {}
        if path == "/open-apis/im/v1/messages" and method == "POST":
            id_type = query.get("receive_id_type")
            if id_type not in ("chat_id", "open_id"):
                return 400, {"code": 230001, "msg": "receive_id_type must be chat_id or open_id here"}, {}
            if id_type == "open_id" and not str(body["receive_id"]).startswith("ou_"):
                return 400, {"code": 99992361, "msg": "open_id cross app"}, {}
            # A message to an open_id lands in the one-to-one chat with that user; recorded under the open_id.
            return self._post_message(body["receive_id"], body, reply_to=None)
        if parts[:4] == ["open-apis", "im", "v1", "messages"] and len(parts) >= 5:
            message_id = parts[4]
            if len(parts) == 6 and parts[5] == "reply" and method == "POST":
                known = self._state.messages.get(message_id)
                if known is None:
                    return 400, {"code": 230011, "msg": "The message was withdrawn."}, {}
                return self._post_message(known["chat_id"], body, reply_to=message_id)
            if len(parts) == 5 and method in ("PUT", "PATCH"):
                msg_type = body.get("msg_type", "interactive")
                self._state.edits.append((message_id, msg_type, json.loads(body["content"])))
                return 200, {"code": 0, "msg": "success", "data": {}}, {}
            if len(parts) >= 6 and parts[5] == "reactions":
                return self._reaction(method, message_id, parts[6] if len(parts) > 6 else None, body)
            if len(parts) == 7 and parts[5] == "resources" and method == "GET":
                return self._resource(message_id, parts[6], query.get("type", ""))
        if path in ("/open-apis/im/v1/images", "/open-apis/im/v1/files") and method == "POST":
            return self._upload(path.rsplit("/", 1)[1], body)
        if parts[:4] == ["open-apis", "contact", "v3", "users"] and len(parts) == 5:
            if not self.contact_permission:
                return 400, {"code": 99991672, "msg": "Access denied. One of the following scopes is required: "
                                                     "[contact:user.base:readonly]"}, {}
            name = self._state.users.get(parts[4])
            if name is None or query.get("user_id_type") != "open_id":
                return 400, {"code": 41050, "msg": "no user authority error"}, {}
            return 200, {"code": 0, "msg": "success", "data": {"user": {"open_id": parts[4], "name": name}}}, {}
        if parts[:4] == ["open-apis", "im", "v1", "chats"] and len(parts) == 6 and parts[5] == "members":
            items = [{"member_id": oid, "member_id_type": "open_id", "name": name, "tenant_key": "t"}
                     for oid, name in self._state.members.get(parts[4], [])]
            return 200, {"code": 0, "msg": "success", "data": {"items": items, "has_more": False,
                                                                "page_token": "", "member_total": len(items)}}, {}
        return 404, {"code": 404, "msg": f"no route {method} {path}"}, {}

    def _resource(self, message_id: str, key: str, kind: str) -> tuple[int, Any, dict[str, str]]:
        found = self._state.resources.get(key)
        if kind not in ("image", "file"):
            return 400, {"code": 234001, "msg": "Invalid request param: type"}, {}
        if found is None or found[0] != message_id:
            return 400, {"code": 234003, "msg": "File not in msg."}, {}
        return 200, found[1], {"Content-Type": "application/octet-stream"}

    def _upload(self, what: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        field_name = "image" if what == "images" else "file"
        upload = body.get(field_name)
        if not isinstance(upload, tuple):
            return 400, {"code": 234001, "msg": f"Invalid request param: {field_name} is missing"}, {}
        if what == "images" and body.get("image_type") != "message":
            return 400, {"code": 234001, "msg": "Invalid request param: image_type"}, {}
        if what == "files" and not body.get("file_type"):
            return 400, {"code": 234001, "msg": "Invalid request param: file_type"}, {}
        key = f"{'img' if what == 'images' else 'file'}_v3_{secrets.token_hex(8)}"
        self._state.uploads[key] = (str(body.get("file_name") or upload[0]), upload[1])
        return 200, {"code": 0, "msg": "success", "data": {f"{field_name}_key": key}}, {}

    def _token(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return 200, {"code": 10014, "msg": "app secret invalid"}, {}
        token = f"t-{secrets.token_hex(12)}"
        self._state.tokens.add(token)
        return 200, {"code": 0, "msg": "ok", "tenant_access_token": token, "app_access_token": token,
                     "expire": 7200}, {}

    def _post_message(self, chat_id: str, body: dict[str, Any],
                      reply_to: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        uuid = body.get("uuid") or None
        now = time.monotonic()
        if uuid and uuid in self._state.by_uuid and now - self._state.by_uuid[uuid][1] < UUID_TTL_S:
            message_id = self._state.by_uuid[uuid][0]
            return 200, {"code": 0, "msg": "success", "data": self._message_data(message_id)}, {}
        message_id = f"om_{secrets.token_hex(10)}"
        in_thread = bool(body.get("reply_in_thread"))
        parent = self._state.messages.get(reply_to or "") or {}
        thread_id = parent.get("thread_id") or (f"omt_{secrets.token_hex(6)}" if in_thread else None)
        self._state.messages[message_id] = {"chat_id": chat_id, "thread_id": thread_id,
                                            "msg_type": body["msg_type"], "parent_id": reply_to}
        if uuid:
            self._state.by_uuid[uuid] = (message_id, now)
        self._state.sent.append(SentMessage(chat_id=chat_id, msg_type=body["msg_type"],
                                            content=json.loads(body["content"]), reply_to=reply_to, uuid=uuid,
                                            message_id=message_id, reply_in_thread=in_thread, thread_id=thread_id))
        return 200, {"code": 0, "msg": "success", "data": self._message_data(message_id)}, {}

    def _message_data(self, message_id: str) -> dict[str, Any]:
        known = self._state.messages[message_id]
        return {"message_id": message_id, "chat_id": known["chat_id"], "thread_id": known.get("thread_id"),
                "parent_id": known.get("parent_id"), "msg_type": known.get("msg_type"),
                "create_time": str(int(time.time() * 1000)),
                "sender": {"id": self.app_id, "id_type": "app_id", "sender_type": "app"}}

    def _reaction(self, method: str, message_id: str, reaction_id: str | None,
                  body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        on_message = self._state.reactions.setdefault(message_id, {})
        if method == "POST":
            emoji = body["reaction_type"]["emoji_type"]
            new_id = f"r_{secrets.token_hex(6)}"
            on_message[new_id] = emoji
            self._state.reaction_log.append(("add", message_id, emoji))
            return 200, {"code": 0, "msg": "success", "data": {"reaction_id": new_id,
                                                                "reaction_type": {"emoji_type": emoji}}}, {}
        if method == "DELETE" and reaction_id in on_message:
            emoji = on_message.pop(reaction_id)
            self._state.reaction_log.append(("remove", message_id, emoji))
            return 200, {"code": 0, "msg": "success", "data": {"reaction_id": reaction_id}}, {}
        return 400, {"code": 231001, "msg": "reaction not found"}, {}

    def _ws_endpoint(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret or self.ws.refuse:
            return 200, {"code": 403, "msg": "this app may not open a long connection"}, {}
        url = self.ws.ensure_started()
        return 200, {"code": 0, "msg": "ok", "data": {"URL": f"{url}?device_id=d{secrets.token_hex(4)}&service_id=1",
                                                      "ClientConfig": {"ReconnectCount": -1, "ReconnectInterval": 1,
                                                                       "ReconnectNonce": 0, "PingInterval": 120}}}, {}


def _failure_answer(failure: _Failure) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"x-ogw-ratelimit-reset": str(failure.reset)} if failure.reset is not None else {}
    status = failure.http_status or 400
    code = failure.code if failure.code is not None else (99991400 if status == 429 else 1)
    return status, {"code": code, "msg": failure.msg}, headers


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart body as fields: plain values as strings, files as (file name, bytes)."""
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    fields: dict[str, Any] = {}
    for part in parsed.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = bytes(part.get_payload(decode=True) or b"")  # type: ignore[arg-type]
        filename = part.get_filename()
        fields[name] = (filename, payload) if filename is not None else payload.decode()
    return fields


class _Handler(BaseHTTPRequestHandler):
    platform: FakeFeishu
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("content-type") or ""
        body: dict[str, Any]
        if content_type.startswith("multipart/form-data"):
            body = _multipart(content_type, raw)
        else:
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, extra = self.platform.handle(self.command, split.path, query, headers, body)
        payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        if "Content-Type" not in extra:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


# -- the long connection ------------------------------------------------------------------------------------

_FRAME_CONTROL, _FRAME_DATA = 0, 1


class FakeLongConnection:
    """Feishu's websocket side: sends event frames, records acks, answers pings unless told to go silent."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._url = ""
        self._ready = threading.Event()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.connection_count = 0
        self.silent = False
        self.refuse = False  # the endpoint answers 403, as for an app without long-connection events
        self._changed = threading.Condition()

    def ensure_started(self) -> str:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fake-feishu-ws", daemon=True)
            self._thread.start()
            self._ready.wait(5)
        return self._url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(5)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        stop = self._stop_event = asyncio.Event()
        async with serve(self._session, "127.0.0.1", 0, ping_interval=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self._url = f"ws://127.0.0.1:{port}/ws"
            self._ready.set()
            await stop.wait()

    async def _session(self, connection: ServerConnection) -> None:
        with self._changed:
            self._connections.append(connection)
            self.connection_count += 1
            self._changed.notify_all()
        async for message in connection:
            frame = Frame()
            frame.ParseFromString(message if isinstance(message, bytes) else message.encode())
            headers = {h.key: h.value for h in frame.headers}
            if frame.method == _FRAME_CONTROL and headers.get("type") == "ping" and not self.silent:
                pong = Frame(SeqID=0, LogID=0, service=frame.service, method=_FRAME_CONTROL)
                pong.headers.add(key="type", value="pong")
                await connection.send(pong.SerializeToString())
            elif frame.method == _FRAME_DATA:
                future = self._acks.pop(headers.get("message_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(frame.payload or b"{}"))

    def wait_for_connections(self, n: int, timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.connection_count >= n, timeout):
                raise TimeoutError(f"{self.connection_count} long connections, expected {n}")

    async def push(self, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send one event frame on the newest connection; returns the client's ack payload ({"code": 200, ...})."""
        assert self._loop is not None, "no client has connected yet"
        future = asyncio.run_coroutine_threadsafe(self._push(body), self._loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    async def _push(self, body: dict[str, Any]) -> dict[str, Any]:
        frame_id = secrets.token_hex(8)
        frame = Frame(SeqID=1, LogID=1, service=1, method=_FRAME_DATA, payload=json.dumps(body).encode())
        for key, value in (("type", "event"), ("message_id", frame_id), ("trace_id", frame_id), ("sum", "1"),
                           ("seq", "0")):
            frame.headers.add(key=key, value=value)
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[frame_id] = ack
        await self._connections[-1].send(frame.SerializeToString())
        return await ack


# -- the webhook pusher -------------------------------------------------------------------------------------


def encrypt_body(plaintext: bytes, encrypt_key: str) -> str:
    """Feishu's encryption: base64(iv16 + AES-256-CBC(PKCS7(plaintext))) with key sha256(encrypt_key)."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = secrets.token_bytes(16)
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(pad(plaintext, 16))).decode()


def sign_body(timestamp: str, nonce: str, encrypt_key: str, raw: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + raw).hexdigest()


class FeishuPusher:
    """Posts events to a webhook the way Feishu does. ``platform`` (optional) learns each pushed message."""

    def __init__(self, url: str, encrypt_key: str, verification_token: str, *, app_id: str = "cli_test",
                 platform: FakeFeishu | None = None) -> None:
        self.url = url
        self.encrypt_key = encrypt_key
        self.verification_token = verification_token
        self.app_id = app_id
        self.platform = platform

    def message_event(self, *, chat_id: str, sender: str, text: str = "", message_type: str = "text",
                      content: dict[str, Any] | None = None, mentions: Iterable[tuple[str, str]] = (),
                      chat_type: str = "group", parent_id: str = "", root_id: str = "", thread_id: str = "",
                      message_id: str | None = None, event_id: str | None = None) -> dict[str, Any]:
        """A schema-2.0 ``im.message.receive_v1`` body. Mentions become ``@_user_N`` keys, in order; write them
        into ``text`` as placeholders (``"@_user_1 hello"``)."""
        message_id = message_id or f"om_{secrets.token_hex(10)}"
        if self.platform is not None:
            self.platform.note_message(message_id, chat_id, thread_id or None)
        now_ms = str(int(time.time() * 1000))
        message: dict[str, Any] = {
            "message_id": message_id, "root_id": root_id, "parent_id": parent_id, "create_time": now_ms,
            "update_time": now_ms, "chat_id": chat_id, "chat_type": chat_type, "message_type": message_type,
            "content": json.dumps(content if content is not None else {"text": text}, ensure_ascii=False),
            "mentions": [{"key": f"@_user_{i}", "id": {"open_id": oid, "union_id": f"on_{oid}", "user_id": ""},
                          "name": name, "tenant_key": "tenant"} for i, (oid, name) in enumerate(mentions, 1)],
            "user_agent": "Mozilla/5.0 Lark/7.0",
        }
        if thread_id:
            message["thread_id"] = thread_id
        return {
            "schema": "2.0",
            "header": {"event_id": event_id or uuidlib.uuid4().hex, "event_type": "im.message.receive_v1",
                       "create_time": now_ms, "token": self.verification_token, "app_id": self.app_id,
                       "tenant_key": "tenant"},
            "event": {"sender": {"sender_id": {"open_id": sender, "union_id": f"on_{sender}", "user_id": ""},
                                 "sender_type": "user", "tenant_key": "tenant"},
                      "message": message},
        }

    async def push(self, body: dict[str, Any], *, forge_signature: bool = False, token: str | None = None,
                   timestamp: int | None = None, raw: bytes | None = None, sign: bool = True,
                   encrypt_key: str | None = None) -> httpx.Response:
        """POST ``body`` as Feishu would; each keyword breaks one thing (or ``raw`` replaces the whole body)."""
        if token is not None:
            body = json.loads(json.dumps(body))
            if "header" in body:
                body["header"]["token"] = token
            else:
                body["token"] = token
        key = self.encrypt_key if encrypt_key is None else encrypt_key
        if raw is None:
            plaintext = json.dumps(body, ensure_ascii=False).encode()
            raw = json.dumps({"encrypt": encrypt_body(plaintext, key)}).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(8)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if sign:
            signature = sign_body(stamp, nonce, self.encrypt_key, raw)
            if forge_signature:
                signature = sign_body(stamp, nonce, "not-the-key", raw)
            headers.update({"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
                            "X-Lark-Signature": signature})
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(self.url, content=raw, headers=headers)

    async def url_verification(self, challenge: str, *, token: str | None = None) -> httpx.Response:
        body = {"challenge": challenge, "token": token or self.verification_token, "type": "url_verification"}
        return await self.push(body, sign=False)
