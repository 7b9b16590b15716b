"""What a file really is, read from its first bytes: the type check does not trust a name or a declared type."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

__all__ = ["IMAGE_TYPES", "extension_for", "sniff_mime", "type_allowed"]

# The image formats both OpenAI-compatible and Anthropic vision models accept.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp",
    "application/pdf": ".pdf", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/mp4": ".m4a",
    "audio/flac": ".flac", "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
    "text/plain": ".txt", "application/json": ".json", "application/zip": ".zip",
}


def sniff_mime(head: bytes, declared: str | None = None) -> str:
    """The MIME type the bytes show; the declared one only where the bytes say nothing definite (plain text)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"  # an iPhone photo: same container family as MP4, not a video
        if brand in (b"avif", b"avis"):
            return "image/avif"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if _looks_like_text(head):
        if declared and (declared.startswith("text/") or declared == "application/json"):
            return declared
        return "text/plain"
    return "application/octet-stream"


def type_allowed(mime: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(mime, pattern) for pattern in patterns)


def extension_for(mime: str) -> str:
    return _EXTENSIONS.get(mime, ".bin")


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True
