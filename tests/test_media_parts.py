"""The pieces under the media path: image parts in both wire formats (text-only messages unchanged), what the
bytes of a file are, PDF text, the per-member store with its dedupe and deletion, and the transcription client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from assistant.config import Config, MediaConfig, ModelConfig
from assistant.errors import PrivacyViolation
from assistant.media import (
    FileStore,
    Media,
    Received,
    Transcriber,
    document_text,
    sniff_mime,
    too_large_reason,
    type_allowed,
)
from assistant.media.store import LOCAL_ONLY
from assistant.messages import Attachment, ChatKind, MemberScope
from assistant.providers.anthropic import AnthropicProvider
from assistant.providers.base import ChatMessage, ImagePart, ModelRequest
from assistant.providers.openai import OpenAIProvider
from assistant.sensitivity import Judge
from assistant.storage.db import Database
from tests.standins.media_files import ogg_voice, pdf_with_text, png_image
from tests.standins.model_server import ScriptedModelServer

PICTURE = png_image()
WITH_IMAGE = ModelRequest(messages=(ChatMessage("system", "be brief"),
                                    ChatMessage("user", "what is this?", parts=(ImagePart("image/png", PICTURE),))))
TEXT_ONLY = ModelRequest(messages=(ChatMessage("system", "be brief"), ChatMessage("user", "what is this?")))


@asynccontextmanager
async def _alice_db(config: Config) -> AsyncIterator[tuple[Database, int]]:
    """A migrated database with one member, Alice: the database and her id."""
    from assistant.members import Directory

    db = Database(config.database_url)
    await db.migrate()
    try:
        yield db, (await Directory(db, config.team, config.access, config.routing).member_for(
            "telegram", "1", "Alice")).id
    finally:
        await db.aclose()


def _openai() -> OpenAIProvider:
    return OpenAIProvider("m", ModelConfig(base_url="http://127.0.0.1:9/v1", model="gpt"))


def _anthropic() -> AnthropicProvider:
    return AnthropicProvider("c", ModelConfig(provider="anthropic", base_url="http://127.0.0.1:9", model="claude"))


def test_openai_body_carries_an_image_as_a_data_url_part_and_text_as_before() -> None:
    body = _openai().body(WITH_IMAGE)
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PICTURE).decode()}},
    ]
    assert _openai().body(TEXT_ONLY)["messages"][1] == {"role": "user", "content": "what is this?"}


def test_anthropic_body_carries_an_image_block_and_text_as_before() -> None:
    turn = _anthropic().body(WITH_IMAGE)["messages"][0]
    assert turn["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(PICTURE).decode()}},
    ]
    assert _anthropic().body(TEXT_ONLY)["messages"][0]["content"] == [{"type": "text", "text": "what is this?"}]


@pytest.mark.parametrize(("data", "declared", "expected"), [
    (PICTURE, None, "image/png"),
    (b"\xff\xd8\xff\xe0rest", "application/octet-stream", "image/jpeg"),
    (pdf_with_text("hi"), "application/octet-stream", "application/pdf"),
    (ogg_voice(), None, "audio/ogg"),
    (b"\x00\x00\x00\x18ftypisom", None, "video/mp4"),
    (b"\x00\x00\x00\x18ftypheic", "video/mp4", "image/heic"),
    (b"plain words", "text/markdown", "text/markdown"),
    (b"plain words", "image/png", "text/plain"),  # a declared type the bytes contradict is not believed
    (b"MZ\x90\x00\x03", "application/pdf", "application/octet-stream"),
])
def test_the_bytes_decide_what_a_file_is(data: bytes, declared: str | None, expected: str) -> None:
    assert sniff_mime(data[:4096], declared) == expected


def test_allowed_types_are_patterns() -> None:
    allowed = MediaConfig().allowed_types
    assert type_allowed("image/webp", allowed) and type_allowed("application/pdf", allowed)
    assert not type_allowed("application/octet-stream", allowed) and not type_allowed("application/zip", allowed)


def test_pdf_text_is_read_and_cut_to_the_limit() -> None:
    document = pdf_with_text("Quarterly numbers", "Revenue grew by a third")
    full = document_text(document, "application/pdf", max_chars=1000, max_pages=5)
    assert full is not None and full.text == "Quarterly numbers\nRevenue grew by a third" and full.pages == 1
    short = document_text(document, "application/pdf", max_chars=9, max_pages=5)
    assert short is not None and short.text == "Quarterly" and short.cut
    assert document_text(b"%PDF-1.4 broken", "application/pdf", max_chars=100, max_pages=5) is None


def _scope(member_id: int, chat_kind: ChatKind = ChatKind.DIRECT) -> MemberScope:
    return MemberScope(member_id=member_id, member_name=f"m{member_id}", channel="telegram", chat_id="-100",
                       chat_kind=chat_kind)


async def test_the_store_keeps_one_copy_per_member_and_forgets_a_member_whole(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config()
    async with _alice_db(config) as (db, alice):
        from assistant.members import Directory

        directory = Directory(db, config.team, config.access, config.routing)
        bob = (await directory.member_for("telegram", "2", "Bob")).id
        store = FileStore(db, tmp_path / "ws")
        first = await store.save(_scope(alice), PICTURE, kind="image", mime="image/png", name="a.png",
                                 local_only=False)
        again = await store.save(_scope(alice, ChatKind.GROUP), PICTURE, kind="image", mime="image/png",
                                 name="b.png", local_only=True)
        last = await store.save(_scope(alice), PICTURE, kind="image", mime="image/png", name="a.png",
                                local_only=False)
        other = await store.save(_scope(bob), PICTURE, kind="image", mime="image/png", name="a.png",
                                 local_only=False)
        assert (first.duplicate, again.duplicate, last.duplicate, other.duplicate) == (False, True, True, False)
        assert again.file_id == first.file_id and other.file_id != first.file_id and first.path.read_bytes() == PICTURE
        [kept] = await store.files_of(alice)
        # Sent once where everything stays local, the content stays local when it comes again elsewhere.
        assert kept.sensitive and kept.local_only and kept.sensitivity_kinds == [LOCAL_ONLY]
        assert await store.forget_member(alice) == 1
        assert await store.files_of(alice) == [] and not store.member_folder(alice).exists()
        assert len(await store.files_of(bob)) == 1 and other.path.is_file()


async def test_the_transcriber_posts_multipart_and_keeps_private_audio_off_a_cloud_endpoint() -> None:
    with ScriptedModelServer() as server:
        server.enqueue_transcript("  hello team  ")
        local = Transcriber(MediaConfig(transcribe_url=server.openai_base_url, transcribe_model="whisper-1"))
        cloud = Transcriber(MediaConfig(transcribe_url=server.openai_base_url, transcribe_location="cloud"))
        try:
            assert await local.transcribe(ogg_voice(), "audio/ogg", private=True) == "hello team"
            with pytest.raises(PrivacyViolation):
                await cloud.transcribe(ogg_voice(), "audio/ogg", private=True)
            assert [(m, n) for m, n, _ in server.transcriptions] == [("whisper-1", "audio.ogg")]
        finally:
            await local.aclose()
            await cloud.aclose()


class _CountingChannel:
    """A channel that serves one picture and counts downloads (the FetchesFiles seam)."""

    def __init__(self) -> None:
        self.downloads = 0

    async def download(self, message_id: str, attachment: Attachment, *, max_bytes: int) -> bytes:
        self.downloads += 1
        return PICTURE


async def test_a_burst_restarting_the_turn_does_not_fetch_or_read_a_file_twice(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config(media={"ocr": False})
    async with _alice_db(config) as (db, alice):
        channel = _CountingChannel()
        media = Media(config, FileStore(db, tmp_path / "ws"), {"telegram": channel})
        photo = Received("m1", Attachment("image", "f1", name="p.png"))
        first = await media.prepare(_scope(alice), [photo])
        again = await media.prepare(_scope(alice), [photo, Received("m2", Attachment("image", "f2"))])
        assert channel.downloads == 2  # f1 once, then only the new f2
        assert [p.data for p in first.images] == [PICTURE] and len(again.images) == 2 and again.stored == 2
        await media.aclose()


class _DocumentChannel:
    """A channel that serves one PDF (the FetchesFiles seam)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def download(self, message_id: str, attachment: Attachment, *, max_bytes: int) -> bytes:
        return self.data


@pytest.mark.parametrize(("threshold", "sensitive"), [(None, True), (0.99, False)])
async def test_what_a_document_says_is_judged_at_the_routers_threshold(
    tmp_path: Path, make_config: Callable[..., Config], threshold: float | None, sensitive: bool
) -> None:
    routing = {} if threshold is None else {"privacy_threshold": threshold}
    config = make_config(media={"ocr": False}, routing=routing)
    async with _alice_db(config) as (db, alice):
        pdf = pdf_with_text("my mum's MRI is on Friday and I am worried about the results")  # context only, ~0.97
        media = Media(config, FileStore(db, tmp_path / "ws"), {"telegram": _DocumentChannel(pdf)})
        prepared = await media.prepare(_scope(alice), [Received("m1", Attachment("file", "f1", name="note.pdf"))])
        assert "MRI" in prepared.text and prepared.stored == 1
        assert prepared.sensitive is sensitive and ("health" in prepared.kinds) is sensitive
        [stored] = await media.store.files_of(alice)
        assert stored.sensitive is sensitive
        assert "MRI" in stored.description and stored.detector_version == Judge(threshold).version
        await media.aclose()


MRI_NOTE = "my mum's MRI is on Friday and I am worried about the results"  # context only: ~0.97, private by 0.99


async def test_a_files_verdict_is_judged_again_when_the_privacy_settings_change(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config(media={"ocr": False}, routing={"privacy_threshold": 0.99})
    async with _alice_db(config) as (db, alice):
        media = Media(config, FileStore(db, tmp_path / "ws"), {"telegram": _DocumentChannel(pdf_with_text(MRI_NOTE))})
        strict, default = Judge(0.99), Judge()
        await media.prepare(_scope(alice), [Received("m1", Attachment("file", "f1", name="note.pdf"))])
        [read] = await media.store.files_of(alice)
        assert not read.sensitive and read.detector_version == strict.version

        # The threshold goes back to its default: the daemon's rescan finds the file's text private after all.
        assert await media.store.rescan(default) == 1
        [judged] = await media.store.files_of(alice)
        assert judged.sensitive and judged.sensitivity_kinds == ["health"]
        assert judged.detector_version == default.version
        assert await media.store.rescan(default) == 0  # judged once per detector

        # And back again: a verdict is recomputed, not only raised.
        assert await media.store.rescan(strict) == 1
        [relaxed] = await media.store.files_of(alice)
        assert not relaxed.sensitive and relaxed.sensitivity_kinds == []
        await media.aclose()


async def test_a_file_sent_where_everything_stays_local_stays_sensitive_whatever_its_text_says(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config(media={"ocr": False})
    async with _alice_db(config) as (db, alice):
        store = FileStore(db, tmp_path / "ws")
        harmless = pdf_with_text("The quarterly roadmap review moves to Thursday at ten.")
        saved = await store.save(_scope(alice), harmless, kind="file", mime="application/pdf", name="r.pdf",
                                 local_only=True)
        judge = Judge()
        await store.record_reading(saved.file_id, "The quarterly roadmap review moves to Thursday at ten.",
                                   judge.judge("The quarterly roadmap review moves to Thursday at ten."))
        unread = await store.save(_scope(alice), PICTURE, kind="image", mime="image/png", name="p.png",
                                  local_only=False)  # nothing read from it: no description, no verdict to redo
        assert await store.rescan(Judge(0.99)) == 1
        rows = {r.id: r for r in await store.files_of(alice)}
        assert rows[saved.file_id].sensitive and rows[saved.file_id].sensitivity_kinds == [LOCAL_ONLY]
        assert not rows[unread.file_id].sensitive and rows[unread.file_id].detector_version == ""


async def test_files_stored_before_verdicts_were_kept_keep_their_flags_through_the_migration(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    await db.aclose()
    conn = sqlite3.connect(path)
    with conn:  # the attachments table as release 0005 left it, with one file of each kind
        for column in ("description", "local_only", "detector_version"):
            conn.execute(f"ALTER TABLE attachments DROP COLUMN {column}")
        conn.execute("UPDATE alembic_version SET version_num = '0005'")
        conn.execute("INSERT INTO members (id, name, role, private, allowed, created_at) "
                     "VALUES (1, 'Alice', 'owner', 0, 1, '2025-01-01 00:00:00')")
        for n, kinds in enumerate(('["local-only member or chat", "phone"]', '["phone"]', "[]")):
            conn.execute("INSERT INTO attachments (member_id, visibility, kind, name, mime, size, sha256, path, "
                         "sensitive, sensitivity_kinds, created_at) VALUES (1, 'private', 'file', 'f', 'text/plain', "
                         f"1, '{n}', 'p{n}', {int(kinds != '[]')}, '{kinds}', '2025-01-01 00:00:00')")
    conn.close()
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    try:
        files = await FileStore(db, tmp_path / "ws").files_of(1)
        assert [(f.sensitive, f.local_only, f.description, f.detector_version) for f in files] == [
            (True, True, "", ""), (True, False, "", ""), (False, False, "", "")]
        assert await FileStore(db, tmp_path / "ws").rescan(Judge()) == 0  # no text to judge: flags kept
    finally:
        await db.aclose()


async def test_doctor_says_what_members_files_will_become(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from assistant.doctor import run_doctor
    from assistant.media import ffmpeg_available
    from tests.conftest import write_config

    path = write_config(tmp_path / "home", {"media": {"ocr": False}})
    out = io.StringIO()
    await run_doctor(str(path), Console(file=out, width=200, color_system=None))
    said = out.getvalue()
    assert "voice notes are stored but not transcribed" in said and "media.transcribe_url" in said
    assert ("ok   media: ffmpeg" in said) == ffmpeg_available()
    assert "no OCR" not in said  # turned off: nothing to warn about


def test_refusals_speak_to_the_member() -> None:
    assert too_large_reason("the picture", 31_400_000, 20_000_000) == (
        "The picture is 31.4 MB, more than the 20.0 MB I accept, so I did not take it. Send a smaller file or a "
        "link to it.")
    assert too_large_reason("big.pdf", 8_000, 2_000).startswith("big.pdf is 8 KB, more than the 2 KB I accept")
