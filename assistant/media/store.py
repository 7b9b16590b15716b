"""Files members sent, kept in their workspace (``members/<id>/attachments/``) once per content hash, and
recorded in the ``attachments`` table with who may read them and whether they may leave this machine: a file sent
where everything stays local always stays; otherwise its verdict is the privacy detector's on the text read from it,
stored beside it and judged again when the detector changes (``rescan``)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from assistant.media.sniff import extension_for
from assistant.media.tables import StoredFile
from assistant.messages import MemberScope, utcnow
from assistant.sensitivity import RESCAN_BATCH, Judge, Verdict
from assistant.storage.db import Database

__all__ = ["LOCAL_ONLY", "FileStore", "Saved"]

ATTACHMENTS_DIR = "attachments"
LOCAL_ONLY = "local-only member or chat"  # the kind a file sent where everything stays local carries


@dataclass(frozen=True, slots=True)
class Saved:
    """A stored file: its row, where it lies, and whether this content was already there (deduplicated)."""

    file_id: int
    path: Path
    sha256: str
    duplicate: bool


class FileStore:
    """Writes under ``workspace_dir/members/<id>/attachments``; one row and one file per member and content."""

    def __init__(self, db: Database, workspace_dir: Path) -> None:
        self._db = db
        self._workspace = workspace_dir

    def member_folder(self, member_id: int) -> Path:
        return self._workspace / "members" / str(int(member_id)) / ATTACHMENTS_DIR

    async def save(self, scope: MemberScope, data: bytes, *, kind: str, mime: str, name: str,
                   local_only: bool) -> Saved:
        """Store ``data`` for the scope's member (a repeat of the same content reuses the first copy). ``local_only``:
        it was sent where configuration keeps everything local; that sticks to the content once it was so."""
        digest = hashlib.sha256(data).hexdigest()
        relative = Path("members") / str(int(scope.member_id)) / ATTACHMENTS_DIR / digest[:2] / (
            digest + extension_for(mime))
        target = self._workspace / relative
        await asyncio.to_thread(_write_once, target, data)
        group = scope.group_chat_key
        row = dict(member_id=scope.member_id, visibility="group" if group else "private", chat_key=group,
                   kind=kind, name=name[:256], mime=mime[:128], size=len(data), sha256=digest,
                   path=relative.as_posix(), local_only=local_only, sensitive=local_only,
                   sensitivity_kinds=[LOCAL_ONLY] if local_only else [], created_at=utcnow())
        existing = await self._find(scope.member_id, digest)
        if existing is None:
            try:
                async with self._db.session() as s:
                    stored = StoredFile(**row)
                    s.add(stored)
                    await s.flush()
                    return Saved(stored.id, target, digest, duplicate=False)
            except IntegrityError:  # the same content arrived twice at once: the other one won
                existing = await self._find(scope.member_id, digest)
                if existing is None:
                    raise
        file_id, was_local_only, old_kinds = existing
        if local_only and not was_local_only:
            async with self._db.session() as s:
                await s.execute(update(StoredFile).where(StoredFile.id == file_id).values(
                    local_only=True, sensitive=True, sensitivity_kinds=[LOCAL_ONLY, *old_kinds]))
        return Saved(file_id, target, digest, duplicate=True)

    async def record_reading(self, file_id: int, description: str, verdict: Verdict) -> None:
        """What was read from the file and the detector's verdict on it, stored beside it."""
        async with self._db.session() as s:
            row = await s.get(StoredFile, file_id)
            if row is not None:
                row.description = description
                row.sensitive, row.sensitivity_kinds = _flag(row.local_only, verdict)
                row.detector_version = verdict.version

    async def rescan(self, judge: Judge, *, batch: int = RESCAN_BATCH) -> int:
        """Judge again the description of every file an older detector, or other privacy settings, judged; returns
        how many. A file with no text read from it keeps its flag (it says only whether it was sent where
        everything stays local). Batches of ``batch``, the scanning off the event loop."""
        total = 0
        while True:
            async with self._db.session() as s:
                rows = (await s.execute(
                    select(StoredFile.id, StoredFile.description, StoredFile.local_only)
                    .where(StoredFile.detector_version != judge.version, StoredFile.description != "")
                    .order_by(StoredFile.id).limit(batch))).all()
            if not rows:
                return total
            verdicts = await asyncio.to_thread(judge.judge_all, [str(r[1]) for r in rows], local_only=False)
            async with self._db.session() as s:
                for (file_id, _text, local_only), verdict in zip(rows, verdicts, strict=True):
                    sensitive, kinds = _flag(bool(local_only), verdict)
                    await s.execute(update(StoredFile).where(StoredFile.id == file_id).values(
                        sensitive=sensitive, sensitivity_kinds=kinds, detector_version=verdict.version))
            total += len(rows)

    async def _find(self, member_id: int, digest: str) -> tuple[int, bool, list[str]] | None:
        async with self._db.session() as s:
            found = (await s.execute(select(StoredFile.id, StoredFile.local_only, StoredFile.sensitivity_kinds).where(
                StoredFile.member_id == member_id, StoredFile.sha256 == digest))).first()
        return None if found is None else (int(found[0]), bool(found[1]), list(found[2] or []))

    async def files_of(self, member_id: int) -> list[StoredFile]:
        async with self._db.session() as s:
            rows = await s.execute(select(StoredFile).where(StoredFile.member_id == member_id)
                                   .order_by(StoredFile.id))
            return list(rows.scalars())

    async def forget_member(self, member_id: int) -> int:
        """Delete every file the member sent, rows and bytes; returns how many."""
        async with self._db.session() as s:
            count = len((await s.execute(select(StoredFile.id).where(StoredFile.member_id == member_id))).all())
            await s.execute(delete(StoredFile).where(StoredFile.member_id == member_id))
        await asyncio.to_thread(shutil.rmtree, self.member_folder(member_id), True)
        return count


def _write_once(target: Path, data: bytes) -> None:
    if target.is_file() and target.stat().st_size == len(data):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)  # whole or absent: a crash mid-write leaves no half file under the real name


def _flag(local_only: bool, verdict: Verdict) -> tuple[bool, list[str]]:
    """A file's ``sensitive`` and ``sensitivity_kinds`` from where it was sent and the verdict on its text."""
    kinds = [LOCAL_ONLY] if local_only else []
    return local_only or bool(verdict.kinds), kinds + [k for k in verdict.kinds if k != LOCAL_ONLY]
