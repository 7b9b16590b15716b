"""Media benchmark: what members' files cost on this machine, through the real daemon and the stand-ins.

Figures: a photo turn end to end over the Telegram stand-in (download, store, route to the vision model; the model
stand-in answers at once), the same with a 5 MB picture, PDF text extraction (20 pages), ffmpeg frames and sound of
a 2 s and a 10 s clip, and OCR (load, per picture, memory) when the ocr extra is installed.

    .venv/bin/python -m tests.bench.bench_media [--photos 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from assistant.daemon import App
from assistant.media import document_text, ffmpeg_available
from assistant.media.ocr import TextReader, ocr_available
from assistant.media.video import audio_track, sample_frames
from tests.bench.common import RssSampler, percentile, print_figures
from tests.standins.group_world import GroupTelegram, group_config, telegram_section
from tests.standins.media_files import pdf_with_text, png_image, screenshot, tiny_video
from tests.standins.model_server import ScriptedModelServer

ALICE = 4001


async def photo_turns(count: int, picture: bytes) -> list[float]:
    """Seconds from a photo reaching the platform to the answer reaching it, ``count`` times."""
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, GroupTelegram() as tg, ScriptedModelServer() as model:
        models = {"vision": {"provider": "openai", "base_url": model.openai_base_url, "model": "standin-vision",
                             "location": "local", "tier": 1, "abilities": ["tools", "vision"], "max_retries": 0}}
        config = group_config(Path(tmp) / "home", model, telegram=telegram_section(tg, poll_timeout_s=1),
                              models=models, owners=[f"telegram:{ALICE}"], media={"ocr": False})
        async with App(config, scheduler=False, dashboard=False, status_file=False):
            for n in range(count):
                started = time.perf_counter()
                # A different picture each time (the store would otherwise keep one copy): one changed pixel row.
                data = picture[:-16] + n.to_bytes(4, "big") + picture[-12:] if len(picture) > 64 else picture
                update = tg.push_message(ALICE, "private", ALICE, "Alice", "what is this?", photo=data)
                await tg.wait_for_reply(ALICE, int(update["message"]["message_id"]), timeout=30)
                timings.append(time.perf_counter() - started)
    return timings


async def main(photos: int) -> None:
    small = await photo_turns(photos, png_image(64, 64))
    print_figures("photo turn, end to end (stand-in model answers at once)", {
        "photos": photos, "p50 ms": percentile(small, 50) * 1000, "p95 ms": percentile(small, 95) * 1000})
    big_picture = png_image(64, 64) + b"\0" * 5_000_000  # a PNG with 5 MB behind its end: the bytes still travel
    big = await photo_turns(max(3, photos // 5), big_picture)
    print_figures("5 MB picture turn", {"p50 ms": percentile(big, 50) * 1000, "max ms": max(big) * 1000})

    document = pdf_with_text(*(f"Line {i} of the quarterly report, with some words." for i in range(40)))
    started = time.perf_counter()
    for _ in range(20):
        document_text(document, "application/pdf", max_chars=20_000, max_pages=50)
    print_figures("PDF text (one page, 40 lines)", {"ms each": (time.perf_counter() - started) / 20 * 1000})

    if ffmpeg_available():
        with tempfile.TemporaryDirectory() as tmp:
            for seconds in (2, 10):
                folder = Path(tmp) / str(seconds)
                folder.mkdir()
                tiny_video(folder, seconds=seconds)
                started = time.perf_counter()
                frames = await sample_frames(folder / "clip.mp4", 4, 768)
                framed = time.perf_counter() - started
                sound = await audio_track(folder / "clip.mp4")
                print_figures(f"video {seconds} s (160x120)", {
                    "4 frames ms": framed * 1000, "sound track ms": (time.perf_counter() - started - framed) * 1000,
                    "frames": len(frames), "wav KB": len(sound or b"") / 1000})
    else:
        print("\n== video: ffmpeg is not installed, skipped ==")

    if ocr_available():
        reader = TextReader()
        picture = screenshot("Call me at 13812345678")
        sampler = RssSampler(every_s=0.01)
        async with sampler.running():
            before = sampler.now_mb()
            started = time.perf_counter()
            await reader.read(png_image())
            loaded = time.perf_counter() - started
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                await reader.read(picture)
                runs.append(time.perf_counter() - started)
            held = sampler.now_mb() - before
        reader.close()
        print_figures("OCR (RapidOCR, PP-OCRv4, one thread)", {
            "first call incl. load s": loaded, "per screenshot s (median of 3)": sorted(runs)[1],
            "RSS held after MB": held, "RSS peak growth MB": sampler.peak_mb - before})
    else:
        print("\n== OCR: the ocr extra is not installed, skipped ==")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    asyncio.run(main(parser.parse_args().photos))
