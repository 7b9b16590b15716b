"""The memory store: SQLite rows (with FTS5) are the truth, chroma holds their vectors; every method takes the
member scope and reads or writes only inside it. The agent calls ``context_block`` each turn and ``observe_turn``
after it; tools and commands call ``recall``, ``remember`` and ``forget``.

Write order (crash-safe): the row is committed with ``vector_state = pending``, then the vector is upserted,
then the row is marked ``synced``. ``repair()`` at start embeds pending rows and drops vectors without a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, select, text, update

from assistant.config import MemoryConfig
from assistant.errors import MemoryError_, ScopeError
from assistant.messages import MemberScope, utcnow
from assistant.sensitivity import Judge
from assistant.storage.db import Database
from memory import records as rec
from memory.consolidate import ConsolidationReport
from memory.extract import Extracted, extract_facts, model_facts, subject_key
from memory.profile import infer_profile, load_profile, render_profile, set_field
from memory.records import NewRecord, Window
from memory.render import MemoryBlock, render_block
from memory.retrieve import Recalled, focus_of, fuse, rank, weigh, without_words
from memory.scopes import (
    Placement,
    Visibility,
    can_delete,
    place_key,
    placement,
    readable_chroma,
    readable_places,
    readable_sql,
)
from memory.tables import MemoryProfileField, MemoryRecord, create_fts
from memory.textproc import fts_query, normalize
from memory.timerange import parse_calendar_period, parse_time_range

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from memory.embed import Embedder
    from memory.vector_reuse import VectorReuse
    from memory.vectors import VectorHit, VectorIndex

    # Rows of one chunk by id (text, chroma place, chroma metadata), their ids in order, their vectors.
    _Embedded = tuple[dict[int, tuple[str, tuple[int, str], dict[str, Any]]], list[int], np.ndarray]

__all__ = ["MemoryStore"]

log = logging.getLogger(__name__)

KEYWORD_CANDIDATES = 50
VECTOR_CANDIDATES = 50
SYNC_BATCH = 256
# A vector hit this close (cosine distance on centred e5 vectors) counts as relevant for the automatic context
# block even without a keyword match; farther hits only fill tool searches.
CONTEXT_MAX_DISTANCE = 0.75
DEFER_BATCH_S = 0.25
SPEAKERS_TTL_S = 300.0
FEEDBACK_SEEDS = 3  # best records whose vectors steer a second vector query (0: one query only)
FEEDBACK_WEIGHT = 0.4


def _vector_failures() -> tuple[type[BaseException], ...]:
    """What a vector operation may raise. chromadb is imported only once vectors are opened (its import costs a
    one-shot process a third of a second and 70 MB), so its error type joins only then."""
    chroma = sys.modules.get("chromadb.errors")
    return (MemoryError_, OSError, ValueError, RuntimeError, *((chroma.ChromaError,) if chroma else ()))


def _place(row: MemoryRecord) -> tuple[int, str]:
    return row.id, place_key(row.visibility, row.owner_member_id, row.group_key)


def _chroma_meta(row: MemoryRecord) -> dict[str, Any]:
    return {
        "visibility": row.visibility, "owner": row.owner_member_id, "group": row.group_key or "",
        "said_at": int(row.said_at.timestamp()), "kind": row.kind,
        "speaker_member": row.speaker_member_id if row.speaker_member_id is not None else -1,
    }


class MemoryStore:
    """Owns the embedder and the vector index; shares the ``Database`` it is given (the caller closes that)."""

    def __init__(self, config: MemoryConfig, db: Database, embedder: Embedder | None,
                 vectors: VectorIndex | None, judge: Judge | None = None) -> None:
        self.config = config
        self.db = db
        self.embedder = embedder
        self.vectors = vectors
        # Every record's sensitivity verdict, at the router's settings (routing.privacy_threshold and
        # routing.privacy_embeddings: the daemon and the CLI pass them; the defaults otherwise).
        self.judge = judge or Judge()
        self.fts = db.is_sqlite
        self._write_lock = asyncio.Lock()
        # Vectors of records written on a turn's path are embedded here, in batches, off that path: the record is
        # in SQLite (and the keyword index) at once; its vector follows within a moment (pending until then, so
        # a crash in between is repaired at start).
        self._deferred: list[int] = []
        self._deferred_drops: list[tuple[int, str]] = []
        self._deferred_ready = asyncio.Event()
        self._deferred_task: asyncio.Task[None] | None = None
        # One flush at a time; embedding itself runs outside ``_write_lock`` so writes (the next ingest batch, a
        # turn's journal) go on while the model works.
        self._flush_lock = asyncio.Lock()
        self._indexer: ThreadPoolExecutor | None = None  # the deferred embedding's thread, started on first use
        # Vectors of texts embedded while ``bulk_ingest`` is open (a bulk ingest), so a repeated text is
        # embedded once.
        self._reuse: VectorReuse | None = None
        self._reuse_users = 0
        # Speaker names readable by a set of places (lower case), to tell a person named in a question from its
        # other words; read on first use per set of places, kept current by ``remember_many`` and read again
        # after SPEAKERS_TTL_S (another process, a CLI ingest, may have added speakers).
        self._speakers: dict[tuple[str, ...], tuple[float, set[str]]] = {}

    @classmethod
    async def open(cls, config: MemoryConfig, db: Database, data_dir: Path, *, chroma_url: str = "",
                   embedder: Embedder | None = None, judge: Judge | None = None) -> MemoryStore:
        """Open (and repair) the store. ``embedder`` overrides ``config.embedder``; with embedder "none" only
        keyword search runs. A vector index built by another model is emptied and re-embedded here. ``judge``
        gives records their sensitivity verdicts (``Judge.for_routing(config.routing)`` for the router's
        settings)."""
        vector_dir = Path(str(data_dir)) / "vectors"
        if vector_dir.parts and vector_dir.parts[0].startswith("~"):
            vector_dir = await asyncio.to_thread(vector_dir.expanduser)
        if embedder is None and config.embedder != "none":
            from memory.embed import build_embedder  # numpy and the model: not for keyword-only memory (a one-shot)

            embedder = await asyncio.to_thread(build_embedder, config, vector_dir)
        vectors = None
        if embedder is not None:
            index_embedder = embedder
            try:
                try:
                    from memory.vectors import VectorIndex
                except ModuleNotFoundError as exc:
                    raise MemoryError_(
                        f"memory vectors need chromadb, which is not installed ({exc}): pip install --no-deps "
                        "'chromadb>=1.0,<1.6' (scripts/start.sh does), or set memory.embedder = \"none\"") from exc

                vectors = await asyncio.to_thread(
                    lambda: VectorIndex(index_embedder, path=vector_dir, url=chroma_url))
            except MemoryError_ as exc:
                if not chroma_url:
                    raise  # the embedded store is on this machine's disk: that failure must stop the start
                # A Chroma server that is down must not keep the assistant from answering: rows stay
                # "pending" and the next start with the server back embeds them (repair).
                log.warning("memory: %s; running on keyword search until the next start", exc)
                vectors = None
        store = cls(config, db, embedder, vectors, judge)
        if store.fts:
            async with db.engine.begin() as conn:
                await conn.execute(text(str(create_fts())))
        if vectors is not None and vectors.stale:
            log.warning("memory vectors were built by another model: re-embedding everything with %s",
                        embedder.model_id if embedder else "-")
            await store.rebuild()
        else:
            await store.repair()
        # The backlog just embedded touched the model's vocabulary table well beyond what questions read; those
        # file pages leave the resident set (the daemon's warm-up question maps back the ones questions need).
        release_pages = getattr(embedder, "release_pages", None)
        if callable(release_pages):
            release_pages()
        return store

    async def aclose(self) -> None:
        """Embed what is still deferred, then stop the background embedding."""
        await self.flush_vectors()
        if self._deferred_task is not None:
            self._deferred_task.cancel()
            await asyncio.gather(self._deferred_task, return_exceptions=True)
            self._deferred_task = None
        await self.flush_vectors()
        if self._indexer is not None:
            self._indexer.shutdown(wait=False)  # idle after the flush: the thread ends on its own
            self._indexer = None
        close = getattr(self.embedder, "close", None)
        if callable(close):
            await asyncio.to_thread(close)

    # -- writes -----------------------------------------------------------------------------------------------

    async def remember(self, scope: MemberScope, text: str, *, kind: str = "fact", visibility: str = "private",
                       source_message_id: int | None = None, speaker: str | None = None,
                       trusted: bool = True, confidence: float = 0.8, importance: float = 0.5) -> int:
        """Store one record for ``scope``; returns its id. The same text already in the same place returns the
        existing id; a fact with the subject of an older one (e.g. "Alice moved to the infra team") supersedes it."""
        item = NewRecord(
            text=text.strip(), kind=kind, source_message_id=source_message_id, speaker=speaker or scope.member_name,
            speaker_member_id=scope.member_id if scope.member_id else None, trusted=trusted,
            confidence=confidence, importance=importance, subject_key=subject_key(text),
        )
        ids = await self.remember_many(scope, [item], visibility=visibility, dedupe=True)
        return ids[0]

    async def remember_many(self, scope: MemberScope, items: Sequence[NewRecord], *, visibility: str = "private",
                            dedupe: bool = False, defer_vectors: bool = False) -> list[int]:
        """Store several records in one transaction and embed them in batches (ingest path). With
        ``defer_vectors`` the embedding happens in the background batch (the turn path)."""
        if not items:
            return []
        if any(not i.text for i in items):
            raise MemoryError_("a memory needs some text")
        place = placement(scope, visibility)
        written = place_key(place.visibility.value, place.owner_member_id, place.group_key)
        for places, (_, names) in self._speakers.items():
            if written in places:
                names.update(i.speaker.lower() for i in items if i.speaker)
        ids: list[int] = []
        new_ids: list[int] = []
        dropped: list[tuple[int, str]] = []
        # Judged before the lock and off the loop: the detector may embed a text (~15 ms). In a bulk ingest its
        # sentence-vector stage would cost as much as embedding for search (188 -> 105 lines/s): n-grams only
        # there, and the daemon judges those rows again in the background.
        verdicts = await asyncio.to_thread(self.judge.judge_all, [i.text for i in items], local_only=scope.private,
                                           quick=self._reuse_users > 0)
        async with self._write_lock:
            async with self.db.session() as session:
                if not dedupe:  # the bulk path (ingest, extracted facts): one INSERT for all rows
                    new_ids = await rec.insert_records(session, place, items, verdicts, local_only=scope.private,
                                                       fts=self.fts)
                    ids = list(new_ids)
                for n, item in enumerate(items):
                    if dedupe:
                        same = await rec.active_in_place(session, place, text_norm=normalize(item.text))
                        if same:
                            same[0].updated_at = utcnow()
                            same[0].confidence = max(same[0].confidence, item.confidence)
                            ids.append(same[0].id)
                            continue
                        row = await rec.insert_record(session, place, item, verdicts[n], local_only=scope.private,
                                                      fts=self.fts)
                        ids.append(row.id)
                        new_ids.append(row.id)
                    if item.subject_key:
                        # Only rows written before this one: a later item of the batch supersedes it in turn.
                        row_id = ids[n] if not dedupe else new_ids[-1]
                        older = [o for o in await rec.active_in_place(session, place, subject_key=item.subject_key)
                                 if o.id < row_id]
                        await rec.supersede(session, older, row_id, fts=self.fts)
                        dropped += [_place(o) for o in older]
            if not defer_vectors:
                await self.sync_vectors(new_ids, drop=dropped)
        if defer_vectors and (new_ids or dropped):
            self._defer(new_ids, dropped)
        return ids

    def _defer(self, ids: Sequence[int], drops: Sequence[tuple[int, str]]) -> None:
        self._deferred.extend(ids)
        self._deferred_drops.extend(drops)
        self._deferred_ready.set()
        if self._deferred_task is None or self._deferred_task.done():
            self._deferred_task = asyncio.create_task(self._embed_deferred(), name="memory-vectors")

    async def _embed_deferred(self) -> None:
        while True:
            await self._deferred_ready.wait()
            await asyncio.sleep(DEFER_BATCH_S)  # let the turns of this moment add theirs: one batch for all
            await self.flush_vectors()

    async def flush_vectors(self) -> int:
        """Embed every record whose vector was deferred so far, including a flush already under way (returns how
        many this call embedded)."""
        async with self._flush_lock:
            self._deferred_ready.clear()
            ids, drops = self._deferred, self._deferred_drops
            self._deferred, self._deferred_drops = [], []
            if not ids and not drops:
                return 0
            try:
                if drops and self.vectors is not None:
                    async with self._write_lock:
                        await self._drop_vectors(drops)
                    drops = []
                return await self._embed_outside_lock(ids)
            except asyncio.CancelledError:
                # Cancelled (shutdown) mid-flush: hand the work back so the final flush or repair() does it.
                self._deferred[:0] = ids
                self._deferred_drops[:0] = drops
                raise

    async def _drop_vectors(self, drops: Sequence[tuple[int, str]]) -> None:
        assert self.vectors is not None
        try:
            await asyncio.to_thread(self.vectors.delete, list(drops))
        except _vector_failures() as exc:
            log.warning("memory vectors not deleted (%s: %s); repair() drops them at next start",
                        type(exc).__name__, exc)

    async def _pending(self, ids: Sequence[int]) -> Sequence[MemoryRecord]:
        """The active rows among ``ids`` still waiting for their vector."""
        async with self.db.session() as session:
            return (await session.scalars(select(MemoryRecord).where(
                MemoryRecord.id.in_(list(ids)), MemoryRecord.vector_state == "pending",
                MemoryRecord.superseded_by.is_(None),
            ))).all()

    @contextlib.contextmanager
    def bulk_ingest(self) -> Iterator[None]:
        """While open, a text embedded once is not embedded again by the deferred writer (the same vector, at
        no cost), and deferred passages are embedded at the usual priority: a bulk ingest is the work its process
        is for, and a niced embedding loses the cores to anything else running (ingest here 95 -> 105 lines/s,
        one run each at load 1.6-1.9). The vectors held are released when the last user closes it."""
        from memory.vector_reuse import VectorReuse  # numpy: loaded only where vectors are written

        if self._reuse is None:
            self._reuse = VectorReuse()
        self._reuse_users += 1
        try:
            yield
        finally:
            self._reuse_users -= 1
            if not self._reuse_users:
                self._reuse = None

    async def _embed_passages(self, texts: list[str]) -> np.ndarray:
        """Deferred passages, embedded on the store's background thread, below the priority of turns."""
        assert self.embedder is not None
        if self._indexer is None:
            from memory.background import background_executor

            self._indexer = background_executor("memory-index")
        return await asyncio.get_running_loop().run_in_executor(self._indexer, self.embedder.embed_documents, texts)

    async def _embed_chunk(self, ids: Sequence[int]) -> _Embedded | None:
        """The pending rows among ``ids`` with their vectors, each distinct text embedded once."""
        assert self.embedder is not None
        rows = await self._pending(ids)
        wanted = {r.id: (r.text, _place(r), _chroma_meta(r)) for r in rows}
        if not wanted:
            return None
        order = list(wanted)
        texts = [wanted[i][0] for i in order]
        if self._reuse is not None:
            reuse = self._reuse
        else:
            from memory.vector_reuse import VectorReuse

            reuse = VectorReuse(0)
        todo, known = reuse.plan(texts)
        fresh = None
        if todo and self._reuse is not None:  # a bulk ingest (see bulk_ingest)
            fresh = await asyncio.to_thread(self.embedder.embed_documents, todo)
        elif todo:
            fresh = await self._embed_passages(todo)
        return wanted, order, reuse.assemble(texts, todo, fresh, known)

    async def _embed_outside_lock(self, ids: Sequence[int]) -> int:
        """Embed pending rows without holding the write lock, then store the vectors of the rows that are still
        pending with the same text (a row edited, superseded or deleted meanwhile is left to its own writer)."""
        if self.vectors is None or self.embedder is None:
            return 0
        done = 0
        chunks = [ids[start : start + SYNC_BATCH] for start in range(0, len(ids), SYNC_BATCH)]
        ahead: asyncio.Task[_Embedded | None] | None = None
        try:
            for k, chunk in enumerate(chunks):
                embedded = await (ahead if ahead is not None else self._embed_chunk(chunk))
                # The next chunk is embedded while this one is written: the model never waits on chroma or SQL.
                ahead = (asyncio.create_task(self._embed_chunk(chunks[k + 1]), name="memory-embed-ahead")
                         if k + 1 < len(chunks) else None)
                if embedded is None:
                    continue
                wanted, order, vectors = embedded
                async with self._write_lock:
                    async with self.db.session() as session:
                        still = {i: t for i, t in (await session.execute(select(MemoryRecord.id, MemoryRecord.text)
                                 .where(MemoryRecord.id.in_(order), MemoryRecord.vector_state == "pending",
                                        MemoryRecord.superseded_by.is_(None)))).all()}
                    keep = [n for n, i in enumerate(order) if still.get(i) == wanted[i][0]]
                    if not keep:
                        continue
                    kept_ids = [order[n] for n in keep]
                    await asyncio.to_thread(self.vectors.upsert, [wanted[i][1] for i in kept_ids], vectors[keep],
                                            [wanted[i][2] for i in kept_ids])
                    async with self.db.session() as session:
                        await session.execute(update(MemoryRecord).where(
                            MemoryRecord.id.in_(kept_ids), MemoryRecord.vector_state == "pending",
                        ).values(vector_state="synced"))
                    done += len(kept_ids)
        except _vector_failures() as exc:
            log.warning("memory vectors not written (%s: %s); rows stay pending until repair()",
                        type(exc).__name__, exc)
        finally:
            if ahead is not None:  # failed or cancelled: the rows it held stay pending for repair()
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
        return done

    async def forget(self, scope: MemberScope, *, record_id: int | None = None, query: str | None = None) -> int:
        """Delete records ``scope`` may delete, from SQLite, the keyword index and chroma, with their history.
        By id, or every deletable record whose text contains ``query`` (else all its keywords)."""
        if record_id is None and not (query and query.strip()):
            raise MemoryError_("forget needs a record id or some text to match")
        async with self._write_lock:
            async with self.db.session() as session:
                if record_id is not None:
                    rows = list((await rec.fetch_visible(session, scope, [record_id])).values())
                else:
                    rows = await self._matching(session, scope, query or "")
                targets = [r.id for r in rows if can_delete(scope, r)]
                history = await self._history(session, targets)
                doomed_rows = (await session.scalars(select(MemoryRecord).where(
                    MemoryRecord.id.in_(set(targets) | set(history))))).all()
                doomed = [_place(r) for r in doomed_rows]
                await rec.delete_records(session, [i for i, _ in doomed], fts=self.fts)
            if self.vectors is not None and doomed:
                await asyncio.to_thread(self.vectors.delete, doomed)
        return len(targets)

    async def _matching(self, session: Any, scope: MemberScope, query: str) -> list[MemoryRecord]:
        needle = normalize(query)
        stmt = select(MemoryRecord).where(readable_sql(scope), MemoryRecord.superseded_by.is_(None))
        rows = [r for r in (await session.scalars(stmt)).all() if needle in normalize(r.text)]
        if rows:
            return rows
        match = fts_query(query)
        if not self.fts or match is None:
            return []
        all_terms = match.replace(" OR ", " AND ")
        ids = (await session.execute(text("SELECT rowid FROM memory_fts WHERE memory_fts MATCH :q"),
                                     {"q": all_terms})).scalars().all()
        return list((await rec.fetch_visible(session, scope, ids)).values())

    async def _history(self, session: Any, ids: Sequence[int]) -> list[int]:
        """Ids of records superseded (directly or in a chain) by ``ids``."""
        found: list[int] = []
        frontier = list(ids)
        while frontier:
            older = (await session.scalars(
                select(MemoryRecord.id).where(MemoryRecord.superseded_by.in_(frontier))
            )).all()
            frontier = [i for i in older if i not in found]
            found += frontier
        return found

    # -- vectors ----------------------------------------------------------------------------------------------

    async def sync_vectors(self, ids: Sequence[int], *, drop: Sequence[tuple[int, str]] = ()) -> int:
        """Embed and upsert pending rows among ``ids``; a failure leaves them pending for ``repair``."""
        if self.vectors is None or self.embedder is None:
            return 0
        done = 0
        try:
            if drop:
                await asyncio.to_thread(self.vectors.delete, list(drop))
            for start in range(0, len(ids), SYNC_BATCH):
                rows = await self._pending(ids[start : start + SYNC_BATCH])
                if not rows:
                    continue
                vectors = await asyncio.to_thread(self.embedder.embed_documents, [r.text for r in rows])
                await asyncio.to_thread(self.vectors.upsert, [_place(r) for r in rows], vectors,
                                        [_chroma_meta(r) for r in rows])
                async with self.db.session() as session:
                    await session.execute(update(MemoryRecord).where(
                        MemoryRecord.id.in_([r.id for r in rows]), MemoryRecord.vector_state == "pending",
                    ).values(vector_state="synced"))
                done += len(rows)
        except _vector_failures() as exc:
            log.warning("memory vectors not written (%s: %s); rows stay pending until repair()",
                        type(exc).__name__, exc)
        return done

    async def repair(self) -> int:
        """Embed rows left pending (a crash or an embedder failure between the two writes) or whose vector is
        missing, and delete vectors whose row is gone. Returns rows embedded plus vectors deleted."""
        if self.vectors is None:
            return 0
        async with self._write_lock:
            stored = await asyncio.to_thread(self.vectors.all_ids)
            async with self.db.session() as session:
                active = {i: state for i, state in (await session.execute(select(
                    MemoryRecord.id, MemoryRecord.vector_state).where(MemoryRecord.superseded_by.is_(None)))).all()}
                missing = [i for i, state in active.items() if state == "synced" and i not in stored]
                if missing:
                    await session.execute(update(MemoryRecord).where(MemoryRecord.id.in_(missing))
                                          .values(vector_state="pending"))
            pending = [i for i, state in active.items() if state == "pending" or i not in stored]
            orphans = [(i, place) for i, place in stored.items() if i not in active]
            if orphans:
                await asyncio.to_thread(self.vectors.delete, orphans)
            embedded = await self.sync_vectors(pending)
        if embedded or orphans:
            log.info("memory repair: %d rows embedded, %d orphan vectors deleted", embedded, len(orphans))
        return embedded + len(orphans)

    async def reassign_member(self, from_member_id: int, to_member_id: int) -> int:
        """Two accounts were linked into one member: their records (and profile) become that member's, and the
        vectors move to its private collection. Returns the records moved."""
        async with self._write_lock:
            async with self.db.session() as session:
                rows = list((await session.scalars(select(MemoryRecord).where(
                    MemoryRecord.owner_member_id == from_member_id))).all())
                old_places = [_place(r) for r in rows if r.vector_state == "synced"]
                ids = [r.id for r in rows]
                if ids:
                    await session.execute(update(MemoryRecord).where(MemoryRecord.id.in_(ids)).values(
                        owner_member_id=to_member_id,
                        vector_state=case((MemoryRecord.vector_state == "synced", "pending"),
                                          else_=MemoryRecord.vector_state)))
                await session.execute(update(MemoryRecord).where(MemoryRecord.speaker_member_id == from_member_id)
                                      .values(speaker_member_id=to_member_id))
                mine = set((await session.scalars(select(MemoryProfileField.key).where(
                    MemoryProfileField.member_id == to_member_id))).all())
                await session.execute(delete(MemoryProfileField).where(
                    MemoryProfileField.member_id == from_member_id, MemoryProfileField.key.in_(mine)))
                await session.execute(update(MemoryProfileField).where(
                    MemoryProfileField.member_id == from_member_id).values(member_id=to_member_id))
            await self.sync_vectors(ids, drop=old_places)
        return len(ids)

    async def rebuild(self) -> int:
        """Re-embed every active record from its row (after a model switch, or on demand)."""
        if self.vectors is None:
            return 0
        async with self._write_lock:
            await asyncio.to_thread(self.vectors.reset)
            async with self.db.session() as session:
                await session.execute(update(MemoryRecord).where(MemoryRecord.superseded_by.is_(None))
                                      .values(vector_state="pending"))
                ids = list((await session.scalars(select(MemoryRecord.id).where(
                    MemoryRecord.superseded_by.is_(None)))).all())
            return await self.sync_vectors(ids)

    # -- reads ------------------------------------------------------------------------------------------------

    async def recall(self, scope: MemberScope, query: str, k: int = 6, *, since: datetime | None = None,
                     until: datetime | None = None, member_id: int | None = None,
                     chat: str | None = None) -> list[Recalled]:
        """The ``k`` best records for ``query`` that ``scope`` may read. A time range named in the query ("last
        Tuesday", "上周二") narrows the search when ``since``/``until`` are not given; ``member_id`` (speaker) and
        ``chat`` (group key) narrow it further. Nothing here can widen the scope."""
        found, _ = await self._search(scope, query, k, since=since, until=until, member_id=member_id, chat=chat)
        return found

    async def _search(self, scope: MemberScope, query: str, k: int, *, since: datetime | None,
                      until: datetime | None, member_id: int | None, chat: str | None
                      ) -> tuple[list[Recalled], set[int]]:
        if k <= 0 or not query.strip():
            return [], set()
        now = utcnow()
        named = None
        if since is None and until is None:
            named = parse_time_range(query, now, scope.timezone)
            if named is not None:
                since, until = named.since, named.until
        window = Window(since, until, member_id, chat)
        found, relevant = await self._search_window(scope, query, k, window, now)
        if not found and named is not None:
            found, relevant = await self._search_window(scope, query, k, Window(None, None, member_id, chat), now)
        return found, relevant

    async def _speakers_of(self, scope: MemberScope) -> set[str]:
        places = tuple(readable_places(scope))
        cached = self._speakers.get(places)
        if cached is not None and time.monotonic() - cached[0] < SPEAKERS_TTL_S:
            return cached[1]
        async with self.db.session() as session:
            found = (await session.scalars(select(MemoryRecord.speaker).where(readable_sql(scope)).distinct()))
            names = {n.lower() for n in found.all() if n}
        self._speakers[places] = (time.monotonic(), names)
        return names

    async def _search_window(self, scope: MemberScope, query: str, k: int, window: Window,
                             now: datetime) -> tuple[list[Recalled], set[int]]:
        period = parse_calendar_period(query)
        focus = focus_of(query, await self._speakers_of(scope), period.since if period else None,
                         period.until if period else None)
        # A named speaker's name is in every line they said ("Maya: ..."): as a keyword it would rank their
        # shortest lines first. It counts through ``focus`` instead; the other words search the keyword index.
        keywords = without_words(query, focus.people) if focus.people else query

        rows: dict[int, MemoryRecord] = {}
        weights: dict[int, tuple[float, float]] = {}  # each row's ranking factors, computed once per search

        async def keyword() -> list[int]:
            # The keyword hits' rows are read here, while the question is still being embedded.
            async with self.db.session() as session:
                ids = await rec.keyword_search(session, scope, keywords, KEYWORD_CANDIDATES, window, fts=self.fts)
                found = await rec.fetch_visible(session, scope, ids, window)
            rows.update(found)
            weigh(found, now, focus, weights)  # ranked later; weighed now, while the model works
            return ids

        vectors, embedder = self.vectors, self.embedder
        places, n, where = readable_places(scope), max(VECTOR_CANDIDATES, k * 5), self._where(scope, window)
        asked: list[np.ndarray] = []  # the query's vector, once embedded

        def embed_and_query() -> list[VectorHit]:
            # One worker-thread hop for both: the index is searched the moment the question's vector exists.
            assert vectors is not None and embedder is not None
            asked.append(embedder.embed_query(query))
            return vectors.query(asked[0], places, n, where)

        async def vector(search: Callable[[], list[VectorHit]]) -> list[VectorHit]:
            if vectors is None or embedder is None:
                return []
            try:
                return await asyncio.to_thread(search)
            except _vector_failures() as exc:
                log.warning("vector search unavailable (%s); keyword results only", type(exc).__name__)
                return []

        # The question's embedding is handed to its thread first: that thread needs the GIL for a moment before the
        # model runs without it, and the keyword side's Python would otherwise hold it (the embedding started
        # 4 ms after the call at 100k records, 0.9 ms now).
        vec_hits, kw_ids = await asyncio.gather(vector(embed_and_query), keyword())
        fused = fuse(kw_ids, [h.record_id for h in vec_hits])
        missing = [i for i in fused if i not in rows]
        if missing:
            async with self.db.session() as session:
                rows.update(await rec.fetch_visible(session, scope, missing, window))
        relevant = set(kw_ids) | {h.record_id for h in vec_hits if h.distance <= CONTEXT_MAX_DISTANCE}
        if FEEDBACK_SEEDS and vec_hits and asked and vectors is not None:
            # Pseudo-relevance feedback: the query vector moved towards its best few records finds the other
            # lines on the same subject (the rest of a story told over several sessions) that share no words
            # with the question. No second embedding: the seeds' stored vectors are read back from the index.
            index = vectors
            seeds = [_place(rows[r.id]) for r in rank(fused, rows, FEEDBACK_SEEDS, now, focus=focus, weights=weights)]
            more = await vector(lambda: index.query_near(asked[0], seeds, FEEDBACK_WEIGHT, places, n, where))
            if more:
                fused = fuse(kw_ids, [h.record_id for h in vec_hits], [h.record_id for h in more])
                missing = [i for i in fused if i not in rows]
                if missing:
                    async with self.db.session() as session:
                        rows.update(await rec.fetch_visible(session, scope, missing, window))
        return rank(fused, rows, k, now, viewer_id=scope.member_id, focus=focus, weights=weights), relevant

    @staticmethod
    def _where(scope: MemberScope, window: Window) -> dict[str, Any] | None:
        """The chroma filter for a narrowed search; None without narrowing: the partitions chosen by
        ``readable_places`` are the scope filter, and an unfiltered query is ~100x faster at 100k records."""
        if window == Window():
            return None
        parts: list[dict[str, Any]] = [readable_chroma(scope)]
        if window.since is not None:
            parts.append({"said_at": {"$gte": int(window.since.timestamp())}})
        if window.until is not None:
            parts.append({"said_at": {"$lt": int(window.until.timestamp())}})
        if window.speaker_member_id is not None:
            parts.append({"speaker_member": window.speaker_member_id})
        if window.group_key is not None:
            parts.append({"group": window.group_key})
        return parts[0] if len(parts) == 1 else {"$and": parts}

    async def context_block(self, scope: MemberScope, query: str, token_budget: int, *,
                            include_private: bool = True, include_sensitive: bool = True) -> MemoryBlock:
        """Memory for this turn's prompt: relevant records only (a keyword match or a close vector), within
        ``token_budget`` tokens; the block's ``private`` tells the router whether sensitive memory is inside.
        ``include_private=False`` leaves out every private-visibility record (a task delegated by another member;
        a reply that the whole group will read); ``include_sensitive=False`` every sensitive one. What was left
        out but relevant is named in the block's ``withheld``."""
        if not self.config.enabled or token_budget <= 0 or self.config.recall_k <= 0:
            return MemoryBlock("", False, ())
        narrowed = not (include_private and include_sensitive)
        k = self.config.recall_k * 3 if narrowed else self.config.recall_k
        found, relevant = await self._search(scope, query, k, since=None, until=None, member_id=None, chat=None)

        relevant_found = [f for f in found if f.id in relevant]
        left_private = {f.id for f in relevant_found
                        if not include_private and f.visibility == Visibility.PRIVATE.value}
        left_sensitive = {f.id for f in relevant_found if not include_sensitive and f.private}
        shown = [f for f in relevant_found if f.id not in left_private and f.id not in left_sensitive]
        block = render_block(shown[: self.config.recall_k], token_budget)
        # Named as withheld: what the member deliberately told (facts, notes, preferences), not the raw journal of
        # their direct chats, whose words overlap with almost anything they ask again elsewhere.
        private_ids = tuple(f.id for f in relevant_found if f.id in left_private and f.kind != "journal")
        sensitive_ids = tuple(f.id for f in relevant_found if f.id in left_sensitive)
        if private_ids or sensitive_ids:
            block = replace(block, withheld_private=private_ids, withheld_sensitive=sensitive_ids)
        return block

    async def get(self, scope: MemberScope, record_id: int) -> MemoryRecord | None:
        async with self.db.session() as session:
            rows = await session.scalars(select(MemoryRecord).where(MemoryRecord.id == record_id, readable_sql(scope)))
            return rows.first()

    async def list_records(self, scope: MemberScope, *, kinds: Sequence[str] = (), limit: int = 50,
                           history: bool = False, only_own: bool = False) -> list[MemoryRecord]:
        """Records ``scope`` may read, newest first; ``only_own`` keeps the member's private ones."""
        conds = [readable_sql(scope)]
        if not history:
            conds.append(MemoryRecord.superseded_by.is_(None))
        if kinds:
            conds.append(MemoryRecord.kind.in_(list(kinds)))
        if only_own:
            conds += [MemoryRecord.visibility == Visibility.PRIVATE.value,
                      MemoryRecord.owner_member_id == scope.member_id]
        async with self.db.session() as session:
            stmt = select(MemoryRecord).where(*conds).order_by(MemoryRecord.said_at.desc(), MemoryRecord.id.desc())
            return list((await session.scalars(stmt.limit(limit))).all())

    # -- profile ----------------------------------------------------------------------------------------------

    async def profile_text(self, scope: MemberScope) -> str:
        """One short line about the member, stable between turns (for the system prompt)."""
        async with self.db.session() as session:
            return render_profile(scope, await load_profile(session, scope.member_id))

    async def set_profile(self, scope: MemberScope, key: str, value: str) -> None:
        """The member edits their own profile; ``scope`` decides whose."""
        if not scope.member_id:
            raise ScopeError("a profile belongs to a member: use a member scope")
        async with self.db.session() as session:
            await set_field(session, scope.member_id, key, value, source="member")

    # -- after a turn -----------------------------------------------------------------------------------------

    async def observe_turn(self, scope: MemberScope, user_text: str, reply_text: str, message_id: int | None,
                           router: Any | None = None) -> None:
        """Journal the turn, save the facts it states (rules, then the extraction model when a router is
        given) and update the member's profile. Never raises for a model failure."""
        if not self.config.enabled or not user_text.strip():
            return
        from memory.journal import journal_turn

        facts: list[Extracted] = extract_facts(scope, user_text)
        if router is not None:
            facts += await model_facts(router, scope, user_text, reply_text)
        private = scope.private or any(f.visibility == Visibility.PRIVATE.value for f in facts)
        await journal_turn(self, scope, user_text, reply_text, message_id, private=private, defer_vectors=True)
        await self.save_extracted(scope, facts, message_id, defer_vectors=True)
        async with self.db.session() as session:
            for key, value in infer_profile(user_text).items():
                await set_field(session, scope.member_id, key, value, source="conversation")

    async def save_extracted(self, scope: MemberScope, facts: Sequence[Extracted], message_id: int | None,
                             *, speaker: str | None = None, defer_vectors: bool = False) -> int:
        saved = 0
        for fact in facts:
            vis = fact.visibility
            if vis == Visibility.GROUP.value and scope.group_chat_key is None:
                vis = Visibility.PRIVATE.value
            item = NewRecord(
                text=fact.text.strip(), kind=fact.kind, source_message_id=message_id,
                speaker=speaker or scope.member_name, speaker_member_id=scope.member_id if scope.member_id else None,
                confidence=0.7, importance=fact.importance, subject_key=subject_key(fact.text),
            )
            await self.remember_many(scope, [item], visibility=vis, dedupe=True, defer_vectors=defer_vectors)
            saved += 1
        return saved

    # -- maintenance ------------------------------------------------------------------------------------------

    async def consolidate(self) -> ConsolidationReport:
        """Merge duplicates, resolve contradictions, promote journal items; returns a ConsolidationReport whose
        ``batch`` can be passed to ``undo``."""
        from memory.consolidate import consolidate

        async with self._write_lock:
            report, resync, drop = await consolidate(self.db, self.judge, fts=self.fts)
            await self.sync_vectors(resync, drop=drop)
        return report

    async def undo(self, batch: str) -> int:
        """Revert one consolidation batch; returns the number of changes undone."""
        from memory.consolidate import undo

        async with self._write_lock:
            count, resync, drop = await undo(self.db, batch, fts=self.fts)
            await self.sync_vectors(resync, drop=drop)
        return count

    async def vector_of(self, texts: list[str]) -> np.ndarray:
        if self.embedder is None:
            raise MemoryError_("memory.embedder is 'none': there are no vectors")
        return await asyncio.to_thread(self.embedder.embed_documents, texts)

    def place_of(self, scope: MemberScope, visibility: str) -> Placement:
        return placement(scope, visibility)
