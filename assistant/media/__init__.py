"""Files members send (pictures, voice notes, documents, videos): downloaded within limits, stored once per
member in their workspace, and made readable for a model (image parts, document text, transcripts, frames)."""

from __future__ import annotations

from assistant.media.extract import ExtractedText, document_text
from assistant.media.intake import FetchesFiles, Media, Prepared, Received, too_large_reason
from assistant.media.sniff import IMAGE_TYPES, sniff_mime, type_allowed
from assistant.media.store import FileStore, Saved
from assistant.media.tables import StoredFile
from assistant.media.transcribe import Transcriber
from assistant.media.video import audio_track, ffmpeg_available, sample_frames

__all__ = [
    "IMAGE_TYPES",
    "ExtractedText",
    "FetchesFiles",
    "FileStore",
    "Media",
    "Prepared",
    "Received",
    "Saved",
    "StoredFile",
    "Transcriber",
    "audio_track",
    "document_text",
    "ffmpeg_available",
    "sample_frames",
    "sniff_mime",
    "too_large_reason",
    "type_allowed",
]
