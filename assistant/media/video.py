"""Video with ffmpeg: a few frames spread over the clip (JPEG) and the audio track (16 kHz mono WAV) for its
transcript. ffmpeg runs as a child process (never on the event loop); without it, videos are stored and named
but not looked at (``ffmpeg_available`` says which)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

__all__ = ["FFMPEG_HINT", "audio_track", "ffmpeg_available", "sample_frames"]

log = logging.getLogger(__name__)

FFMPEG_HINT = "install ffmpeg (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg)"
_STEP_TIMEOUT_S = 60.0


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


async def _run(*args: str) -> tuple[int, bytes]:
    process = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(_STEP_TIMEOUT_S):
            out, _ = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return int(process.returncode or 0), out


async def duration_s(path: Path) -> float:
    code, out = await _run("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                           str(path))
    try:
        return max(float(out.decode().strip()), 0.0) if code == 0 else 0.0
    except ValueError:
        return 0.0


async def sample_frames(path: Path, count: int, width: int) -> list[bytes]:
    """Up to ``count`` JPEG frames, evenly spread over the clip (the middle of each of ``count`` slices)."""
    length = await duration_s(path)
    moments = [length * (i + 0.5) / count for i in range(count)] if length > 0 else [0.0]
    frames: list[bytes] = []
    for moment in moments:
        code, out = await _run(
            "ffmpeg", "-nostdin", "-v", "error", "-ss", f"{moment:.3f}", "-i", str(path), "-frames:v", "1",
            "-vf", f"scale='min({width},iw)':-2", "-f", "image2pipe", "-vcodec", "mjpeg", "-q:v", "4", "pipe:1")
        if code == 0 and out.startswith(b"\xff\xd8"):
            frames.append(out)
    return frames


async def audio_track(path: Path) -> bytes | None:
    """The audio as 16 kHz mono WAV (what speech models want); None when the clip has no sound."""
    code, out = await _run("ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000",
                           "-f", "wav", "pipe:1")
    if code != 0 or len(out) <= 44:  # 44 bytes: a WAV header with no samples
        return None
    return out
