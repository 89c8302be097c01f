"""Real media for simulated clips: a WAV tone of the reported duration and a PNG cover."""

from __future__ import annotations

import functools
import io
import math
import struct
import wave
import zlib

SAMPLE_RATE_HZ = 8000


@functools.lru_cache(maxsize=16)
def tone_wav(duration_s: float, frequency_hz: float = 440.0) -> bytes:
    """8 kHz 8-bit mono sine tone: small, real, and playable by any browser."""
    frames = int(duration_s * SAMPLE_RATE_HZ)
    step = 2 * math.pi * frequency_hz / SAMPLE_RATE_HZ
    period = max(1, round(SAMPLE_RATE_HZ / frequency_hz))
    cycle = bytes(int(128 + 60 * math.sin(step * i)) for i in range(period))
    samples = (cycle * (frames // period + 1))[:frames]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(SAMPLE_RATE_HZ)
        out.writeframes(samples)
    return buffer.getvalue()


@functools.lru_cache(maxsize=16)
def cover_png(rgb: tuple[int, int, int], size: int = 64) -> bytes:
    """A solid-colour square PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Parse a single `Range: bytes=` header: (start, end) inclusive, None for the whole body,
    or "unsatisfiable"."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return "unsatisfiable"
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)
