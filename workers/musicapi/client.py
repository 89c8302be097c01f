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
    Limits,
    TaskStatus,
    VendorClip,
)

logger = logging.getLogger(__name__)

TASK_TYPES = {"create": "create_music", "extend": "extend_music", "cover": "cover_music"}
# 403s that mean "the operator's account", not "this song": credits and subscription.
ACCOUNT_TROUBLE = re.compile(r"credit|subscription|balance|recharge|plan", re.IGNORECASE)
TASK_NOT_FOUND = re.compile(r"task not found|missing task id", re.IGNORECASE)
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.timeout_s = timeout_s
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
        custom = request.mode == "custom"
        payload: dict[str, Any] = {
            "task_type": TASK_TYPES[request.operation],
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
        if request.operation in {"extend", "cover"}:
            payload["continue_clip_id"] = request.source_vendor_clip_id
        if request.operation == "extend":
            payload["continue_at"] = request.continue_at
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
        if request.operation in {"extend", "cover"} and not request.source_vendor_clip_id:
            raise InvalidRequest(f"{request.operation} needs the source clip's vendor id")
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
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json"},
                timeout=self.timeout_s,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            # The exception's text can carry the URL but never the headers, so never the key.
            what = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
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
