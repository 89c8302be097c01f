"""Typed requests and answers, in the service's words rather than the vendor's."""

from __future__ import annotations

from dataclasses import dataclass, field

CLIP_STATES = frozenset({"pending", "running", "streaming", "succeeded", "failed"})
FINAL_CLIP_STATES = frozenset({"succeeded", "failed"})


@dataclass(frozen=True)
class CreateRequest:
    """One generation as the vendor should receive it; fields mirror the public API."""

    model: str
    mode: str = "description"  # or "custom"
    description: str = ""
    lyrics: str = ""
    title: str = ""
    tags: str = ""
    negative_tags: str = ""
    auto_lyrics: bool = False
    instrumental: bool = False
    vocal_gender: str = ""
    operation: str = "create"  # "extend", "cover", "concat", "persona_music"
    source_vendor_clip_id: str = ""
    # The source clip came from an upload: extend and cover use the vendor's upload task types.
    source_uploaded: bool = False
    persona_id: str = ""  # the vendor's, for persona_music
    continue_at: float | None = None
    webhook_url: str = ""
    webhook_secret: str = ""


@dataclass(frozen=True)
class PersonaRequest:
    """A persona from one of the vendor's clips, in the contract's current shape."""

    clip_id: str
    name: str
    describe: str = ""  # the persona's voice and style, in words
    styles: str = ""  # style tags


@dataclass(frozen=True)
class VendorClip:
    clip_id: str
    state: str
    title: str = ""
    tags: str = ""
    lyrics: str = ""
    audio_url: str = ""
    image_url: str = ""
    duration: float | None = None
    model: str = ""
    created_at: str = ""
    error: str = ""

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_CLIP_STATES


@dataclass(frozen=True)
class TaskStatus:
    """`finished` only when there are clips and every one is succeeded or failed."""

    clips: tuple[VendorClip, ...] = field(default_factory=tuple)

    @property
    def finished(self) -> bool:
        return bool(self.clips) and all(clip.is_final for clip in self.clips)


@dataclass(frozen=True)
class VendorFile:
    """One file of a derived output: `name` is the stem's (or "wav"), lower-case."""

    name: str
    url: str


@dataclass(frozen=True)
class DerivedAnswer:
    """A derived output (WAV, stems) at the vendor: still working on `task_id`, or finished
    with `files`, or failed with the vendor's `error`."""

    task_id: str = ""
    finished: bool = False
    error: str = ""
    files: tuple[VendorFile, ...] = ()


@dataclass(frozen=True)
class LyricsDraft:
    title: str
    lyrics: str


@dataclass(frozen=True)
class Credits:
    credits: int
    extra_credits: int = 0


@dataclass(frozen=True)
class Limits:
    """The vendor's request limits, in characters; the client refuses to send more."""

    description: int = 400
    lyrics: int = 3000
    lyrics_newer: int = 5000
    title: int = 80
    tags: int = 200
    negative_tags: int = 200
    # `POST /sonic/lyrics`: "The description character length should be less than 120."
    lyrics_description: int = 119
    # `POST /sonic/persona`: "less than 80" / "less than 200"; `styles` is not stated: as tags.
    persona_name: int = 79
    persona_describe: int = 199
    persona_styles: int = 200
    newer_models: frozenset[str] = frozenset({"sonic-v4-5", "sonic-v4-5-plus", "sonic-v5"})
