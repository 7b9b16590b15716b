"""A scripted model endpoint on 127.0.0.1: OpenAI Chat Completions and Anthropic Messages over real HTTP.

Replies come from a queue (``enqueue_*``), else from ``responder(body)``, else "ok". Each request is recorded.
Usage figures are realistic: tokens are characters / 4, and ``cached_tokens`` is the longest prompt prefix
(tools, system, earliest messages, serialized as sent) shared with an earlier request, so a test or benchmark
sees at once when the prompt prefix stops being byte-stable.

    with ScriptedModelServer() as server:
        server.enqueue_tool_call("memory_search", {"query": "locker"})
        server.enqueue_text("Your locker code is in your private notes.")
        ...  # point a provider at server.openai_base_url or server.anthropic_base_url
"""

from __future__ import annotations

import bisect
import email.parser
import email.policy
import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

__all__ = ["RecordedRequest", "ScriptedModelServer", "ScriptedReply", "ScriptedToolCall"]

# Real caches evict too; bounding the comparison keeps a long benchmark linear.
PREFIX_HISTORY = 512
STREAM_PIECE_CHARS = 8


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any] | str  # a str is sent verbatim, so it may be malformed JSON
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One scripted answer. ``kind`` picks the behaviour; the other fields are its parameters."""

    kind: Literal["reply", "fault", "malformed", "truncated"] = "reply"
    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    delay_s: float = 0.0  # wait this long before answering (released at once by stop())
    status: int = 200
    retry_after: float | None = None
    body: str | dict[str, Any] | None = None  # a fault's body; None means a wire-format error object


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]
    time: float  # time.monotonic() when the request arrived


Responder = Callable[[dict[str, Any]], "str | ScriptedReply | None"]


def _content_text(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            for key in ("text", "content"):
                out.extend(_content_text(block.get(key)))
            if "input" in block:
                out.append(json.dumps(block["input"], ensure_ascii=False))
    return out


def _texts(body: dict[str, Any]) -> list[str]:
    """Every piece of text a request carries: system, message contents, tool calls and tool results."""
    out = _content_text(body.get("system"))
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        out.extend(_content_text(message.get("content")))
        for call in message.get("tool_calls") or ():
            out.append(str((call.get("function") or {}).get("arguments", "")))
    return out


def _prompt_key(body: dict[str, Any]) -> str:
    """The prompt in cache order (tools, system, messages), serialized exactly as the client ordered it."""
    parts = [json.dumps(body.get("tools"), ensure_ascii=False, separators=(",", ":"))]
    if "system" in body:
        parts.append(json.dumps(body["system"], ensure_ascii=False, separators=(",", ":")))
    parts.extend(json.dumps(m, ensure_ascii=False, separators=(",", ":")) for m in body.get("messages") or ())
    return "\n".join(parts)


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix by binary search on slice equality (C-speed compares, log n of them)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _PromptHistory:
    """The last ``size`` prompts, also kept sorted. The longest prefix a new prompt shares with any of them is
    shared with one of its two neighbours in sorted order, so a lookup costs two comparisons, not one a prompt
    (a comparison against each of 512 prompts took about 9 ms a request, which the benchmarks counted as ours)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._order: deque[str] = deque()
        self._sorted: list[str] = []

    def longest_shared(self, key: str) -> int:
        at = bisect.bisect_left(self._sorted, key)
        return max((_common_prefix(key, self._sorted[i]) for i in (at - 1, at) if 0 <= i < len(self._sorted)),
                   default=0)

    def add(self, key: str) -> None:
        if self._order and self._order[-1] == key:
            return
        if len(self._order) == self._size:
            oldest = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._order.append(key)
        bisect.insort(self._sorted, key)


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)


class ScriptedModelServer:
    """Start with ``start()`` or ``with``; stop with ``stop()``. All methods are safe from any thread."""

    def __init__(self, responder: Responder | None = None, *, prefix_history: int = PREFIX_HISTORY) -> None:
        self.responder: Responder = responder or (lambda body: None)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: deque[ScriptedReply] = deque()
        self._requests: list[RecordedRequest] = []
        self._prompts = _PromptHistory(prefix_history)
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Speech to text (/v1/audio/transcriptions): answers from this queue, else ``transcript``.
        self._transcripts: deque[str] = deque()
        self.transcript = "(no speech)"
        self._audio: list[tuple[str, str, bytes]] = []  # (model, file name, bytes) of each transcription asked

    # lifecycle

    def start(self) -> ScriptedModelServer:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._stopping.clear()
        # A short poll interval keeps stop() (and so every fixture teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="scripted-model-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not started: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # script

    def enqueue(self, reply: ScriptedReply) -> None:
        with self._lock:
            self._queue.append(reply)

    def enqueue_text(self, text: str) -> None:
        self.enqueue(ScriptedReply(text=text))

    def enqueue_tool_call(self, name: str, arguments: dict[str, Any] | str, call_id: str | None = None) -> None:
        self.enqueue(ScriptedReply(tool_calls=(ScriptedToolCall(name, arguments, call_id),)))

    def enqueue_fault(
        self, status: int, retry_after: float | None = None, body: str | dict[str, Any] | None = None
    ) -> None:
        self.enqueue(ScriptedReply(kind="fault", status=status, retry_after=retry_after, body=body))

    def enqueue_slow(self, seconds: float, then_text: str) -> None:
        self.enqueue(ScriptedReply(text=then_text, delay_s=seconds))

    def enqueue_malformed(self) -> None:
        self.enqueue(ScriptedReply(kind="malformed"))

    def enqueue_truncated(self) -> None:
        self.enqueue(ScriptedReply(kind="truncated"))

    def enqueue_transcript(self, text: str) -> None:
        with self._lock:
            self._transcripts.append(text)

    @property
    def transcriptions(self) -> list[tuple[str, str, bytes]]:
        """(model, file name, audio bytes) of every transcription request, in order."""
        with self._lock:
            return list(self._audio)

    def image_parts(self) -> list[tuple[str, str]]:
        """Every image each request carried, as (wire format, data URL or media type + base64 head): OpenAI
        ``image_url`` parts and Anthropic ``image`` blocks alike."""
        found: list[tuple[str, str]] = []
        for request in self.requests:
            for message in request.body.get("messages") or ():
                content = message.get("content") if isinstance(message, dict) else None
                for part in content if isinstance(content, list) else ():
                    if not isinstance(part, dict):
                        continue
                    if part.get("type") == "image_url":
                        found.append(("openai", str((part.get("image_url") or {}).get("url", ""))))
                    elif part.get("type") == "image":
                        source = part.get("source") or {}
                        found.append(("anthropic", f"data:{source.get('media_type')};base64,{source.get('data')}"))
        return found

    def _transcribe(self, model: str, name: str, audio: bytes) -> str:
        with self._lock:
            self._audio.append((model, name, audio))
            return self._transcripts.popleft() if self._transcripts else self.transcript

    # what was received

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def all_text(self) -> str:
        """Every text every request carried, joined: for "this never left the machine" assertions."""
        return "\n".join(t for r in self.requests for t in _texts(r.body))

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``n`` requests have arrived; AssertionError after ``timeout`` seconds. From async code
        use ``await asyncio.to_thread(server.wait_for_requests, n)``."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= n, timeout=timeout):
                raise AssertionError(f"the model stand-in saw {len(self._requests)} of {n} requests in {timeout} s")
            return list(self._requests)

    # serving (called on handler threads)

    def _record(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[ScriptedReply, int, int]:
        """Record the request and pick its reply; returns (reply, prompt tokens, cached tokens)."""
        key = _prompt_key(body)
        with self._lock:
            self._requests.append(RecordedRequest(path, headers, body, time.monotonic()))
            self._arrived.notify_all()
            cached = self._prompts.longest_shared(key)
            self._prompts.add(key)
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            answer = self.responder(body)
            reply = ScriptedReply(text=answer) if isinstance(answer, str) else answer or ScriptedReply(text="ok")
        return reply, _tokens(len(key)), _tokens(cached)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _wait(self, seconds: float) -> bool:
        """Wait out a slow reply; False when stop() cut it short."""
        return not self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler parked in a slow reply must not hold up stop()
    request_queue_size = 256  # the default backlog of 5 drops connections when 100 clients arrive at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is part of the script (timeouts), not a failure


# wire formats


def _call_id(call: ScriptedToolCall, n: int, prefix: str) -> str:
    return call.call_id or f"{prefix}{n}"


def _arguments_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _openai_body(reply: ScriptedReply, model: str, n: int, prompt: int, cached: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(c, i + n, "call_"),
                "type": "function",
                "function": {"name": c.name, "arguments": _arguments_text(c.arguments)},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
    completion = _tokens(len(reply.text) + sum(len(_arguments_text(c.arguments)) for c in reply.tool_calls)) or 1
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _openai_events(reply: ScriptedReply, model: str, n: int) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return json.dumps(
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    for start in range(0, len(reply.text), STREAM_PIECE_CHARS):
        yield chunk({"content": reply.text[start : start + STREAM_PIECE_CHARS]})
    for i, call in enumerate(reply.tool_calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": _call_id(call, i + n, "call_"),
                        "type": "function",
                        "function": {"name": call.name, "arguments": _arguments_text(call.arguments)},
                    }
                ]
            }
        )
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    yield "[DONE]"


def _anthropic_input(arguments: dict[str, Any] | str) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _anthropic_body(reply: ScriptedReply, model: str, n: int, prompt: int, cached: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    content.extend(
        {
            "type": "tool_use",
            "id": _call_id(c, i + n, "toolu_"),
            "name": c.name,
            "input": _anthropic_input(c.arguments),
        }
        for i, c in enumerate(reply.tool_calls)
    )
    completion = _tokens(len(reply.text) + sum(len(_arguments_text(c.arguments)) for c in reply.tool_calls)) or 1
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt - cached,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
            "output_tokens": completion,
        },
    }


def _anthropic_events(reply: ScriptedReply, model: str, n: int, prompt: int, cached: int) -> Iterator[str]:
    yield json.dumps(
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{n}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "usage": {
                    "input_tokens": prompt - cached,
                    "cache_read_input_tokens": cached,
                    "output_tokens": 1,
                },
            },
        }
    )
    yield json.dumps({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    yield json.dumps({"type": "ping"})
    for start in range(0, len(reply.text), STREAM_PIECE_CHARS):
        yield json.dumps(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": reply.text[start : start + STREAM_PIECE_CHARS]},
            }
        )
    yield json.dumps({"type": "content_block_stop", "index": 0})
    yield json.dumps(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": _tokens(len(reply.text)) or 1},
        }
    )
    yield json.dumps({"type": "message_stop"})


def _fault_body(reply: ScriptedReply, anthropic: bool) -> bytes:
    if isinstance(reply.body, str):
        return reply.body.encode()
    if isinstance(reply.body, dict):
        return json.dumps(reply.body).encode()
    message = f"scripted fault {reply.status}"
    if anthropic:
        kind = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(
            reply.status, "api_error"
        )
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    return json.dumps({"error": {"message": message, "type": "server_error", "code": None}}).encode()


def _handler_for(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do; streams close their connection
        # Without this, a keep-alive response waits for the client's delayed ACK (about 40 ms a request).
        disable_nagle_algorithm = True
        timeout = 30  # an idle keep-alive connection frees its thread after this

        def log_message(self, format: str, *args: Any) -> None:  # the stand-in is quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/").endswith("/audio/transcriptions"):
                self._transcription(raw)
                return
            anthropic = self.path.rstrip("/").endswith("/v1/messages")
            if not anthropic and not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "no such endpoint"}}')
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, b'{"error": {"message": "request body is not JSON"}}')
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply, prompt, cached = server._record(self.path, headers, body)
            if reply.delay_s and not server._wait(reply.delay_s):
                self.close_connection = True  # stopping: drop the connection unanswered
                return
            try:
                self._answer(reply, body, anthropic, prompt, cached)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def _transcription(self, raw: bytes) -> None:
            content_type = self.headers.get("Content-Type") or ""
            if not content_type.startswith("multipart/form-data"):
                self._send(400, b'{"error": {"message": "send multipart/form-data"}}')
                return
            parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
            fields: dict[str, Any] = {}
            for part in parsed.iter_parts():
                name = str(part.get_param("name", header="content-disposition"))
                payload = bytes(part.get_payload(decode=True) or b"")  # type: ignore[arg-type]
                filename = part.get_filename()
                fields[name] = (filename, payload) if filename is not None else payload.decode()
            upload = fields.get("file")
            if not isinstance(upload, tuple) or not fields.get("model"):
                self._send(400, b'{"error": {"message": "file and model are required"}}')
                return
            text = server._transcribe(str(fields["model"]), str(upload[0]), upload[1])
            self._send(200, json.dumps({"text": text}).encode())

        def _answer(
            self, reply: ScriptedReply, body: dict[str, Any], anthropic: bool, prompt: int, cached: int
        ) -> None:
            n = server._next_id()
            model = str(body.get("model", "scripted"))
            if reply.kind == "fault":
                extra = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else {}
                self._send(reply.status, _fault_body(reply, anthropic), extra)
            elif reply.kind == "malformed":
                self._send(200, b'{"id": "broken", "choices": [ {"message": ')
            elif reply.kind == "truncated":
                data = json.dumps(_openai_body(reply, model, n, prompt, cached)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
            elif body.get("stream"):
                events = (
                    _anthropic_events(reply, model, n, prompt, cached) if anthropic else _openai_events(reply, model, n)
                )
                self._send_stream(events, anthropic)
            else:
                answer = (_anthropic_body if anthropic else _openai_body)(reply, model, n, prompt, cached)
                self._send(200, json.dumps(answer).encode())

        def _send(self, status: int, data: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_stream(self, events: Iterator[str], anthropic: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")  # the body ends when the connection does
            self.end_headers()
            for event in events:
                name = json.loads(event).get("type") if anthropic else None
                prefix = f"event: {name}\n" if name else ""
                self.wfile.write(f"{prefix}data: {event}\n\n".encode())
                self.wfile.flush()
            self.close_connection = True

    return Handler
