"""Uploaded audio is recognised from its bytes and measured: WAV and MP3, nothing else."""

import io
import struct

import pytest

from generations.audio import NotAudio, audio_inspect
from tests.audio_files import MP3_FRAME_S, mp3_bytes, wav_bytes, wav_with_format


def test_a_wav_is_recognised_and_measured():
    info = audio_inspect(io.BytesIO(wav_bytes(7.5)))
    assert (info.format, info.content_type) == ("wav", "audio/wav")
    assert info.duration_s == pytest.approx(7.5, abs=0.01)


def test_a_wav_with_a_comment_chunk_after_its_audio_is_measured_the_same():
    info = audio_inspect(io.BytesIO(wav_bytes(7.5, comment="[sim:copyright] a note")))
    assert info.duration_s == pytest.approx(7.5, abs=0.01)


def test_an_mp3_is_recognised_and_measured_with_or_without_an_id3_tag():
    for data in (mp3_bytes(10.0), mp3_bytes(10.0, id3=False)):
        info = audio_inspect(io.BytesIO(data))
        assert (info.format, info.content_type) == ("mp3", "audio/mpeg")
        assert info.duration_s == pytest.approx(10.0, abs=MP3_FRAME_S)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + b"x" * 5000,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 5000,
        b"RIFF\x10\0\0\0WAVEdata\x04\0\0\0abcd",  # audio before any format
        b"\xff\xfb\x90\x00" + b"\0" * 100,  # one stray sync word is not an MP3
        b"",
    ],
    ids=["pdf", "png", "wav-without-format", "lone-sync-word", "empty"],
)
def test_anything_else_is_not_audio(data):
    with pytest.raises(NotAudio):
        audio_inspect(io.BytesIO(data))


# WAVE_FORMAT_EXTENSIBLE's tail: valid bits, channel mask, then the subformat GUID (whose first
# two bytes are the format code: 1 PCM, 3 IEEE float).
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def _extensible(code: int, bits: int = 16) -> bytes:
    return struct.pack("<HHIH", 22, bits, 4, code) + _GUID_TAIL


@pytest.mark.parametrize(
    "fmt",
    [
        {},
        {"channels": 2, "rate_hz": 44100, "bits": 16},
        {"channels": 8, "rate_hz": 192000, "bits": 24},
        {"format_code": 3, "channels": 2, "rate_hz": 48000, "bits": 32},
        {
            "format_code": 0xFFFE,
            "channels": 2,
            "rate_hz": 48000,
            "bits": 16,
            "extension": _extensible(1),
        },
        {
            "format_code": 0xFFFE,
            "channels": 1,
            "rate_hz": 48000,
            "bits": 32,
            "extension": _extensible(3, 32),
        },
    ],
    ids=["pcm-8k-8bit-mono", "cd", "8ch-192k-24bit", "float", "extensible-pcm", "extensible-float"],
)
def test_a_wav_of_pcm_or_float_audio_within_bounds_is_measured(fmt):
    info = audio_inspect(io.BytesIO(wav_with_format(**fmt, seconds=7.0)))
    assert info.duration_s == pytest.approx(7.0, abs=0.01)


def test_the_simulators_tone_is_a_wav_the_check_accepts():
    from workers.musicapi.simulator.media import tone_wav

    assert audio_inspect(io.BytesIO(tone_wav(8.0))).duration_s == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("fmt", "words"),
    [
        (
            {
                "format_code": 0x1234,
                "channels": 0,
                "rate_hz": 0,
                "bits": 0,
                "block_align": 0,
                "byte_rate": 24000,
            },
            "format code 0x1234",
        ),
        ({"format_code": 0x55}, "format code 0x0055"),  # MP3 inside a WAV
        ({"channels": 0}, "0 channels"),
        ({"channels": 9}, "9 channels"),
        ({"rate_hz": 1, "byte_rate": 8000}, "1 Hz"),
        ({"rate_hz": 7999}, "7999 Hz"),
        ({"rate_hz": 192001}, "192001 Hz"),
        ({"bits": 12, "block_align": 2}, "12 bits"),
        ({"format_code": 3, "bits": 16}, "16 bits"),  # float is 32-bit
        ({"block_align": 3}, "block align"),
        ({"byte_rate": 24000}, "byte rate"),
        ({"format_code": 0xFFFE}, "extensible"),  # no extension to say what it holds
        ({"format_code": 0xFFFE, "bits": 16, "extension": _extensible(0x55)}, "subformat 0x0055"),
    ],
    ids=[
        "the-review-repro",
        "mp3-in-wav",
        "no-channels",
        "nine-channels",
        "1-hz",
        "under-8k",
        "over-192k",
        "12-bit",
        "16-bit-float",
        "block-align",
        "byte-rate",
        "extensible-cut-short",
        "extensible-not-pcm",
    ],
)
def test_a_wav_whose_format_is_not_pcm_or_float_audio_within_bounds_is_not_audio(fmt, words):
    with pytest.raises(NotAudio, match=words):
        audio_inspect(io.BytesIO(wav_with_format(**fmt)))
