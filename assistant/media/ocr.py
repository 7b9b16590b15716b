"""Text inside pictures (screenshots, photos of whiteboards), read on this machine with RapidOCR: PP-OCRv4
(Chinese and English) as ONNX models inside the ``rapidocr-onnxruntime`` wheel, run by onnxruntime. Optional
(``pip install 'teamclaw[ocr]'``): without it pictures are judged by their caption and where they were sent.

The engine is loaded on the first picture (0.6-1.5 s) and then holds about 400 MB, peaking near 750 MB while it
reads; it reads one picture at a time in its own thread, never on the event loop."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from concurrent.futures import ThreadPoolExecutor
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
        # One named thread reads every picture, one at a time: the engine is never used from two threads, and its
        # work never waits behind (or holds up) the other blocking work of the default pool.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")

    async def read(self, data: bytes) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, data)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _read(self, data: bytes) -> str:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            # One thread: on a small shared machine it is about twice as fast as the default (all cores) and holds
            # less than half the memory (measured on 2 cores: 2.2 s and +140 MB against 4.4 s and +330 MB).
            self._engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        try:
            found, _ = self._engine(data)
        except Exception as exc:  # a picture the decoder cannot read: judged without its text, like any other
            log.info("media: no text read from a picture (%s)", type(exc).__name__)
            return ""
        lines = [str(item[1]) for item in found or () if len(item) > 2 and float(item[2]) >= MIN_SCORE]
        return "\n".join(line for line in lines if line.strip())
