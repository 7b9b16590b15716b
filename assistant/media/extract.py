"""Text from documents members send (PDF through pypdf, plain text as it is), read on this machine so a model
without vision can still help and the privacy scan can judge the document."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

__all__ = ["ExtractedText", "document_text"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """Extracted text; ``pages`` is how many pages were read (0 for plain text), ``cut`` whether it was cut short."""

    text: str
    pages: int = 0
    cut: bool = False


def document_text(data: bytes, mime: str, *, max_chars: int, max_pages: int) -> ExtractedText | None:
    """The document's text (blocking: call through ``asyncio.to_thread``); None when it has none we can read."""
    if mime == "application/pdf":
        return _pdf_text(data, max_chars=max_chars, max_pages=max_pages)
    if mime.startswith("text/") or mime == "application/json":
        text = data.decode("utf-8", errors="replace")
        return ExtractedText(text[:max_chars], cut=len(text) > max_chars)
    return None


def _pdf_text(data: bytes, *, max_chars: int, max_pages: int) -> ExtractedText | None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return None
        pieces: list[str] = []
        size = 0
        pages = 0
        for page in reader.pages[:max_pages]:
            text = (page.extract_text() or "").strip()
            pages += 1
            if text:
                pieces.append(text)
                size += len(text)
            if size >= max_chars:
                break
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        # A broken or unusual PDF is still stored and named to the model; only its text is missing.
        log.info("media: no text from a PDF (%s)", type(exc).__name__)
        return None
    text = "\n\n".join(pieces)
    cut = size > max_chars or len(reader.pages) > pages
    return ExtractedText(text[:max_chars], pages=pages, cut=cut) if text else None
