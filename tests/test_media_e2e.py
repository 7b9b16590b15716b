"""Pictures, voice notes, documents and videos end to end: members send them through the Telegram and Feishu
stand-ins (which serve the files), the daemon downloads and reads them, and the model stand-ins record what
reached them (image parts, transcription uploads). A cloud model never sees what must stay on this machine."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assistant.config import Config
from assistant.daemon import App
from assistant.media.ocr import ocr_available
from assistant.media.tables import StoredFile
from assistant.storage.tables import TranscriptEntry
from tests.conftest import cloud_model, local_model
from tests.standins.group_world import (
    GroupFeishu,
    GroupTelegram,
    feishu_section,
    group_config,
    pusher_for,
    start_app,
    telegram_section,
    turn_requests,
)
from tests.standins.media_files import FFMPEG, ogg_voice, pdf_with_text, png_image, screenshot, tiny_video
from tests.standins.model_server import ScriptedModelServer, ScriptedReply, ScriptedToolCall

ALICE = 4001  # an owner: served in her direct chat with the bot
TEAM = -1004000000001
SENSITIVE_LINE = "Patient record: phone 13812345678, ID 11010519491231002X"


@pytest.fixture
def tg() -> Iterator[GroupTelegram]:
    with GroupTelegram() as fake:
        yield fake


@pytest.fixture
def fs() -> Iterator[GroupFeishu]:
    with GroupFeishu() as fake:
        yield fake


def media_config(home: Path, local: ScriptedModelServer, cloud: ScriptedModelServer, *,
                 telegram: dict[str, Any] | None = None, feishu: dict[str, Any] | None = None,
                 owners: tuple[str, ...] = (f"telegram:{ALICE}",), **sections: Any) -> Config:
    """A text-only local model (cheapest: it answers ordinary messages) and a cloud model that can see."""
    models = {"localtext": local_model(local, abilities=["tools"]),
              "cloudvision": cloud_model(cloud, abilities=["tools", "vision"])}
    return group_config(home, local, telegram=telegram, feishu=feishu, owners=owners, models=models,
                        allowed_chats=[f"telegram:{TEAM}"], **sections)


def send_photo(tg: GroupTelegram, data: bytes, caption: str = "what is on this picture?") -> int:
    update = tg.push_message(ALICE, "private", ALICE, "Alice", caption, photo=data)
    return int(update["message"]["message_id"])


async def stored_files(app: App) -> list[StoredFile]:
    async with app.services.db.session() as s:
        return list((await s.execute(select(StoredFile).order_by(StoredFile.id))).scalars())


async def test_a_photo_reaches_the_vision_model_as_an_image_part_and_is_stored_once(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    picture = png_image()
    cloud_server.enqueue_text("A red square.")
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg))
    async with start_app(config) as app:
        asked = send_photo(tg, picture)
        reply = await tg.wait_for_reply(ALICE, asked)
        assert reply.text.endswith("A red square.")
        assert "(The picture was looked at by cloudvision.)" in reply.text  # not the model that usually answers
        expected = "data:image/png;base64," + base64.b64encode(picture).decode()
        assert cloud_server.image_parts() == [("openai", expected)]
        assert model_server.requests == []  # the text-only model was not asked
        again = send_photo(tg, picture, "and this one?")
        await tg.wait_for_reply(ALICE, again)
        files = await stored_files(app)
        assert [(f.kind, f.mime, f.size, f.sensitive, f.visibility) for f in files] == [
            ("image", "image/png", len(picture), False, "private")]  # the same picture twice: stored once
        on_disk = config.workspace_dir / files[0].path
        assert on_disk.read_bytes() == picture and on_disk.is_relative_to(
            config.workspace_dir / "members" / str(files[0].member_id))
        # The history keeps the words, not the picture: the second turn sent one image, not two.
        assert len(cloud_server.image_parts()) == 2


async def test_a_screenshot_in_a_local_only_chat_never_reaches_a_cloud_model(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg),
                          routing={"private_chats": [f"telegram:{ALICE}"]})
    async with start_app(config) as app:
        asked = send_photo(tg, png_image(), "read this screenshot")
        reply = await tg.wait_for_reply(ALICE, asked)
        assert cloud_server.requests == []
        assert "can take images" in reply.text  # the local model cannot see: the member is told
        assert model_server.image_parts() == []  # and it was not sent a picture it cannot read
        [stored] = await stored_files(app)
        assert stored.sensitive and "local-only member or chat" in stored.sensitivity_kinds


@pytest.mark.skipif(not ocr_available(), reason="the ocr extra is not installed (scripts/test.sh installs it)")
async def test_a_screenshot_of_a_phone_number_is_read_locally_and_never_reaches_a_cloud_model(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg))
    async with start_app(config) as app:
        asked = send_photo(tg, screenshot("Call me at 13812345678"), "who is this?")
        await tg.wait_for_reply(ALICE, asked)
        assert cloud_server.requests == []  # the only model that can see is in the cloud: it is not asked
        [turn] = turn_requests(model_server)
        assert "13812345678" in turn.new_message  # the local model reads the words in the picture
        [stored] = await stored_files(app)
        assert stored.sensitive and "phone" in stored.sensitivity_kinds


async def test_a_sensitive_pdf_is_read_locally_and_never_reaches_a_cloud_model(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg))
    document = pdf_with_text(SENSITIVE_LINE, "Diagnosis follows.")
    async with start_app(config) as app:
        update = tg.push_message(ALICE, "private", ALICE, "Alice", "summarise this, use the strong model",
                                 document=("record.pdf", document))
        asked = int(update["message"]["message_id"])
        await tg.wait_for_reply(ALICE, asked)
        assert cloud_server.requests == []
        [turn] = turn_requests(model_server)
        assert "[document record.pdf, 1 page, its text:]" in turn.new_message
        assert "13812345678" in turn.new_message  # the local model reads the PDF's text
        [stored] = await stored_files(app)
        assert stored.sensitive and {"phone", "id_card"} <= set(stored.sensitivity_kinds)
        assert stored.mime == "application/pdf"  # by its bytes, not the declared octet-stream


async def test_an_oversized_file_gets_a_clear_reply_and_nothing_is_stored(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg),
                          media={"max_bytes": 2_000})
    async with start_app(config) as app:
        update = tg.push_message(ALICE, "private", ALICE, "Alice", "", document=("big.pdf", b"%PDF-1.4" * 1000))
        reply = await tg.wait_for_reply(ALICE, int(update["message"]["message_id"]))
        assert "big.pdf is 8 KB, more than the 2 KB I accept" in reply.text
        assert model_server.requests == [] and cloud_server.requests == []
        assert await stored_files(app) == []
        assert not (config.workspace_dir / "members").exists() or not any(
            (config.workspace_dir / "members").glob("*/attachments/**/*.*"))
        assert "getFile" not in tg.calls  # refused on the size Telegram announced, before any download


async def test_a_voice_note_becomes_a_transcript_in_the_history(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    voice = ogg_voice()
    model_server.enqueue_transcript("please book the meeting room for friday")
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg),
                          media={"transcribe_url": model_server.openai_base_url, "transcribe_model": "whisper-small"})
    async with start_app(config) as app:
        update = tg.push_message(ALICE, "private", ALICE, "Alice", "", voice=voice)
        await tg.wait_for_reply(ALICE, int(update["message"]["message_id"]))
        [(model, name, audio)] = model_server.transcriptions
        assert (model, name, audio) == ("whisper-small", "audio.ogg", voice)
        [turn] = turn_requests(model_server)
        assert "please book the meeting room for friday" in turn.new_message
        async with app.services.db.session() as s:
            history = (await s.execute(select(TranscriptEntry.content).where(TranscriptEntry.role == "user")))
            assert any("please book the meeting room for friday" in row for row in history.scalars())
        asked = tg.push_message(ALICE, "private", ALICE, "Alice", "which day was it?")
        await tg.wait_for_reply(ALICE, int(asked["message"]["message_id"]))
        assert "meeting room for friday" in turn_requests(model_server)[-1].history_text


async def test_audio_from_a_local_only_chat_never_goes_to_a_cloud_transcriber(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg),
                          routing={"private_members": [f"telegram:{ALICE}"]},
                          media={"transcribe_url": cloud_server.openai_base_url, "transcribe_location": "cloud"})
    async with start_app(config):
        update = tg.push_message(ALICE, "private", ALICE, "Alice", "", voice=ogg_voice())
        await tg.wait_for_reply(ALICE, int(update["message"]["message_id"]))
        assert cloud_server.transcriptions == [] and cloud_server.requests == []
        [turn] = turn_requests(model_server)
        assert "not transcribed, because this member or chat is local-only" in turn.new_message


@pytest.mark.skipif(not FFMPEG, reason="ffmpeg is not installed (scripts/test.sh installs it)")
async def test_a_short_video_becomes_frames_and_a_transcript(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    clip = tiny_video(tmp_path)
    model_server.enqueue_transcript("this is the demo of the new login page")
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg),
                          media={"transcribe_url": model_server.openai_base_url, "video_frames": 3})
    async with start_app(config):
        update = tg.push_message(ALICE, "private", ALICE, "Alice", "what happens here?", video=("clip.mp4", clip))
        reply = await tg.wait_for_reply(ALICE, int(update["message"]["message_id"]))
        frames = cloud_server.image_parts()
        assert len(frames) == 3 and all(url.startswith("data:image/jpeg;base64,/9j/") for _, url in frames)
        [(_, _, audio)] = model_server.transcriptions
        assert audio.startswith(b"RIFF") and audio[8:12] == b"WAVE"  # the sound track, as 16 kHz WAV
        new_message = str(cloud_server.requests[-1].body["messages"][-1]["content"][0]["text"])
        assert "[video clip.mp4: 3 frames attached" in new_message
        assert "this is the demo of the new login page" in new_message
        assert "(The video was looked at by cloudvision.)" in reply.text


async def test_send_file_delivers_a_file_on_telegram(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    model_server.enqueue_tool_call("file_write", {"path": "notes.txt", "content": "1. ship it"})
    model_server.enqueue_tool_call("send_file", {"path": "notes.txt", "caption": "the notes"})
    model_server.enqueue_text("Sent.")
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg))
    async with start_app(config):
        update = tg.push_message(ALICE, "private", ALICE, "Alice", "write the notes and send them to me")
        asked = int(update["message"]["message_id"])
        await tg.wait_for_reply(ALICE, asked)
        await tg.wait_until(lambda: any(s.media == "document" for s in tg.sent), "a document")
        [document] = [s for s in tg.sent if s.media == "document"]
        assert (document.document_name, document.file_content, document.text) == (
            "notes.txt", b"1. ship it", "the notes")


FEISHU_CHAT = "oc_media"
FEISHU_ALICE = "ou_alice"


def feishu_config(tmp_path: Path, fs: GroupFeishu, local: ScriptedModelServer, cloud: ScriptedModelServer,
                  **sections: Any) -> Config:
    return media_config(tmp_path / "home", local, cloud, feishu=feishu_section(fs),
                        owners=(f"feishu:{FEISHU_ALICE}",), **sections)


async def test_a_feishu_image_is_downloaded_from_the_message_resources(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    picture = png_image(rgb=(10, 200, 10))
    cloud_server.enqueue_text("A green square.")
    async with start_app(feishu_config(tmp_path, fs, model_server, cloud_server)) as app:
        pusher = pusher_for(app, fs)
        message_id = "om_picture_1"
        key = fs.add_resource(message_id, picture, prefix="img")
        body = pusher.message_event(chat_id=FEISHU_CHAT, sender=FEISHU_ALICE, message_type="image",
                                    content={"image_key": key}, chat_type="p2p", message_id=message_id)
        assert (await pusher.push(body)).status_code == 200
        reply = await fs.wait_for_reply(message_id)
        assert "A green square." in reply.text
        assert cloud_server.image_parts() == [("openai", "data:image/png;base64," + base64.b64encode(picture).decode())]
        assert ("GET", f"/open-apis/im/v1/messages/{message_id}/resources/{key}") in fs.requests


async def test_an_oversized_feishu_file_is_refused_and_nothing_is_stored(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = feishu_config(tmp_path, fs, model_server, cloud_server, media={"max_bytes": 1_000})
    async with start_app(config) as app:
        pusher = pusher_for(app, fs)
        message_id = "om_big_file"
        key = fs.add_resource(message_id, b"%PDF-1.4" * 500)
        body = pusher.message_event(chat_id=FEISHU_CHAT, sender=FEISHU_ALICE, message_type="file",
                                    content={"file_key": key, "file_name": "huge.pdf"}, chat_type="p2p",
                                    message_id=message_id)
        assert (await pusher.push(body)).status_code == 200
        reply = await fs.wait_for_reply(message_id)
        assert "huge.pdf is 4 KB, more than the 1 KB I accept" in reply.text
        assert await stored_files(app) == [] and model_server.requests == []


async def test_send_file_delivers_a_picture_on_feishu(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    picture = png_image(8, 8)
    async with start_app(feishu_config(tmp_path, fs, model_server, cloud_server)) as app:
        pusher = pusher_for(app, fs)
        first = pusher.message_event(chat_id=FEISHU_CHAT, sender=FEISHU_ALICE, text="hello", chat_type="p2p")
        await pusher.push(first)
        await fs.wait_for_reply(str(first["event"]["message"]["message_id"]))
        workspace = app.config.workspace_dir / "members" / str(await _member_of(app, FEISHU_ALICE))
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "chart.png").write_bytes(picture)
        report = pdf_with_text("Q3 report")
        (workspace / "report.pdf").write_bytes(report)
        model_server.enqueue(ScriptedReply(tool_calls=(ScriptedToolCall("send_file", {"path": "chart.png"}),
                                                       ScriptedToolCall("send_file", {"path": "report.pdf"}))))
        model_server.enqueue_text("Here is the chart.")
        second = pusher.message_event(chat_id=FEISHU_CHAT, sender=FEISHU_ALICE, text="send me the chart",
                                      chat_type="p2p")
        await pusher.push(second)
        await fs.wait_until(lambda: any(s.msg_type == "image" for s in fs.sent), "an image message")
        await fs.wait_until(lambda: any(s.msg_type == "file" for s in fs.sent), "a file message")
        [image] = [s for s in fs.sent if s.msg_type == "image"]
        assert fs.uploaded(str(image.content["image_key"])) == ("chart.png", picture)
        [document] = [s for s in fs.sent if s.msg_type == "file"]
        assert fs.uploaded(str(document.content["file_key"])) == ("report.pdf", report)


async def _member_of(app: App, open_id: str) -> int:
    record = await app.services.members.member_for("feishu", open_id, "")
    return int(record.id)


async def test_files_lists_what_is_kept_and_files_forget_deletes_it(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    config = media_config(tmp_path / "home", model_server, cloud_server, telegram=telegram_section(tg))
    async with start_app(config) as app:
        await tg.wait_for_reply(ALICE, send_photo(tg, png_image()))
        [stored] = await stored_files(app)
        folder = config.workspace_dir / "members" / str(stored.member_id) / "attachments"
        assert folder.is_dir()
        listed = tg.push_message(ALICE, "private", ALICE, "Alice", "/files")
        listing = await tg.wait_for_reply(ALICE, int(listed["message"]["message_id"]))
        assert "I keep 1 file you sent" in listing.text and "image/png" in listing.text
        forget = tg.push_message(ALICE, "private", ALICE, "Alice", "/files forget")
        answer = await tg.wait_for_reply(ALICE, int(forget["message"]["message_id"]))
        assert answer.text == "Deleted 1 file you sent, and their records."
        assert await stored_files(app) == [] and not folder.exists()


async def test_a_photo_in_a_group_reaches_an_anthropic_vision_model_and_is_kept_for_that_group(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    picture = png_image(rgb=(0, 0, 255))
    models = {"localtext": local_model(model_server, abilities=["tools"]),
              "claude": {"provider": "anthropic", "base_url": cloud_server.anthropic_base_url, "model": "claude-x",
                         "location": "cloud", "tier": 2, "api_key": "sk-test-not-a-real-key", "max_retries": 0,
                         "abilities": ["tools", "vision"]}}
    config = group_config(tmp_path / "home", model_server, telegram=telegram_section(tg), models=models,
                          owners=[f"telegram:{ALICE}"], allowed_chats=[f"telegram:{TEAM}"])
    cloud_server.enqueue_text("A blue square.")
    async with start_app(config) as app:
        update = tg.push_message(TEAM, "supergroup", ALICE, "Alice", f"@{tg.bot_username} what colour is it?",
                                 photo=picture, chat_title="Team")
        reply = await tg.wait_for_reply(TEAM, int(update["message"]["message_id"]))
        assert reply.text.endswith("A blue square.")
        expected = "data:image/png;base64," + base64.b64encode(picture).decode()
        assert cloud_server.image_parts() == [("anthropic", expected)]
        [stored] = await stored_files(app)
        assert (stored.visibility, stored.chat_key) == ("group", f"telegram:{TEAM}")


@pytest.mark.skipif(not FFMPEG, reason="ffmpeg is not installed (scripts/test.sh installs it)")
async def test_a_video_goes_to_a_video_model_when_one_is_configured(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer
) -> None:
    clip = tiny_video(tmp_path, sound=False)
    with ScriptedModelServer() as video_server:
        models = {"localtext": local_model(model_server, abilities=["tools"]),
                  "cloudvision": cloud_model(cloud_server, abilities=["tools", "vision"]),
                  "cloudvideo": cloud_model(video_server, model="standin-video", abilities=["tools", "video"],
                                            price_input=3.0)}
        config = group_config(tmp_path / "home", model_server, telegram=telegram_section(tg), models=models,
                              owners=[f"telegram:{ALICE}"], media={"video_frames": 2})
        video_server.enqueue_text("A test pattern.")
        async with start_app(config):
            update = tg.push_message(ALICE, "private", ALICE, "Alice", "what is it?", video=("clip.mp4", clip))
            reply = await tg.wait_for_reply(ALICE, int(update["message"]["message_id"]))
        assert "(The video was looked at by cloudvideo.)" in reply.text
        assert len(video_server.image_parts()) == 2 and cloud_server.requests == []
        new_message = str(video_server.requests[-1].body["messages"][-1]["content"][0]["text"])
        assert "[video clip.mp4: 2 frames attached, spread over the clip; no sound]" in new_message
