"""Real audio bytes for upload tests: a WAV tone (optionally with an INFO comment, where the
simulator reads its markers) and an MP3-framed stream."""

from __future__ import annotations

import io
import struct
import wave

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames of 1,152 samples.
MP3_FRAME_HEADER = bytes([0xFF, 0xFB, 0x90, 0x00])
MP3_FRAME_BYTES = 417
MP3_FRAME_S = 1152 / 44100


def wav_bytes(seconds: float, *, comment: str = "", rate_hz: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate_hz)
        out.writeframes(bytes([128, 180, 128, 76]) * int(seconds * rate_hz / 4))
    data = buffer.getvalue()
    if not comment:
        return data
    text = comment.encode() + b"\0"
    text += b"\0" * (len(text) & 1)
    info = b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    body = data[12:] + chunk
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def wav_with_format(
    *,
    format_code: int = 1,
    channels: int = 1,
    rate_hz: int = 8000,
    bits: int = 8,
    block_align: int | None = None,
    byte_rate: int | None = None,
    extension: bytes = b"",
    seconds: float = 8.0,
) -> bytes:
    """A RIFF/WAVE file whose `fmt ` chunk says whatever it is told (by default what `wav_bytes`
    writes), over 8 s of bytes worth of data at the byte rate (or 64 kB with a byte rate of 0)."""
    align = channels * bits // 8 if block_align is None else block_align
    rate = rate_hz * align if byte_rate is None else byte_rate
    fmt = struct.pack("<HHIIHH", format_code, channels, rate_hz, rate, align, bits) + extension
    data = bytes([128, 180, 128, 76]) * (int(seconds * (rate or 8000)) // 4)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mp3_bytes(seconds: float, *, id3: bool = True) -> bytes:
    frames = round(seconds / MP3_FRAME_S)
    frame = MP3_FRAME_HEADER + b"\0" * (MP3_FRAME_BYTES - 4)
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\0" * 10 if id3 else b""
    return tag + frame * frames
