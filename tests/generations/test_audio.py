"""Uploaded audio is recognised from its bytes and measured: WAV and MP3, nothing else."""

import io

import pytest

from generations.audio import NotAudio, audio_inspect
from tests.audio_files import MP3_FRAME_S, mp3_bytes, wav_bytes


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
