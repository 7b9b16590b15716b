"""Text inside pictures (screenshots, photos of whiteboards), read on this machine with RapidOCR: PP-OCRv4
(Chinese and English) as ONNX models inside the ``rapidocr-onnxruntime`` wheel, run by onnxruntime. Optional
(``pip install 'teamclaw[ocr]'``): without it pictures are judged by their caption and where they were sent.

The engine is loaded on the first picture (about 0.6 s; it then holds a few hundred MB) and reads one picture at a
time in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from typing import Any

__all__ = ["OCR_PACKAGE", "TextReader", "ocr_available"]

log = logging.getLogger(__name__)

OCR_PACKAGE = "rapidocr_onnxruntime"
MIN_SCORE = 0.5  # lines the recogniser is less sure of are left out


def ocr_available() -> bool:
    return importlib.util.find_spec(OCR_PACKAGE) is not None


class TextReader:
    """Reads the text in a picture; ``read`` returns "" when there is none (or the picture cannot be decoded)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = asyncio.Lock()

    async def read(self, data: bytes) -> str:
        async with self._lock:  # one picture at a time: the engine is not shared between threads
            return await asyncio.to_thread(self._read, data)

    def _read(self, data: bytes) -> str:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR()
        try:
            found, _ = self._engine(data)
        except Exception as exc:  # a picture the decoder cannot read: judged without its text, like any other
            log.info("media: no text read from a picture (%s)", type(exc).__name__)
            return ""
        lines = [str(item[1]) for item in found or () if len(item) > 2 and float(item[2]) >= MIN_SCORE]
        return "\n".join(line for line in lines if line.strip())
