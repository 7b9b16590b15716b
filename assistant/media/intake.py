"""What members send besides text, made readable for a turn: downloaded from the platform within the limits,
stored in the member's workspace, and turned into what a model can take (image parts, document text, a voice
note's transcript, a video's frames and transcript), with a sensitivity verdict.

The agent calls ``prepare`` once per turn, before routing: the verdict decides whether the turn may leave this
machine, and the needs decide which model looks (``vision``, or ``video`` when such a model is configured).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from assistant.config import Config, MediaConfig
from assistant.errors import ChannelError, FileRefused, PrivacyViolation, ProviderError
from assistant.media import video
from assistant.media.extract import document_text
from assistant.media.ocr import TextReader, ocr_available
from assistant.media.sniff import IMAGE_TYPES, sniff_mime, type_allowed
from assistant.media.store import LOCAL_ONLY, FileStore
from assistant.media.transcribe import Transcriber
from assistant.messages import Attachment, ChatKind, MemberScope
from assistant.providers.base import ImagePart
from assistant.sensitivity import Judge

__all__ = ["FetchesFiles", "Media", "Prepared", "Received", "too_large_reason"]

log = logging.getLogger(__name__)

_SNIFF_BYTES = 4096
_READ_KEPT = 16
_READ_KEPT_S = 120.0
_UNREAD_NEEDS = {"image": "vision", "audio": "audio", "video": "video"}
_KIND_WORDS = {"image": "picture", "audio": "recording", "video": "video", "file": "file"}


@runtime_checkable
class FetchesFiles(Protocol):
    """A channel that can fetch the bytes of a file a member sent. ``message_id`` is the platform id of the
    message that carried it. Raises ``FileRefused`` when the file is larger than ``max_bytes`` (nothing is
    kept), ``ChannelError`` when the platform fails."""

    async def download(self, message_id: str, attachment: Attachment, *, max_bytes: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Received:
    """A file as it arrived: the platform id of its message, and what the channel said about it."""

    message_id: str
    attachment: Attachment


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a turn's files became. ``text`` joins the member's message (and so the history and memory);
    ``images`` go with it to a model that can see; ``refused`` are sentences for the member."""

    text: str = ""
    images: tuple[ImagePart, ...] = ()
    sensitive: bool = False
    kinds: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    refused: tuple[str, ...] = ()
    stored: int = 0

    @property
    def usable(self) -> bool:
        return bool(self.text or self.images or self.stored)


@dataclass
class _Turn:
    lines: list[str] = field(default_factory=list)
    images: list[ImagePart] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    sensitive: bool = False
    stored: int = 0

    def merge(self, other: _Turn) -> None:
        self.lines += other.lines
        self.images += other.images
        self.kinds += other.kinds
        self.needs |= other.needs
        self.refused += other.refused
        self.sensitive = self.sensitive or other.sensitive
        self.stored += other.stored


def too_large_reason(name: str, size: int, limit: int) -> str:
    return _sentence(f"{name} is {_megabytes(size)}, more than the {_megabytes(limit)} I accept, so I did not "
                     "take it. Send a smaller file or a link to it.")


def _sentence(text: str) -> str:
    return "The" + text[3:] if text.startswith("the ") else text


class Media:
    """Owns the transcription client; ``aclose`` once. ``channels`` are the running channels by name."""

    def __init__(self, config: Config, store: FileStore, channels: Mapping[str, object], *,
                 transcriber: Transcriber | None = None, reader: TextReader | None = None,
                 judge: Judge | None = None) -> None:
        self._config: MediaConfig = config.media
        self._routing = config.routing
        # What a file says is judged as the router judges it (routing.privacy_threshold and _embeddings; the daemon
        # passes the router's own judge, with its cache).
        self._judge = judge or Judge.for_routing(config.routing)
        self._store = store
        self._channels = channels
        self._transcriber = transcriber
        if transcriber is None and self._config.transcribe_url:
            self._transcriber = Transcriber(self._config)
        self._video_model = any("video" in m.abilities for m in config.all_models().values())
        # What each file became, kept a little while: a burst of messages restarts the turn with all of them, and
        # a file already downloaded, read, transcribed or looked at is not done again.
        self._done: OrderedDict[tuple[object, ...], tuple[float, _Turn]] = OrderedDict()
        self._reader = reader if reader is not None else (
            TextReader() if self._config.ocr and ocr_available() else None)

    def _recall(self, key: tuple[object, ...]) -> _Turn | None:
        now = time.monotonic()
        while self._done and now - next(iter(self._done.values()))[0] > _READ_KEPT_S:
            self._done.popitem(last=False)  # kept only for a burst's restarts: pictures are large
        found = self._done.get(key)
        return found[1] if found is not None else None

    def _remember(self, key: tuple[object, ...], done: _Turn) -> None:
        self._done[key] = (time.monotonic(), done)
        while len(self._done) > _READ_KEPT:
            self._done.popitem(last=False)

    @property
    def store(self) -> FileStore:
        return self._store

    async def aclose(self) -> None:
        if self._transcriber is not None:
            await self._transcriber.aclose()
        if self._reader is not None:
            self._reader.close()

    def local_only(self, scope: MemberScope) -> bool:
        """The member or chat is marked local-only: what they send is sensitive whatever it says."""
        members = {f"member:{scope.member_id}"}
        if scope.chat_kind is ChatKind.DIRECT:
            members.add(f"{scope.channel}:{scope.chat_id}")
        return (scope.private or f"{scope.channel}:{scope.chat_id}" in self._routing.private_chats
                or bool(members & set(self._routing.private_members)))

    async def prepare(self, scope: MemberScope, received: Sequence[Received]) -> Prepared:
        turn = _Turn()
        local_only = self.local_only(scope)
        turn.sensitive = local_only
        if local_only:
            turn.kinds.append(LOCAL_ONLY)
        for item in received:
            key = (scope.member_id, scope.channel, scope.chat_id, item.message_id, item.attachment.platform_file_id,
                   local_only)
            done = self._recall(key)
            if done is None:
                done = _Turn()
                try:
                    await self._one(scope, item, done, local_only)
                except FileRefused as exc:
                    done.refused.append(exc.reason)
                if done.stored or done.refused:  # a failed download is tried again by the next turn
                    self._remember(key, done)
            turn.merge(done)
        return Prepared(text="\n".join(turn.lines), images=tuple(turn.images), sensitive=turn.sensitive,
                        kinds=tuple(dict.fromkeys(turn.kinds)), needs=frozenset(turn.needs),
                        refused=tuple(turn.refused), stored=turn.stored)

    async def _one(self, scope: MemberScope, item: Received, turn: _Turn, local_only: bool) -> None:
        attachment = item.attachment
        word = _KIND_WORDS.get(attachment.kind, "file")
        name = attachment.name or f"(unnamed {word})"  # for the model
        spoken = attachment.name or f"the {word}"  # for the member
        limit = self._config.max_bytes
        if attachment.size is not None and attachment.size > limit:
            raise FileRefused(too_large_reason(spoken, attachment.size, limit))
        channel = self._channels.get(scope.channel)
        if not isinstance(channel, FetchesFiles):
            turn.lines.append(f"[{name}: this chat platform does not let me download files]")
            self._unread(attachment, turn)
            return
        try:
            data = await channel.download(item.message_id, attachment, max_bytes=limit)
        except FileRefused:
            raise
        except ChannelError as exc:
            log.warning("media: downloading %s failed: %s", attachment.kind, exc)
            turn.lines.append(f"[{name}: could not be downloaded from the platform]")
            self._unread(attachment, turn)
            return
        if len(data) > limit:
            raise FileRefused(too_large_reason(spoken, len(data), limit))
        mime = sniff_mime(data[:_SNIFF_BYTES], attachment.mime)
        if not type_allowed(mime, self._config.allowed_types):
            raise FileRefused(_sentence(f"{spoken} is a {mime} file, which I do not take; nothing was stored."))
        kind = _kind_of(mime, attachment.kind)
        saved = await self._store.save(scope, data, kind=kind, mime=mime, name=attachment.name or "",
                                       local_only=local_only)
        turn.stored += 1
        texts: list[str] = []
        if mime in IMAGE_TYPES:
            turn.images.append(ImagePart(mime, data))
            turn.needs.add("vision")
            words = await self._reader.read(data) if self._reader is not None else ""
            if words:
                texts.append(words)
                turn.lines.append(f"[picture {name} attached; the text in it:]\n{words}")
            else:
                turn.lines.append(f"[picture {name} attached]")
        elif kind == "image":
            turn.lines.append(f"[picture {name} ({mime}): stored, but in a format the models cannot take; ask for a "
                              "JPEG or PNG]")
        elif kind == "audio":
            transcript = await self._transcript(data, mime, local_only, turn, name)
            if transcript:
                texts.append(transcript)
                turn.lines.append(f"[recording {name}, transcript:]\n{transcript}")
        elif kind == "video":
            texts += await self._video(saved.path, name, local_only, turn)
        else:
            extracted = await asyncio.to_thread(document_text, data, mime, max_chars=self._config.extract_max_chars,
                                                max_pages=self._config.pdf_max_pages)
            if extracted is None:
                turn.lines.append(f"[{name}: {mime} file stored; no text could be read from it]")
            else:
                texts.append(extracted.text)
                pages = f", {extracted.pages} page{'s' if extracted.pages != 1 else ''}" if extracted.pages else ""
                cut = " (cut short)" if extracted.cut else ""
                turn.lines.append(f"[document {name}{pages}, its text{cut}:]\n{extracted.text}")
        description = "\n".join(t for t in texts if t)
        if not description:
            return
        # In a thread: a document's windows may each be embedded by the detector (~15 ms apiece).
        verdict = await asyncio.to_thread(self._judge.judge, description)
        # Kept beside the file with the verdict, so a later detector (or other privacy settings) judges it again.
        await self._store.record_reading(saved.file_id, description, verdict)
        if verdict.kinds:
            # What it says holds personal data: the file and this turn stay on this machine.
            turn.sensitive = True
            turn.kinds.extend(verdict.kinds)

    async def rescan(self) -> int:
        """Judge again what was read from files under an older detector or other privacy settings; a failure is
        logged, never raised (the daemon runs it in the background; a file not judged again keeps its flag)."""
        try:
            return await self._store.rescan(self._judge)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sensitivity: judging files again failed; they keep their old verdicts")
            return 0

    @staticmethod
    def _unread(attachment: Attachment, turn: _Turn) -> None:
        # Not in hand: the turn still needs what the file would need, so the reply says when no model could take it.
        need = _UNREAD_NEEDS.get(attachment.kind)
        if need is not None:
            turn.needs.add(need)

    async def _transcript(self, data: bytes, mime: str, local_only: bool, turn: _Turn, name: str) -> str:
        if self._transcriber is None:
            turn.lines.append(f"[{name}: a recording; speech-to-text is not set up (media.transcribe_url)]")
            return ""
        try:
            return await self._transcriber.transcribe(data, mime, private=local_only)
        except PrivacyViolation:
            turn.lines.append(f"[{name}: a recording; not transcribed, because this member or chat is local-only "
                              "and the transcription endpoint is in the cloud]")
        except ProviderError as exc:
            log.warning("media: transcription failed: %s", exc)
            turn.lines.append(f"[{name}: a recording; transcription failed]")
        return ""

    async def _video(self, path: Path, name: str, local_only: bool, turn: _Turn) -> list[str]:
        if not video.ffmpeg_available():
            turn.lines.append(f"[{name}: a video; it cannot be looked at here: {video.FFMPEG_HINT}]")
            return []
        frames = await video.sample_frames(path, self._config.video_frames, self._config.video_frame_width)
        turn.images.extend(ImagePart("image/jpeg", frame) for frame in frames)
        if frames:
            turn.needs.add("video" if self._video_model else "vision")
        sound = await video.audio_track(path)
        transcript = ""
        if sound is not None:
            transcript = await self._transcript(sound, "audio/wav", local_only, turn, f"{name} (its sound)")
        said = f"; what is said in it:\n{transcript}" if transcript else ("" if sound is not None else "; no sound")
        turn.lines.append(f"[video {name}: {len(frames)} frames attached, spread over the clip{said}]")
        return [transcript] if transcript else []


def _kind_of(mime: str, declared: str) -> str:
    """What the bytes are, by their type; a voice note in a video container (webm) is still a recording."""
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("audio/") or (declared == "audio" and mime.startswith("video/")):
        return "audio"
    return "video" if mime.startswith("video/") else "file"


def _megabytes(size: int) -> str:
    if size >= 100_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1000:.0f} KB" if size >= 1000 else f"{size} bytes"

