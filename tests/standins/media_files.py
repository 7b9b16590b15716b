"""Small real files for the media tests, made on the spot: a PNG, a screenshot of a line of text, a PDF with a line
of text, an Ogg voice note and (with ffmpeg) a two-second MP4 with a picture and a tone."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

__all__ = ["FFMPEG", "ogg_voice", "pdf_with_text", "png_image", "screenshot", "tiny_video"]

FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def png_image(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def screenshot(text: str) -> bytes:
    """A PNG showing ``text`` in black on white, large enough to read (Pillow's built-in font)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", (40 + 26 * len(text), 160), "white")
    ImageDraw.Draw(picture).text((20, 50), text, fill="black", font=ImageFont.load_default(size=44))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def pdf_with_text(*lines: str) -> bytes:
    """A one-page PDF showing ``lines`` in Helvetica (what a text extractor reads back)."""
    body = " ".join(f"({_pdf_escape(line)}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {body} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def ogg_voice(seconds: int = 2) -> bytes:
    """Bytes that are an Ogg stream by their signature (the transcription stand-in does not decode them)."""
    return b"OggS\x00\x02" + bytes(range(256)) * (seconds * 8)


def tiny_video(folder: Path, *, seconds: int = 2, sound: bool = True) -> bytes:
    """A real MP4 (160x120 test picture, a 440 Hz tone) made with ffmpeg; needs ``FFMPEG``."""
    target = folder / "clip.mp4"
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc=duration={seconds}:size=160x120:rate=10"]
    if sound:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    args += ["-c:v", "mpeg4", "-pix_fmt", "yuv420p", str(target)]
    subprocess.run(args, check=True, timeout=60)
    return target.read_bytes()


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
