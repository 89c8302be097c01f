"""What an uploaded file really is: its type sniffed from the bytes, and its duration.

Only the formats the vendor's upload page names (MP3 and WAV) are recognised; the file name and
the client's Content-Type are never trusted. Pure functions over a seekable binary file, no
dependencies: a RIFF/WAVE header walk and an MPEG audio frame walk.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

# MPEG audio: bit rates (kbit/s) by [version is MPEG-1][layer index], sample rates by version.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
# Consecutive valid frames needed at the start before bytes count as MP3 (a lone 0xFFE sync
# word turns up in any binary file).
MP3_FRAMES_TO_TRUST = 3
# WAV: the sample formats a player (and the vendor) can decode, and sane bounds for the rest of
# the `fmt ` chunk; anything else is some other payload wearing a RIFF/WAVE header.
WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT, WAVE_FORMAT_EXTENSIBLE = 1, 3, 0xFFFE
WAV_CHANNELS = range(1, 9)
WAV_SAMPLE_RATES_HZ = range(8_000, 192_001)
WAV_BITS_PER_SAMPLE = (8, 16, 24, 32)
# The fixed tail of an extensible subformat GUID (KSDATAFORMAT_SUBTYPE_*); its first two bytes
# are the format code.
_SUBFORMAT_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
READ_CHUNK_BYTES = 1 << 20


class NotAudio(ValueError):
    """The bytes are not a WAV or MP3 we can read."""


@dataclass(frozen=True)
class AudioInfo:
    format: str  # "wav" or "mp3": also the stored file's extension
    content_type: str
    duration_s: float


def audio_inspect(file: IO[bytes]) -> AudioInfo:
    """Sniff `file` (seekable, read from the start) and measure it; raises NotAudio."""
    file.seek(0)
    head = file.read(12)
    file.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return AudioInfo("wav", "audio/wav", _wav_duration(file))
    data = file.read()
    file.seek(0)
    return AudioInfo("mp3", "audio/mpeg", _mp3_duration(data))


def _wav_duration(file: IO[bytes]) -> float:
    file.seek(12)
    byte_rate = None
    while True:
        header = file.read(8)
        if len(header) < 8:
            break
        kind, size = header[:4], struct.unpack("<I", header[4:])[0]
        if kind == b"fmt ":
            fmt = file.read(size)
            if len(fmt) < 16:
                raise NotAudio("The WAV file's format chunk is cut short.")
            byte_rate = _wav_byte_rate(fmt)
            size = 0
        elif kind == b"data":
            if not byte_rate:
                raise NotAudio("The WAV file has no format before its audio.")
            # A streamed WAV may declare 0xFFFFFFFF: count only the bytes that are there.
            start = file.tell()
            file.seek(0, 2)
            present = min(size, file.tell() - start)
            file.seek(0)
            return present / byte_rate
        file.seek(size + (size & 1), 1)  # chunks are padded to an even length
    raise NotAudio("The WAV file has no audio data.")


def _wav_byte_rate(fmt: bytes) -> int:
    """The byte rate of a `fmt ` chunk describing PCM or float audio within bounds; NotAudio
    (naming the rule) for anything else."""
    code, channels, rate_hz, byte_rate, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if code == WAVE_FORMAT_EXTENSIBLE:
        # cbSize (22), valid bits, channel mask, then the subformat GUID.
        if len(fmt) < 40 or fmt[26:40] != _SUBFORMAT_GUID_TAIL:
            raise NotAudio("The WAV file is extensible but does not say what its samples are.")
        code = struct.unpack("<H", fmt[24:26])[0]
        if code not in (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT):
            raise NotAudio(
                f"The WAV file's extensible subformat 0x{code:04x} is not PCM or float audio."
            )
    elif code not in (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT):
        raise NotAudio(
            f"The WAV file's format code 0x{code:04x} is not PCM (1), IEEE float (3) or "
            "extensible (0xFFFE) audio."
        )
    if channels not in WAV_CHANNELS:
        raise NotAudio(f"The WAV file has {channels} channels; 1 to 8 are allowed.")
    if rate_hz not in WAV_SAMPLE_RATES_HZ:
        raise NotAudio(
            f"The WAV file's sample rate is {rate_hz} Hz; 8000 to 192000 Hz are allowed."
        )
    allowed_bits = (32,) if code == WAVE_FORMAT_IEEE_FLOAT else WAV_BITS_PER_SAMPLE
    if bits not in allowed_bits:
        raise NotAudio(
            f"The WAV file has {bits} bits per sample; "
            f"{'/'.join(map(str, allowed_bits))} are allowed for its format."
        )
    if align != channels * bits // 8:
        raise NotAudio(
            f"The WAV file's block align {align} does not match {channels} channels of {bits} bits."
        )
    if byte_rate != rate_hz * align:
        raise NotAudio(
            f"The WAV file's byte rate {byte_rate} does not match {rate_hz} Hz x {align} bytes."
        )
    return byte_rate


def _id3v2_length(data: bytes) -> int:
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9]
    return 10 + size + (10 if data[5] & 0x10 else 0)  # footer flag


def _frame(data: bytes, at: int) -> tuple[int, int, int] | None:
    """(frame length in bytes, samples in it, sample rate) of the MPEG frame at `at`, or None."""
    if at + 4 > len(data) or data[at] != 0xFF or data[at + 1] & 0xE0 != 0xE0:
        return None
    version = (data[at + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((data[at + 1] >> 1) & 3)  # 1, 2, 3; 4 is reserved
    bitrate_index = data[at + 2] >> 4
    rate_index = (data[at + 2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (data[at + 2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // sample_rate + padding) * 4, 384, sample_rate
    samples = 1152 if (layer == 2 or mpeg1) else 576
    return samples // 8 * bitrate // sample_rate + padding, samples, sample_rate


def _mp3_duration(data: bytes) -> float:
    at = _id3v2_length(data)
    seconds, frames = 0.0, 0
    while at < len(data):
        frame = _frame(data, at)
        if frame is None:
            break
        length, samples, sample_rate = frame
        seconds += samples / sample_rate
        frames += 1
        at += length
    if frames < MP3_FRAMES_TO_TRUST:
        raise NotAudio("The file is not MP3 or WAV audio.")
    return seconds
