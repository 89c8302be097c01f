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


def mp3_bytes(seconds: float, *, id3: bool = True) -> bytes:
    frames = round(seconds / MP3_FRAME_S)
    frame = MP3_FRAME_HEADER + b"\0" * (MP3_FRAME_BYTES - 4)
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\0" * 10 if id3 else b""
    return tag + frame * frames
