"""The MusicAPI client: a pooled session, timeouts, typed answers, a small error vocabulary.

Nothing here retries or sleeps: the workers decide what to do with a `TransientError`.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from workers.musicapi.errors import (
    InvalidRequest,
    OutcomeUnknownError,
    ProtocolError,
    RejectedError,
    TaskNotFoundError,
    TransientError,
    UnavailableError,
    clean,
)
from workers.musicapi.types import (
    CLIP_STATES,
    CreateRequest,
    Credits,
    DerivedAnswer,
    Limits,
    LyricsDraft,
    PersonaRequest,
    TaskStatus,
    VendorClip,
    VendorFile,
)

logger = logging.getLogger(__name__)

TASK_TYPES = {
    "create": "create_music",
    "extend": "extend_music",
    "cover": "cover_music",
    "concat": "concat_music",
    "persona_music": "persona_music",
}
# Extend and cover of a clip the vendor made from an upload ("use these upload variants rather
# than extend_music / cover_music": upstream-contract-more.md §2c; docs/upstream.md, U5).
UPLOAD_TASK_TYPES = {"extend": "extend_upload_music", "cover": "cover_upload_music"}
# Operations that name a clip of ours as `continue_clip_id`.
SOURCE_OPERATIONS = frozenset({"extend", "cover", "concat"})
# 403s that mean "the operator's account", not "this song": credits and subscription.
ACCOUNT_TROUBLE = re.compile(r"credit|subscription|balance|recharge|plan", re.IGNORECASE)
TASK_NOT_FOUND = re.compile(r"task not found|missing task id", re.IGNORECASE)
NOT_FOUND = re.compile(r"not found", re.IGNORECASE)
NO_LYRICS = "The music service found no lyrics to align in this clip."
STEMS_PATHS = {False: "/sonic/stems/basic", True: "/sonic/stems/full"}
# Not stated by the vendor (docs/upstream.md, "Assumptions"): how `POST /sonic/wav` answers,
# and the shape of a finished stems task. Read here and only here (`derived_answer`): a
# `task_id` to poll (as stems are documented), or the finished result at once, either in the
# task's shape (`data`: a list of clips, each file at `audio_url`) or as one URL under one of
# these fields (the guide says only "WAV file (CDN URL)").
RESULT_URL_FIELDS = ("wav_url", "audio_url", "url")
ALIGNMENT_MAX_SEGMENTS = 10_000
DEFAULT_TIMEOUT_S = (5.0, 30.0)  # (connect, read); the vendor's guide uses 30 s
POOL_SIZE = 32


class MusicApiClient:
    """Talks to `base_url` (e.g. https://api.musicapi.ai/api/v1) with `key` as the Bearer token.

    :param timeout_s: (connect, read) seconds per request; default (5, 30).
    :param limits: request limits enforced before sending.
    """

    def __init__(
        self,
        *,
        base_url: str,
        key: str,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
        limits: Limits | None = None,
        session: requests.Session | None = None,
        upload_timeout_s: tuple[float, float] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.timeout_s = timeout_s
        self.upload_timeout_s = upload_timeout_s or timeout_s
        self.limits = limits or Limits()
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"MusicApiClient(base_url={self.base_url!r}, key=<hidden>)"

    # --- operations --------------------------------------------------------------------------

    def create(self, request: CreateRequest) -> str:
        """Submit a generation; return the vendor's task id. Costs credits."""
        body = self._request("POST", "/sonic/create", json=self.create_payload(request))
        task_id = body.get("task_id") if isinstance(body, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProtocolError(f"create answered without a task_id: {body!r}", status=200)
        return task_id

    def upload(self, url: str) -> str:
        """Have the vendor fetch the audio at `url` (public, direct) and make a clip of it;
        its `clip_id`. Synchronous (about 20 s, the pages say): read with `upload_timeout_s`.
        Costs credits, so an unanswered upload is unconfirmed, never re-sent."""
        if not url.startswith(("https://", "http://")):
            raise InvalidRequest("an upload needs an http(s) URL the vendor can fetch")
        body = self._request(
            "POST", "/sonic/upload", json={"url": url}, timeout=self.upload_timeout_s
        )
        clip_id = body.get("clip_id") if isinstance(body, dict) else None
        if not isinstance(clip_id, str) or not clip_id:
            raise ProtocolError(f"upload answered without a clip_id: {body!r}", status=200)
        return clip_id

    def status(self, task_id: str) -> TaskStatus:
        """Ask once about a task. Still working: a TaskStatus with no clips or unfinished clips."""
        if not task_id:
            raise InvalidRequest("task_id is empty")
        response = self._send("GET", f"/sonic/task/{requests.utils.quote(task_id, safe='')}")
        if response.status_code == 202:
            return TaskStatus()
        body = self._parse(response)
        if isinstance(body, dict) and body.get("type") == "not_ready":
            return TaskStatus()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ProtocolError(f"task status without data: {body!r}", status=response.status_code)
        return TaskStatus(clips=tuple(_clip(item) for item in data))

    # --- derived outputs and lyrics (upstream-contract-more.md §3, §4, §5, §7) --------------

    def wav(self, clip_id: str) -> DerivedAnswer:
        """Ask for a clip's lossless WAV (2 credits): a task to poll, or the file at once."""
        return self._derive("/sonic/wav", clip_id, name="wav")

    def stems(self, clip_id: str, *, full: bool = False) -> DerivedAnswer:
        """Split a clip into 2 tracks (basic, 15 credits) or 12 (full, 75): a task to poll."""
        return self._derive(STEMS_PATHS[full], clip_id, name="stem")

    def derived_status(self, task_id: str, *, name: str = "wav") -> DerivedAnswer:
        """Ask once about a WAV or stems task; `name` names a lone file."""
        status = self.status(task_id)
        return _derived_from_clips(status.clips, task_id=task_id, name=name)

    def aligned_lyrics(self, clip_id: str) -> tuple[dict[str, Any], ...]:
        """The clip's word/line timings (1 credit the first time, then cached by the vendor).
        Synchronous. The segments' field names are not stated: kept as sent, scalars only."""
        _need_clip_id(clip_id)
        try:
            body = self._request("POST", "/sonic/aligned-lyrics", json={"clip_id": clip_id})
        except ProtocolError as exc:
            # "The clip must have lyrics; otherwise the API answers 'not found'" (status not
            # stated): a refusal of this clip, not a broken vendor.
            if exc.status == 404 or NOT_FOUND.search(exc.message):
                raise RejectedError(NO_LYRICS, status=exc.status) from None
            raise
        data = body.get("data") if isinstance(body, dict) else None
        alignment = data.get("alignment") if isinstance(data, dict) else None
        if not isinstance(alignment, list) or not all(isinstance(s, dict) for s in alignment):
            raise ProtocolError(f"aligned lyrics without data.alignment: {body!r}", status=200)
        return tuple(_scalars(segment) for segment in alignment[:ALIGNMENT_MAX_SEGMENTS])

    def lyrics(self, description: str) -> tuple[LyricsDraft, ...]:
        """Two title + lyrics drafts for `description` (10 lyrics credits). Synchronous."""
        if not description.strip():
            raise InvalidRequest("lyrics need a description")
        if len(description) > self.limits.lyrics_description:
            raise InvalidRequest(
                f"description is longer than {self.limits.lyrics_description} characters"
            )
        body = self._request("POST", "/sonic/lyrics", json={"description": description})
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or not results:
            raise ProtocolError(f"lyrics without results: {body!r}", status=200)
        drafts = []
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("lyrics"), str):
                raise ProtocolError(f"a lyrics result without lyrics: {item!r}", status=200)
            drafts.append(LyricsDraft(title=str(item.get("title") or ""), lyrics=item["lyrics"]))
        return tuple(drafts)

    def persona(self, request: PersonaRequest) -> str:
        """Make a persona from a clip of ours at the vendor; its `persona_id`. Synchronous."""
        body = self._request("POST", "/sonic/persona", json=self.persona_payload(request))
        persona_id = body.get("persona_id") if isinstance(body, dict) else None
        if not isinstance(persona_id, str) or not persona_id:
            raise ProtocolError(f"persona without persona_id: {body!r}", status=200)
        return persona_id

    def persona_payload(self, request: PersonaRequest) -> dict[str, Any]:
        """The JSON body for `POST /sonic/persona` (the current shape: `name`, `clip_id`,
        `describe`, `styles`); raises InvalidRequest past the limits."""
        _need_clip_id(request.clip_id)
        if not request.name.strip():
            raise InvalidRequest("a persona needs a name")
        limits = self.limits
        for name, limit in (
            ("name", limits.persona_name),
            ("describe", limits.persona_describe),
            ("styles", limits.persona_styles),
        ):
            if len(getattr(request, name)) > limit:
                raise InvalidRequest(f"persona {name} is longer than {limit} characters")
        return {
            "name": request.name,
            "clip_id": request.clip_id,
            "describe": request.describe,
            "styles": request.styles,
        }

    def _derive(self, path: str, clip_id: str, *, name: str) -> DerivedAnswer:
        _need_clip_id(clip_id)
        return derived_answer(self._request("POST", path, json={"clip_id": clip_id}), name=name)

    def credits(self) -> Credits:
        body = self._request("GET", "/get-credits")
        try:
            return Credits(
                credits=int(body["credits"]), extra_credits=int(body.get("extra_credits") or 0)
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"credits answer: {body!r}", status=200) from exc

    # --- the vendor's field names ------------------------------------------------------------

    def create_payload(self, request: CreateRequest) -> dict[str, Any]:
        """The JSON body for `POST /sonic/create`; raises InvalidRequest past the limits."""
        self._check_limits(request)
        if request.operation == "concat":
            return self._concat_payload(request)
        custom = request.mode == "custom"
        task_type = TASK_TYPES[request.operation]
        if request.source_uploaded and request.operation in UPLOAD_TASK_TYPES:
            task_type = UPLOAD_TASK_TYPES[request.operation]
        payload: dict[str, Any] = {
            "task_type": task_type,
            "custom_mode": custom,
            "mv": request.model,
        }
        if custom:
            payload["prompt"] = request.lyrics
            if request.title:
                payload["title"] = request.title
            if request.tags:
                payload["tags"] = request.tags
            if request.auto_lyrics:
                payload["auto_lyrics"] = True
        else:
            payload["gpt_description_prompt"] = request.description
        if request.instrumental:
            payload["make_instrumental"] = True
        if request.negative_tags:
            payload["negative_tags"] = request.negative_tags
        if request.vocal_gender:
            payload["vocal_gender"] = request.vocal_gender
        if request.operation in SOURCE_OPERATIONS:
            payload["continue_clip_id"] = request.source_vendor_clip_id
        if request.operation == "extend":
            payload["continue_at"] = request.continue_at
        if request.operation == "persona_music":
            payload["persona_id"] = request.persona_id
        if request.webhook_url:
            payload["webhook_url"] = request.webhook_url
            payload["webhook_secret"] = request.webhook_secret
        return payload

    @staticmethod
    def _concat_payload(request: CreateRequest) -> dict[str, Any]:
        # "Only continue_clip_id" (upstream-contract-more.md §6d): no mode, model or prompt. The
        # webhook fields belong to /sonic/create itself, so they go along (docs/upstream.md,
        # assumptions).
        payload: dict[str, Any] = {
            "task_type": TASK_TYPES["concat"],
            "continue_clip_id": request.source_vendor_clip_id,
        }
        if request.webhook_url:
            payload["webhook_url"] = request.webhook_url
            payload["webhook_secret"] = request.webhook_secret
        return payload

    def _check_limits(self, request: CreateRequest) -> None:
        limits = self.limits
        newer = request.model in limits.newer_models
        checks = {
            "description": limits.description,
            "lyrics": limits.lyrics_newer if newer else limits.lyrics,
            "title": limits.title,
            "tags": limits.tags,
            "negative_tags": limits.negative_tags,
        }
        for name, limit in checks.items():
            if len(getattr(request, name)) > limit:
                raise InvalidRequest(f"{name} is longer than {limit} characters")
        if request.operation not in TASK_TYPES:
            raise InvalidRequest(f"unknown operation {request.operation!r}")
        if request.operation in SOURCE_OPERATIONS and not request.source_vendor_clip_id:
            raise InvalidRequest(f"{request.operation} needs the source clip's vendor id")
        if request.operation == "concat":
            return
        if request.operation == "persona_music" and not (
            request.persona_id and request.mode == "custom"
        ):
            # The page requires custom_mode, prompt and persona_id: lyrics (or a style prompt)
            # in custom mode; description mode is not documented for it.
            raise InvalidRequest("persona_music needs a persona_id and custom mode")
        if request.operation == "extend" and request.continue_at is None:
            raise InvalidRequest("extend needs continue_at")
        if request.mode == "description" and not request.description.strip():
            raise InvalidRequest("description mode needs a description")
        if (request.vocal_gender or request.auto_lyrics) and not newer:
            raise InvalidRequest(
                f"vocal_gender and auto_lyrics need a newer model than {request.model}"
            )

    # --- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._parse(self._send(method, path, **kwargs))

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        timeout_s = kwargs.pop("timeout", self.timeout_s)
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json"},
                timeout=timeout_s,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            # The exception's text can carry the URL but never the headers, so never the key.
            # No answer at all: say so ("unreachable"), never "busy" (that is a 429 or a 5xx).
            what = (
                "timed out"
                if isinstance(exc, requests.Timeout)
                else f"unreachable ({type(exc).__name__})"
            )
            if method == "POST" and not _never_sent(exc):
                # Every POST here spends credits and none is idempotent: safe to retry only
                # when it cannot have reached the vendor.
                raise OutcomeUnknownError(f"{method} {path}: no answer ({what})") from None
            raise TransientError(f"{method} {path} {what}") from None
        _raise_for_status(response)
        return response

    @staticmethod
    def _parse(response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            raise ProtocolError(
                f"unparseable body: {response.text[:200]!r}", status=response.status_code
            ) from None
        if isinstance(body, dict) and body.get("code") not in (None, 200):
            _raise_for_code(
                _int(body.get("code")), _message(body), http_status=response.status_code
            )
        return body


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the vendor: no connection was ever made."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", None)
        return isinstance(
            reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        )
    return False


def _raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    try:
        body = response.json()
    except ValueError:
        body = response.text
    _raise_for_code(
        status, _message(body), http_status=status, retry_after=response.headers.get("Retry-After")
    )


def _raise_for_code(
    code: int | None, message: str, *, http_status: int, retry_after: str | None = None
) -> None:
    """Classify a vendor error by its code (the HTTP status, or a 200 body's `code`)."""
    if code == 429:
        raise TransientError(
            message or "rate limited", status=code, retry_after_s=_retry_after(retry_after)
        )
    if code is not None and code >= 500:
        raise TransientError(message or "vendor error", status=code)
    if code == 400 and TASK_NOT_FOUND.search(message):
        raise TaskNotFoundError(message, status=code)
    if code == 400:
        raise RejectedError(message, status=code)
    if code in (401, 402):
        raise UnavailableError(message, status=code)
    if code == 403:
        if ACCOUNT_TROUBLE.search(message):
            raise UnavailableError(message, status=code)
        raise RejectedError(message, status=code)
    raise ProtocolError(f"unexpected answer {code}: {message}", status=http_status)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return clean(body.get("message") or body.get("error") or body.get("detail") or body)
    return clean(body)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _clip(item: Any) -> VendorClip:
    if not isinstance(item, dict) or not item.get("clip_id"):
        raise ProtocolError(f"clip without clip_id: {item!r}", status=200)
    duration = item.get("duration")
    try:
        duration = float(duration) if duration not in (None, "") else None
    except (TypeError, ValueError):
        duration = None
    state = str(item.get("state") or "")
    if state not in CLIP_STATES:
        raise ProtocolError(f"clip {item['clip_id']!r} in unknown state {state!r}", status=200)
    return VendorClip(
        clip_id=str(item["clip_id"]),
        state=state,
        title=str(item.get("title") or ""),
        tags=str(item.get("tags") or ""),
        lyrics=str(item.get("lyrics") or ""),
        audio_url=str(item.get("audio_url") or ""),
        image_url=str(item.get("image_url") or ""),
        duration=duration,
        model=str(item.get("mv") or ""),
        created_at=str(item.get("created_at") or ""),
        error=clean(item.get("error_message") or item.get("message") or "")
        if state == "failed"
        else "",
    )


def _need_clip_id(clip_id: str) -> None:
    if not clip_id:
        raise InvalidRequest("clip_id is empty")


def derived_answer(body: Any, *, name: str) -> DerivedAnswer:
    """Read a WAV or stems submit answer (see RESULT_URL_FIELDS: the one place that guesses)."""
    if isinstance(body, dict):
        task_id = body.get("task_id")
        if isinstance(task_id, str) and task_id:
            return DerivedAnswer(task_id=task_id)
        data = body.get("data", body)
        if isinstance(data, list) and data:
            answer = _derived_from_clips(tuple(_clip(item) for item in data), task_id="", name=name)
            if answer.finished:
                return answer
        if isinstance(data, dict):
            for field in RESULT_URL_FIELDS:
                url = data.get(field)
                if isinstance(url, str) and url.startswith(("https://", "http://")):
                    return DerivedAnswer(finished=True, files=(VendorFile(name=name, url=url),))
    raise ProtocolError(f"a derived output answered without a task or a file: {body!r}", status=200)


def _derived_from_clips(clips: tuple[VendorClip, ...], *, task_id: str, name: str) -> DerivedAnswer:
    if not clips or not all(clip.is_final for clip in clips):
        return DerivedAnswer(task_id=task_id)
    failed = next((clip for clip in clips if clip.state == "failed"), None)
    if failed is not None:
        # The vendor refunds a failed task; a part of the stems is not what was asked for.
        return DerivedAnswer(
            task_id=task_id, finished=True, error=failed.error or "The output failed."
        )
    if not all(clip.audio_url for clip in clips):
        raise ProtocolError(f"task {task_id} succeeded without a file URL", status=200)
    return DerivedAnswer(
        task_id=task_id,
        finished=True,
        files=tuple(
            VendorFile(name=_file_name(clip, index, name, len(clips)), url=clip.audio_url)
            for index, clip in enumerate(clips)
        ),
    )


def _file_name(clip: VendorClip, index: int, name: str, count: int) -> str:
    """A lone file is `name`; each of several is named by its title ("Vocals" -> "vocals"), as
    the stem names are not stated, else `name-2`; always unique within the task."""
    if count == 1:
        return name
    slug = re.sub(r"[^a-z0-9]+", "-", clip.title.lower()).strip("-")[:40]
    return f"{index + 1:02d}-{slug or name}"


def _scalars(segment: dict[str, Any]) -> dict[str, Any]:
    return {
        str(key)[:40]: (clean(value) if isinstance(value, str) else value)
        for key, value in segment.items()
        if value is None or isinstance(value, str | int | float | bool)
    }
