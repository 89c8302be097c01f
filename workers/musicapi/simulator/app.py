"""The simulated vendor as a WSGI application."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import requests

from generations.audio import NotAudio, audio_inspect
from workers.musicapi.simulator import media
from workers.musicapi.simulator.faults import MARKER, FaultProfile, markers

logger = logging.getLogger(__name__)

API = "/api/v1"
MODELS = ("sonic-v3-5", "sonic-v4", "sonic-v4-5", "sonic-v4-5-plus", "sonic-v5")
OLDER_MODELS = ("sonic-v3-5", "sonic-v4")
COSTS = {
    "create_music": 15,
    "extend_music": 15,
    "cover_music": 15,
    "concat_music": 2,
    "persona_music": 15,
    # On a clip made by /sonic/upload (and only on one).
    "extend_upload_music": 15,
    "cover_upload_music": 15,
}
UPLOAD_TASK_TYPES = {"extend_music": "extend_upload_music", "cover_music": "cover_upload_music"}
UPLOAD_COST = 2  # not stated by MusicAPI; its sister site's price (docs/upstream.md, U3)
# The upload page: "between 6 and 60 seconds long" (another page says up to 8 min: the stricter).
UPLOAD_MIN_S, UPLOAD_MAX_S = 6.0, 60.0
UPLOAD_FETCH_TIMEOUT_S = 10.0
UPLOAD_FETCH_MAX_BYTES = 64 * 1024 * 1024
PERSONA_COST = 1  # not stated by MusicAPI; its sister site's price (docs/upstream.md)
# Derived outputs of a clip, made as tasks polled like a generation (docs/upstream.md,
# "Assumptions"): the task type the ledger shows, its price, and the files it makes.
DERIVED = {
    "/sonic/wav": ("wav", 2, ("WAV",)),
    "/sonic/stems/basic": ("stems_basic", 15, ("Vocals", "Instrumental")),
    "/sonic/stems/full": (
        "stems_full",
        75,
        (
            "Vocals",
            "Backing Vocals",
            "Drums",
            "Bass",
            "Guitar",
            "Keyboard",
            "Percussion",
            "Strings",
            "Synth",
            "FX",
            "Brass",
            "Woodwinds",
        ),
    ),
}
DERIVED_COSTS = {task_type: cost for task_type, cost, _ in DERIVED.values()}
ALIGNED_LYRICS_COST = 1  # the first call per clip; later calls come from the vendor's cache
LYRICS_COST = 10  # lyrics credits, a pool of their own
LYRICS_DESCRIPTION_MAX = 119  # "should be less than 120"
CLIPS_PER_TASK = 2
CALL_LOG_MAX = 200_000
WEBHOOK_TIMEOUT_S = 10.0

# Where a task stands, as fractions of its time to ready.
PHASE_202 = 0.15
PHASE_NOT_READY = 0.35
PHASE_STREAMING = 0.65


@dataclass
class Task:
    id: str
    created_at: float
    ready_after_s: float
    payload: dict[str, Any]
    markers: set[str]
    clip_ids: list[str]
    failed: set[int] = field(default_factory=set)
    titles: tuple[str, ...] = ()  # a derived task's file names, one per clip id
    duration_s: float | None = None  # its clips' length, when not the simulator's default
    polls: int = 0
    created_iso: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    created_wall: float = field(default_factory=time.time)


class Simulator:
    """The vendor's HTTP API, in memory.

    :param key: the only Bearer key accepted (default "sandbox").
    :param ready_after_s: seconds from create until a task's clips are all final.
    :param credits: starting balance; each create costs 15 (see COSTS, DERIVED).
    :param lyrics_credits: the separate pool lyrics are paid from, 10 a call.
    :param faults: random fault rates (see FaultProfile).
    :param clip_duration_s: the duration every clip reports and its audio lasts.
    """

    def __init__(
        self,
        *,
        key: str = "sandbox",
        ready_after_s: float = 60.0,
        credits: int = 1_000_000,
        lyrics_credits: int = 1_000_000,
        faults: FaultProfile | None = None,
        clip_duration_s: float = 30.0,
    ) -> None:
        self.key = key
        self.ready_after_s = ready_after_s
        self.credits = credits
        self.lyrics_credits = lyrics_credits
        self.faults = faults or FaultProfile()
        self.clip_duration_s = clip_duration_s
        self._rng = self.faults.rng()
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._clips: dict[str, tuple[Task, int]] = {}
        self._seen_prompts: set[str] = set()
        self._aligned: set[str] = set()  # clips whose timeline was paid for
        self._personas: set[str] = set()
        self.sync_charges: list[dict[str, Any]] = []  # lyrics and timelines: no task
        self.calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_MAX)
        self.webhooks: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_MAX)
        self.changes = 0  # counts calls that may have changed the state (persistence saves)

    # --- State, for persistence.py -------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything a restart must keep: tasks (with their ages), balances, personas."""
        now = time.monotonic()
        with self._lock:
            tasks = {
                task_id: (task, now - task.created_at) for task_id, task in self._tasks.items()
            }
            return {
                "tasks": tasks,
                "seen_prompts": set(self._seen_prompts),
                "aligned": set(self._aligned),
                "personas": set(self._personas),
                "credits": self.credits,
                "lyrics_credits": self.lyrics_credits,
            }

    def restore_state(self, state: dict[str, Any], *, elapsed_s: float) -> None:
        """Take `state` back; its tasks aged `elapsed_s` more while the simulator was down."""
        now = time.monotonic()
        with self._lock:
            self._tasks, self._clips = {}, {}
            for task_id, (task, age_s) in state["tasks"].items():
                task.created_at = now - age_s - max(elapsed_s, 0.0)
                self._tasks[task_id] = task
                for index, clip_id in enumerate(task.clip_ids):
                    self._clips[clip_id] = (task, index)
            self._seen_prompts = set(state["seen_prompts"])
            self._aligned = set(state["aligned"])
            self._personas = set(state["personas"])
            self.credits, self.lyrics_credits = state["credits"], state["lyrics_credits"]

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        status, headers, body, task_id = self._route(environ, method, path)
        if method != "GET":
            self.changes += 1
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            headers = [("Content-Type", "application/json"), *headers]
        elif isinstance(body, str):
            body = body.encode()
            headers = [("Content-Type", "text/html"), *headers]
        if not path.startswith("/_simulator"):
            with self._lock:
                self.calls.append(
                    {
                        "method": method,
                        "path": path,
                        "status": status,
                        "task_id": task_id,
                        "at": time.time(),
                    }
                )
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
        return [body] if method != "HEAD" else [b""]

    def _route(self, environ, method: str, path: str):
        if path.startswith("/media/"):
            return (*self._media(environ, path), None)
        if path.startswith("/_simulator/"):
            return (*self._control(environ, method, path), None)
        if not path.startswith(API):
            return 404, [], {"code": 404, "message": "Not Found"}, None
        denied = self._authenticate(environ)
        if denied:
            return 401, [], denied, None
        route = path[len(API) :]
        if route == "/sonic/create" and method == "POST":
            return self._create(environ)
        if route in DERIVED and method == "POST":
            return self._derive(environ, route)
        if route == "/sonic/aligned-lyrics" and method == "POST":
            return (*self._aligned_lyrics(environ), None)
        if route == "/sonic/lyrics" and method == "POST":
            return (*self._lyrics(environ), None)
        if route == "/sonic/upload" and method == "POST":
            return self._upload(environ)
        if route == "/sonic/persona" and method == "POST":
            return (*self._persona(environ), None)
        if route.startswith("/sonic/task") and method == "GET":
            return self._status(route.removeprefix("/sonic/task").strip("/"))
        if route == "/get-credits" and method == "GET":
            return 200, [], {"credits": self.credits, "extra_credits": 0}, None
        return 404, [], {"code": 404, "message": "Not Found"}, None

    def _authenticate(self, environ) -> dict | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header:
            return {"code": 401, "message": "Authorization header is missing."}
        scheme, _, key = header.partition(" ")
        if scheme != "Bearer" or not key:
            return {"code": 401, "message": "Invalid authorization format."}
        if not hmac.compare_digest(key.encode(), self.key.encode()):
            return {"code": 401, "message": "Invalid API key."}
        return None

    # --- random faults -------------------------------------------------------------------------

    def _draw(self, rate: float) -> bool:
        """One random fault; no draw at all for a rate of 0, so adding a kind of fault leaves
        the sequence of an existing seeded profile as it was."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def _random_fault(self, task: Task | None = None):
        faults = self.faults
        with self._lock:
            slow = self._rng.random() < faults.slow
            server_error = self._rng.random() < faults.server_error
            rate_limited = self._rng.random() < faults.rate_limit
        if slow or (task and "slow" in task.markers):
            time.sleep(faults.slow_s)
        if task is not None and self._draw(faults.hang):
            time.sleep(faults.hang_s)  # a status call the client has given up on
        if server_error:
            return 500, [], {"code": 500, "message": "Internal Server Error"}
        if rate_limited:
            return _too_many(faults.retry_after_s)
        return None

    # --- create ----------------------------------------------------------------------------------

    def _create(self, environ):
        fault = self._random_fault()
        if fault:
            return (*fault, None)
        payload = _json_body(environ)
        if payload is None:
            return 400, [], {"code": 400, "message": "Invalid JSON body."}, None
        problem = _validate(payload)
        concat_of = None
        if not problem and payload.get("task_type") == "concat_music":
            concat_of, problem = self._extension(payload["continue_clip_id"])
        if not problem:
            problem = self._upload_rule(payload)
        if not problem and payload.get("task_type") == "persona_music":
            with self._lock:
                known = payload["persona_id"] in self._personas
            problem = None if known else "The 'persona_id' is invalid."
        if problem:
            return 400, [], {"code": 400, "message": problem}, None
        prompt = " ".join(
            str(payload.get(name) or "") for name in ("gpt_description_prompt", "prompt", "tags")
        )
        found = markers(prompt)
        if "slow-create" in found:
            time.sleep(self.faults.slow_s)
        answer = self._create_marker_answer(found, prompt)
        if answer:
            return (*answer, None)
        with self._lock:
            moderated = self._rng.random() < self.faults.moderation
        if moderated:
            return (
                403,
                [],
                {"code": 403, "message": "The song description needs moderation review."},
                None,
            )
        cost = COSTS[payload.get("task_type", "create_music")]
        with self._lock:
            if self.credits < cost:
                return 403, [], {"code": 403, "message": _NO_CREDITS}, None
            self.credits -= cost
            clips = 1 if concat_of else CLIPS_PER_TASK
            task = Task(
                id=str(uuid.uuid4()),
                created_at=time.monotonic(),
                ready_after_s=self.ready_after_s,
                # A concat's song is the extension's (title, tags, lyrics).
                payload={**concat_of.payload, **payload} if concat_of else payload,
                markers=found,
                clip_ids=[str(uuid.uuid4()) for _ in range(clips)],
                duration_s=(
                    float(concat_of.payload["continue_at"]) + self.clip_duration_s
                    if concat_of
                    else None
                ),
            )
            if "failed" in found:
                task.failed = set(range(clips))
            elif "clip-failed" in found or self._rng.random() < self.faults.failed_clip:
                task.failed = {clips - 1}
            self._tasks[task.id] = task
            for index, clip_id in enumerate(task.clip_ids):
                self._clips[clip_id] = (task, index)
        self._schedule_webhook(task, environ)
        if "hang-create" in found or self._draw(self.faults.hang):
            time.sleep(self.faults.hang_s)  # the task is made; its answer comes too late
        return 200, [], {"message": "success", "task_id": task.id}, task.id

    def _upload_rule(self, payload: dict[str, Any]) -> str | None:
        """Uploaded clips take the upload task types, and only they do (our wording: the
        pages state no message)."""
        task_type = payload.get("task_type", "create_music")
        clip_id = payload.get("continue_clip_id")
        with self._lock:
            known = self._clips.get(clip_id) if isinstance(clip_id, str) else None
        uploaded = known is not None and known[0].payload.get("task_type") == "upload"
        if task_type in UPLOAD_TASK_TYPES.values() and not uploaded:
            return f"The 'continue_clip_id' is not an uploaded clip; {task_type} needs one."
        if task_type in UPLOAD_TASK_TYPES and uploaded:
            return f"The clip was uploaded: use {UPLOAD_TASK_TYPES[task_type]}."
        return None

    # --- upload: POST /sonic/upload {url}, synchronous ---------------------------------------

    def _upload(self, environ):
        fault = self._random_fault()
        if fault:
            return (*fault, None)
        payload = _json_body(environ) or {}
        url = payload.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return 400, [], {"code": 400, "message": "url is required."}, None
        content = self._fetch(url)
        if content is None:
            return 400, [], {"code": 400, "message": _URL_NOT_ACCESSIBLE}, None
        # Scenario markers travel inside the file (e.g. a WAV's INFO comment): an upload has
        # no prompt, and the URL is the gateway's.
        found = markers(content[:65536].decode("latin-1"), content[-65536:].decode("latin-1"))
        if "slow-create" in found:
            time.sleep(self.faults.slow_s)
        answer = self._upload_marker_answer(found, url.partition("?")[0])
        if answer:
            return (*answer, None)
        if self._draw(self.faults.moderation):
            return 403, [], {"code": 403, "message": _UPLOAD_MODERATION}, None
        try:
            info = audio_inspect(io.BytesIO(content))
        except NotAudio:
            return 400, [], {"code": 400, "message": "Invalid audio file"}, None
        if not UPLOAD_MIN_S <= info.duration_s <= UPLOAD_MAX_S:
            message = "Invalid audio file: the music must be between 6 and 60 seconds long."
            return 400, [], {"code": 400, "message": message}, None
        with self._lock:
            if self.credits < UPLOAD_COST:
                return 403, [], {"code": 403, "message": _NO_CREDITS}, None
            self.credits -= UPLOAD_COST
            task = Task(
                id=str(uuid.uuid4()),
                created_at=time.monotonic(),
                ready_after_s=0.0,
                payload={"task_type": "upload", "url": url.partition("?")[0]},
                markers=found,
                clip_ids=[str(uuid.uuid4())],
                duration_s=round(info.duration_s, 2),
            )
            self._tasks[task.id] = task
            self._clips[task.clip_ids[0]] = (task, 0)
        if "hang-create" in found or self._draw(self.faults.hang):
            time.sleep(self.faults.hang_s)  # the clip is made; its answer comes too late
        body = {"code": 200, "message": "success", "clip_id": task.clip_ids[0]}
        return 200, [], body, task.id

    @staticmethod
    def _fetch(url: str) -> bytes | None:
        """GET the audio like the vendor would: public, direct, a 2xx; None when it cannot."""
        try:
            with requests.get(url, timeout=UPLOAD_FETCH_TIMEOUT_S, stream=True) as response:
                if response.status_code != 200:
                    return None
                content = response.raw.read(UPLOAD_FETCH_MAX_BYTES + 1, decode_content=True)
        except requests.RequestException:
            return None
        return content if len(content) <= UPLOAD_FETCH_MAX_BYTES else None

    def _upload_marker_answer(self, found: set[str], key: str):
        if "copyright" in found:
            return 403, [], {"code": 403, "message": _UPLOAD_COPYRIGHT}
        if "moderation" in found:
            return 403, [], {"code": 403, "message": _UPLOAD_MODERATION}
        if "no-credits" in found:
            return 403, [], {"code": 403, "message": _NO_CREDITS}
        if "upload-garbage" in found:
            return 200, [], "<html><body>Bad gateway</body></html>"
        if "upload-no-clip" in found:
            return 200, [], {"code": 200, "message": "success"}
        return self._first_time_fault(found, "upload", key)

    def _extension(self, clip_id: Any) -> tuple[Task | None, str | None]:
        """The extend task whose finished clip `clip_id` is, or the refusal of a concat of it.
        The vendor's wording is not stated; a 400 like its other validation errors."""
        with self._lock:
            known = self._clips.get(clip_id) if isinstance(clip_id, str) else None
        if known is None:
            return None, "The 'continue_clip_id' is invalid: no clip of yours has this id."
        task, index = known
        # An extension of an uploaded clip is only the new part too (the FAQ's rule for any
        # extend; upload-extend's auto_concat does the same in one call).
        extended = task.payload.get("task_type") in ("extend_music", "extend_upload_music")
        if not extended or task.titles:
            return None, "Only a clip made by extend_music can be concatenated."
        if index in task.failed or self._progress(task) < 1.0:
            return None, "The extended clip has not finished."
        return task, None

    def _create_marker_answer(self, found: set[str], prompt: str):
        if "moderation" in found:
            return (
                403,
                [],
                {"code": 403, "message": "The song description needs moderation review."},
            )
        if "copyright" in found:
            return (
                403,
                [],
                {
                    "code": 403,
                    "message": "The lyrics contain copyrighted content: 'Yesterday, all my'",
                },
            )
        if "no-credits" in found:
            return 403, [], {"code": 403, "message": _NO_CREDITS}
        if "no-subscription" in found:
            return 403, [], {"code": 403, "message": "No active subscription, please subscribe."}
        if "create-code-error" in found:
            return (
                200,
                [],
                {"code": 400, "message": "The 'mv' field is invalid for this operation."},
            )
        if "create-garbage" in found:
            return 200, [], "<html><body>Bad gateway</body></html>"
        return self._first_time_fault(found, "create", prompt)

    def _first_time_fault(self, found: set[str], prefix: str, key: str):
        """`[sim:{prefix}-500]` / `-429`: a fault on the first call for `key` only."""
        for marker, answer in (
            (f"{prefix}-500", (500, [], {"code": 500, "message": "Internal Server Error"})),
            (f"{prefix}-429", _too_many(self.faults.retry_after_s)),
        ):
            if marker in found:
                with self._lock:
                    first = (marker, key) not in self._seen_prompts
                    self._seen_prompts.add((marker, key))
                if first:
                    return answer
        return None

    # --- derived outputs: WAV and stems (tasks), timeline and lyrics (synchronous) ------------

    def _source(self, payload: dict | None) -> tuple[Task, int] | None:
        """The finished, succeeded clip a derived call names, made by this vendor."""
        clip_id = payload.get("clip_id") if isinstance(payload, dict) else None
        with self._lock:
            known = self._clips.get(clip_id) if isinstance(clip_id, str) else None
        if known is None:
            return None
        task, index = known
        if task.titles or index in task.failed or self._progress(task) < 1.0:
            return None
        return known

    def _derived_marker_answer(self, found: set[str], key: str):
        if "derive-refused" in found:
            return 403, [], {"code": 403, "message": _DERIVE_REFUSED}
        if "derive-garbage" in found:
            return 200, [], "<html><body>Bad gateway</body></html>"
        return self._first_time_fault(found, "derive", key)

    def _derive(self, environ, route: str):
        payload = _json_body(environ)
        source = self._source(payload)
        fault = self._random_fault(source[0] if source else None)
        if fault:
            return (*fault, None)
        if source is None:
            return 400, [], {"code": 400, "message": _NO_SUCH_CLIP}, None
        task_type, cost, titles = DERIVED[route]
        found = source[0].markers
        answer = self._derived_marker_answer(found, f"{route} {payload['clip_id']}")
        if answer:
            return (*answer, None)
        with self._lock:
            if self.credits < cost:
                return 403, [], {"code": 403, "message": _NO_CREDITS}, None
            self.credits -= cost
            task = Task(
                id=str(uuid.uuid4()),
                created_at=time.monotonic(),
                ready_after_s=self.ready_after_s,
                payload={"task_type": task_type, "clip_id": payload["clip_id"]},
                markers=found & {"derive-failed", "slow", "derive-sync"},
                clip_ids=[str(uuid.uuid4()) for _ in titles],
                titles=titles,
            )
            if "derive-failed" in found:
                task.failed = set(range(len(titles)))
            self._tasks[task.id] = task
            for index, clip_id in enumerate(task.clip_ids):
                self._clips[clip_id] = (task, index)
        if "derive-sync" in found and task_type == "wav":
            # The other reading of the WAV page: the file's URL at once, no task to poll.
            url = self._media_url(task.clip_ids[0], "wav")
            body = {"code": 200, "message": "success", "data": {"wav_url": url}}
            return 200, [], body, task.id
        return 200, [], {"message": "success", "task_id": task.id}, task.id

    def _aligned_lyrics(self, environ):
        payload = _json_body(environ)
        source = self._source(payload)
        fault = self._random_fault(source[0] if source else None)
        if fault:
            return fault
        if source is None:
            return 400, [], {"code": 400, "message": _NO_SUCH_CLIP}
        task, _ = source
        answer = self._derived_marker_answer(task.markers, f"aligned {payload['clip_id']}")
        if answer:
            return answer
        if task.payload.get("make_instrumental"):
            return 404, [], {"code": 404, "message": "not found"}
        lyrics = self._clip(task, source[1], 1.0)["lyrics"] or ""
        lines = [line for line in lyrics.splitlines() if line.strip()]
        with self._lock:
            if payload["clip_id"] not in self._aligned:
                if self.credits < ALIGNED_LYRICS_COST:
                    return 403, [], {"code": 403, "message": _NO_CREDITS}
                self.credits -= ALIGNED_LYRICS_COST
                self._aligned.add(payload["clip_id"])
                self.sync_charges.append(
                    {"call": "aligned-lyrics", "clip_id": payload["clip_id"], "credits": 1}
                )
        step = self.clip_duration_s / max(1, len(lines))
        alignment = [
            {"text": line, "start": round(i * step, 2), "stop": round((i + 1) * step, 2)}
            for i, line in enumerate(lines)
        ]
        return 200, [], {"code": 200, "message": "success", "data": {"alignment": alignment}}

    def _persona(self, environ):
        """`POST /sonic/persona` in the current shape; synchronous, like the vendor's page."""
        fault = self._random_fault()
        if fault:
            return fault
        payload = _json_body(environ) or {}
        if not payload.get("name") or not payload.get("clip_id"):
            return 400, [], {"code": 400, "message": "name and clip_id are required fields."}
        if len(str(payload["name"])) >= 80:
            return (
                400,
                [],
                {"code": 400, "message": "The name character length should be less than 80."},
            )
        if len(str(payload.get("describe") or "")) >= 200:
            return (
                400,
                [],
                {
                    "code": 400,
                    "message": "The description character length should be less than 200.",
                },
            )
        if self._source(payload) is None:
            return 400, [], {"code": 400, "message": _NO_SUCH_CLIP}
        with self._lock:
            if self.credits < PERSONA_COST:
                return 403, [], {"code": 403, "message": _NO_CREDITS}
            self.credits -= PERSONA_COST
            persona_id = f"persona-{uuid.uuid4()}"
            self._personas.add(persona_id)
            self.sync_charges.append(
                {"call": "persona", "clip_id": payload["clip_id"], "credits": PERSONA_COST}
            )
        return 200, [], {"code": 200, "persona_id": persona_id}

    def _lyrics(self, environ):
        fault = self._random_fault()
        if fault:
            return fault
        payload = _json_body(environ)
        description = payload.get("description") if isinstance(payload, dict) else None
        if not isinstance(description, str) or not description.strip():
            return 400, [], {"code": 400, "message": "description is required."}
        if len(description) > LYRICS_DESCRIPTION_MAX:
            return (
                400,
                [],
                {
                    "code": 400,
                    "message": "The description character length should be less than 120.",
                },
            )
        answer = self._create_marker_answer(markers(description), description)
        if answer:
            return answer
        with self._lock:
            moderated = self._rng.random() < self.faults.moderation
            if not moderated and self.lyrics_credits >= LYRICS_COST:
                self.lyrics_credits -= LYRICS_COST
                self.sync_charges.append({"call": "lyrics", "lyrics_credits": LYRICS_COST})
                paid = True
            else:
                paid = False
        if moderated:
            return (
                403,
                [],
                {"code": 403, "message": "The song description needs moderation review."},
            )
        if not paid:
            return 403, [], {"code": 403, "message": _NO_LYRICS_CREDITS}
        subject = " ".join(MARKER.sub("", description).split()) or "the sky"
        results = [
            {
                "title": f"{subject.title()[:60]} ({take})",
                "lyrics": f"[Verse]\nA {take} song about {subject}\n"
                f"[Chorus]\n{subject}, {subject}\n[Bridge]\nSimulated, but it rhymes",
            }
            for take in ("first", "second")
        ]
        return 200, [], {"code": 200, "message": "success", "results": results}

    # --- status ----------------------------------------------------------------------------------

    def _status(self, task_id: str):
        if not task_id:
            return 400, [], {"code": 400, "message": "missing task id."}, None
        with self._lock:
            task = self._tasks.get(task_id)
            if task:
                task.polls += 1
        if task is None:
            return 400, [], {"code": 400, "message": "task not found."}, task_id
        fault = self._random_fault(task)
        if fault:
            return (*fault, task_id)
        if task.polls == 1 and "poll-500" in task.markers:
            return 500, [], {"code": 500, "message": "Internal Server Error"}, task_id
        if task.polls == 1 and "poll-429" in task.markers:
            return (*_too_many(self.faults.retry_after_s), task_id)
        if "poll-garbage" in task.markers:
            return 200, [], "<html>upstream timeout</html>", task_id
        progress = self._progress(task)
        if progress < PHASE_202:
            return 202, [], {"code": 202, "message": "processing"}, task_id
        if progress < PHASE_NOT_READY:
            return 200, [], {"type": "not_ready", "message": "Task is not ready yet."}, task_id
        return 200, [], self._task_body(task, progress), task_id

    def _progress(self, task: Task) -> float:
        if "never" in task.markers:
            return min(0.9, (time.monotonic() - task.created_at) / max(task.ready_after_s, 1e-6))
        if task.ready_after_s <= 0:
            return 1.0
        return (time.monotonic() - task.created_at) / task.ready_after_s

    def _task_body(self, task: Task, progress: float) -> dict[str, Any]:
        return {
            "code": 200,
            "message": "success",
            "data": [self._clip(task, index, progress) for index in range(len(task.clip_ids))],
        }

    def _clip(self, task: Task, index: int, progress: float) -> dict[str, Any]:
        if task.titles:
            return self._derived_clip(task, index, progress)
        payload = task.payload
        clip_id = task.clip_ids[index]
        custom = bool(payload.get("custom_mode"))
        duration = task.duration_s or self.clip_duration_s
        if progress >= 1.0:
            state = "failed" if index in task.failed else "succeeded"
        elif progress >= PHASE_STREAMING and index == 0 and 0 not in task.failed:
            state = "streaming"
        else:
            state = "running" if progress >= (PHASE_NOT_READY + PHASE_STREAMING) / 2 else "pending"
        playable = state in ("streaming", "succeeded")
        clip = {
            "clip_id": clip_id,
            "state": state,
            "title": payload.get("title") or f"Sandbox song {task.id[:8]}",
            "tags": payload.get("tags") or "sandbox, simulated",
            "lyrics": payload.get("prompt") if custom else "[Verse]\nA simulated song",
            "image_url": self._media_url(clip_id, "png") if playable else "",
            "audio_url": self._media_url(clip_id, "wav") if playable else "",
            "video_url": "",
            "created_at": task.created_iso,
            "mv": payload.get("mv"),
            "gpt_description_prompt": None if custom else payload.get("gpt_description_prompt"),
            # One clip reports an integer, the other a float, as the vendor's pages disagree.
            "duration": int(duration) if index == 0 else float(duration),
        }
        if state == "failed":
            clip["error_message"] = "Generation failed: the model could not render this clip."
        return clip

    def _derived_clip(self, task: Task, index: int, progress: float) -> dict[str, Any]:
        """A file of a WAV or stems task, in the shape of a clip (states without streaming)."""
        if progress >= 1.0:
            state = "failed" if index in task.failed else "succeeded"
        else:
            state = "running" if progress >= PHASE_NOT_READY else "pending"
        clip_id = task.clip_ids[index]
        clip = {
            "clip_id": clip_id,
            "state": state,
            "title": task.titles[index],
            "audio_url": self._media_url(clip_id, "wav") if state == "succeeded" else "",
            "created_at": task.created_iso,
            "duration": float(self.clip_duration_s),
        }
        if state == "failed":
            clip["error_message"] = "The output could not be made from this clip."
        return clip

    def _media_url(self, clip_id: str, extension: str) -> str:
        return f"{self.public_url}/media/{clip_id}.{extension}"

    public_url = "http://127.0.0.1:8765"  # set by the server to where it listens

    # --- media -----------------------------------------------------------------------------------

    def _media(self, environ, path: str):
        name = path.removeprefix("/media/")
        clip_id, _, extension = name.rpartition(".")
        with self._lock:
            known = self._clips.get(clip_id)
        if known is None or extension not in ("wav", "png"):
            return 404, [], {"code": 404, "message": "Not Found"}
        task, index = known
        if extension == "wav":
            duration = task.duration_s or self.clip_duration_s
            content = media.tone_wav(duration, 440.0 + 220.0 * index)
            content_type = "audio/wav"
        else:
            content = media.cover_png((40 + 80 * index, 90, 160))
            content_type = "image/png"
        headers = [("Content-Type", content_type), ("Accept-Ranges", "bytes")]
        wanted = media.byte_range(environ.get("HTTP_RANGE"), len(content))
        if wanted == "unsatisfiable":
            return 416, [*headers, ("Content-Range", f"bytes */{len(content)}")], b""
        if wanted is None:
            return 200, headers, content
        start, end = wanted
        headers.append(("Content-Range", f"bytes {start}-{end}/{len(content)}"))
        return 206, headers, content[start : end + 1]

    # --- webhooks --------------------------------------------------------------------------------

    def _schedule_webhook(self, task: Task, environ) -> None:
        url = task.payload.get("webhook_url")
        if not url or "never" in task.markers:
            return
        delay = max(0.0, task.ready_after_s) + 0.05
        timer = threading.Timer(delay, self._deliver_webhook, args=(task,))
        timer.daemon = True
        timer.start()

    def _deliver_webhook(self, task: Task, repeat_of: dict | None = None) -> None:
        """One delivery; `repeat_of` (the first delivery's body and event id) makes it the
        vendor's repeat of that event: the same id and body, signed again."""
        if repeat_of is None:
            with self._lock:
                lost = (
                    "lost-webhook" in task.markers or self._rng.random() < self.faults.lost_webhook
                )
        else:
            lost = False
        event = "song.failed" if len(task.failed) == len(task.clip_ids) else "song.completed"
        record = {
            "task_id": task.id,
            "event": event,
            "lost": lost,
            "duplicate": repeat_of is not None,
            "at": time.time(),
        }
        self.webhooks.append(record)
        if lost:
            return
        if repeat_of is None:
            body = json.dumps({**self._task_body(task, 1.0), "event": event}).encode()
            headers = sign_webhook(body, str(task.payload.get("webhook_secret") or ""))
            if "duplicate-webhook" in task.markers or self._draw(self.faults.duplicate_webhook):
                repeat = {"body": body, "event_id": headers["X-Webhook-Id"]}
                timer = threading.Timer(
                    self.faults.duplicate_webhook_after_s,
                    self._deliver_webhook,
                    args=(task,),
                    kwargs={"repeat_of": repeat},
                )
                timer.daemon = True
                timer.start()
        else:
            body = repeat_of["body"]
            headers = sign_webhook(
                body, str(task.payload.get("webhook_secret") or ""), event_id=repeat_of["event_id"]
            )
        headers["X-Webhook-Event"] = event
        try:
            response = requests.post(
                task.payload["webhook_url"], data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S
            )
            record["status"] = response.status_code
        except requests.RequestException as exc:
            record["status"] = None
            logger.warning("simulator webhook for %s failed: %s", task.id, type(exc).__name__)

    # --- control (not part of the vendor's API) ----------------------------------------------

    def _control(self, environ, method: str, path: str):
        if path == "/_simulator/calls":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            with self._lock:
                calls = list(self.calls)
            if "task_id" in query:
                calls = [c for c in calls if c["task_id"] == query["task_id"][0]]
            return 200, [], {"calls": calls, "webhooks": list(self.webhooks)}
        if path == "/_simulator/ledger":
            return 200, [], self.ledger()
        if path == "/_simulator/config" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                data = json.loads(environ["wsgi.input"].read(length) or b"{}")
                self.configure(**data)
            except (ValueError, TypeError) as exc:
                return 400, [], {"error": str(exc)}
        if path == "/_simulator/config":
            return (
                200,
                [],
                {
                    "ready_after_s": self.ready_after_s,
                    "credits": self.credits,
                    "faults": self.faults.as_dict(),
                },
            )
        return 404, [], {"code": 404, "message": "Not Found"}

    def configure(
        self,
        *,
        ready_after_s: float | None = None,
        credits: int | None = None,
        faults: dict | None = None,
    ) -> None:
        with self._lock:
            if ready_after_s is not None:
                self.ready_after_s = float(ready_after_s)
            if credits is not None:
                self.credits = int(credits)
            if faults is not None:
                self.faults = FaultProfile.from_json(json.dumps(faults))
                self._rng = self.faults.rng()

    def ledger(self) -> dict[str, Any]:
        """The vendor's bill: every task it created (so credits spent), with the prompt that
        asked for it, for tests to hold against the service's own ledger."""
        with self._lock:
            tasks = [
                {
                    "task_id": task.id,
                    "task_type": task.payload.get("task_type", "create_music"),
                    "prompt": task.payload.get("gpt_description_prompt")
                    or task.payload.get("prompt")
                    or "",
                    "credits": _cost(task.payload.get("task_type", "create_music")),
                    "created_at": task.created_wall,
                    # The vendor refunds a task whose clips all failed.
                    "all_clips_failed": len(task.failed) == len(task.clip_ids),
                }
                for task in sorted(self._tasks.values(), key=lambda t: t.created_at)
            ]
            sync_charges = list(self.sync_charges)
        return {
            "creates": sum(1 for t in tasks if t["task_type"] in COSTS),
            "credits_spent": sum(t["credits"] for t in tasks)
            + sum(c.get("credits", 0) for c in sync_charges),
            "tasks": tasks,
            "sync_charges": sync_charges,
        }

    def creates(self) -> int:
        """How many creates the simulator accepted (the vendor's bill)."""
        with self._lock:
            return sum(
                1 for c in self.calls if c["path"].endswith("/sonic/create") and c["status"] == 200
            )


def sign_webhook(
    body: bytes, secret: str, timestamp: int | None = None, event_id: str | None = None
) -> dict[str, str]:
    """The vendor's webhook headers: HMAC-SHA256(secret, "{timestamp}.{raw body}")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    event_id = event_id or str(uuid.uuid4())
    return {
        "Content-Type": "application/json",
        "X-Webhook-Id": event_id,
        "Idempotency-Key": event_id,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": f"sha256={digest.hexdigest()}",
    }


def _cost(task_type: str) -> int:
    if task_type == "upload":
        return UPLOAD_COST
    return COSTS.get(task_type) or DERIVED_COSTS[task_type]


def _json_body(environ) -> Any:
    """The request's JSON object, or None when it is not one."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _validate(payload: dict[str, Any]) -> str | None:
    """The vendor's validation messages, for the cases the contract lists."""
    task_type = payload.get("task_type", "create_music")
    if task_type not in COSTS:
        return "The 'task_type' field is invalid."
    if task_type in (
        "extend_music",
        "cover_music",
        "concat_music",
        "extend_upload_music",
        "cover_upload_music",
    ) and not payload.get("continue_clip_id"):
        return "The 'continue_clip_id' field is required."
    if task_type == "concat_music":
        return None
    if task_type == "persona_music" and not payload.get("persona_id"):
        return "The 'persona_id' field is required when task_type = persona_music."
    if task_type in ("extend_music", "extend_upload_music") and not isinstance(
        payload.get("continue_at"), int | float
    ):
        return "The 'continue_at' field is required."
    model = payload.get("mv")
    if model not in MODELS:
        return f"The 'mv' field is invalid, it must be one of {', '.join(MODELS)}."
    if not isinstance(payload.get("custom_mode"), bool):
        return "The 'custom_mode' field is required."
    if payload["custom_mode"]:
        limit = 3000 if model in OLDER_MODELS else 5000
        if len(str(payload.get("prompt") or "")) > limit:
            return f"The prompt character length should be less than {limit}."
        if len(str(payload.get("title") or "")) > 80:
            return "The title character length should be less than 80."
        if len(str(payload.get("tags") or "")) > 200:
            return "The tags character length should be less than 200."
    else:
        description = str(payload.get("gpt_description_prompt") or "")
        if not description:
            return "The 'gpt_description_prompt' field is required."
        if len(description) > 400:
            return "The gpt_description_prompt character length should be less than 400."
    return None


def _too_many(retry_after_s: float):
    return (
        429,
        [("Retry-After", str(max(1, round(retry_after_s))))],
        {"code": 429, "message": "Too many requests, please slow down."},
    )


_NO_CREDITS = "The remaining credits are not enough, please recharge your account."
_NO_LYRICS_CREDITS = "The remaining lyrics credits are not enough, please recharge your account."
_NO_SUCH_CLIP = "The clip_id is invalid: no finished song of yours has this id."
_URL_NOT_ACCESSIBLE = "Audio URL is not accessible. Please provide a public direct audio file URL."
_UPLOAD_MODERATION = "The audio needs moderation review."
_UPLOAD_COPYRIGHT = "The audio contains copyrighted content and cannot be uploaded."
_DERIVE_REFUSED = "This song contains copyrighted content and cannot be processed."
_REASONS = {
    200: "OK",
    202: "Accepted",
    206: "Partial Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
