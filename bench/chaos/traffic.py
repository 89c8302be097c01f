"""What the users do during the chaos run: create generations with an Idempotency-Key (retried
with the same key when an answer is lost), sometimes replay a create, and cancel or delete some
at random moments — right away, while the vendor create is under way, or while it runs.

Requests go to either web process, as behind a load balancer; a refused connection is retried
on the other one. Every answer is logged with its time and web port, so the report can tell a
5xx during a kill from one that should never happen.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

ATTEMPTS = 10
TIMEOUT_S = 20

# The create makes the task and answers after the client's timeout: `failed` (unconfirmed).
HANG_CREATE = "[sim:hang-create] "
# (marker, the status it asks for), drawn per generation.
MARKERS = [
    ("", "succeeded"),
    ("", "succeeded"),
    ("", "succeeded"),
    ("", "succeeded"),
    ("", "succeeded"),
    ("", "succeeded"),
    ("[sim:clip-failed] ", "succeeded"),
    ("[sim:poll-500] ", "succeeded"),
    ("[sim:create-429] ", "succeeded"),
    ("[sim:failed] ", "failed"),
    ("[sim:moderation] ", "failed"),
]


@dataclass
class Answer:
    at: float
    port: int
    method: str
    path: str
    status: int | None  # None: no answer (refused, reset, timed out)


@dataclass
class Planned:
    user: str
    n: int
    description: str
    expected: str
    key: str
    gid: str | None = None
    action: str = ""  # "", "cancel" or "delete"
    action_delay_s: float = 0.0
    action_at: float = 0.0
    action_status: int | None = None
    replayed_same: bool | None = None
    create_attempts: int = 0


@dataclass
class Traffic:
    ports: list[int]
    rng: random.Random
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, session, method: str, path: str, **kwargs) -> requests.Response | None:
        """One request to a random web process; on no answer, once more to another one."""
        ports = self.ports[:]
        self.rng.shuffle(ports)
        for port in ports:
            started = time.time()
            try:
                response = session.request(
                    method, f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT_S, **kwargs
                )
            except requests.RequestException:
                self._log(Answer(started, port, method, path, None))
                continue
            self._log(Answer(started, port, method, path, response.status_code))
            return response
        return None

    def _log(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)


def plan(rng: random.Random, users: list[str], generations: int, run: str) -> list[Planned]:
    planned = []
    for n in range(generations):
        user = users[n % len(users)]
        marker, expected = rng.choice(MARKERS)
        item = Planned(
            user=user,
            n=n,
            description=f"{marker}chaos {run} {user} #{n}",
            expected=expected,
            key=f"chaos-{run}-{n}-{uuid.uuid4().hex[:8]}",
        )
        roll = rng.random()
        if roll < 0.14:
            item.action = "cancel" if roll < 0.09 else "delete"
            # Right away (before a worker takes it), during the vendor create, or while it runs.
            item.action_delay_s = rng.choice(
                [
                    rng.uniform(0, 0.2),
                    rng.uniform(0.2, 3.0),
                    rng.uniform(0.2, 3.0),
                    rng.uniform(3, 8),
                ]
            )
        planned.append(item)
    # Every run, however short, meets a vendor that takes a create and never answers in time.
    if len(planned) > 1:
        hung = planned[1]
        hung.description = f"{HANG_CREATE}chaos {run} {hung.user} #{hung.n}"
        hung.expected = "failed"
    return planned


def create(traffic: Traffic, session, item: Planned) -> None:
    """POST with the item's Idempotency-Key until an answer says what happened (bounded)."""
    body = {"description": item.description}
    headers = {"Idempotency-Key": item.key}
    for attempt in range(ATTEMPTS):
        item.create_attempts = attempt + 1
        response = traffic.request(
            session, "POST", "/api/v1/generations", json=body, headers=headers
        )
        if response is not None and response.status_code in (200, 201, 202):
            item.gid = response.json()["id"]
            return
        if response is not None and response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        time.sleep(min(0.5 * 2**attempt, 8))


def replay(traffic: Traffic, session, item: Planned) -> None:
    """The same key and body again: the original generation, nothing new."""
    response = traffic.request(
        session,
        "POST",
        "/api/v1/generations",
        json={"description": item.description},
        headers={"Idempotency-Key": item.key},
    )
    if response is not None and response.status_code < 500:
        item.replayed_same = (
            response.json().get("id") == item.gid
            and response.headers.get("Idempotent-Replayed") == "true"
        )


def act(traffic: Traffic, session, item: Planned) -> None:
    time.sleep(item.action_delay_s)
    item.action_at = time.time()
    for attempt in range(ATTEMPTS):
        if item.action == "cancel":
            response = traffic.request(session, "POST", f"/api/v1/generations/{item.gid}/cancel")
        else:
            response = traffic.request(session, "DELETE", f"/api/v1/generations/{item.gid}")
        if response is not None and response.status_code < 500:
            item.action_status = response.status_code
            return
        time.sleep(min(0.5 * 2**attempt, 8))


def run_users(
    traffic: Traffic,
    sessions: dict[str, requests.Session],
    planned: list[Planned],
    duration_s: float,
    rng: random.Random,
) -> None:
    """Each user sends its creates evenly over `duration_s`; actions and replays run beside."""
    by_user: dict[str, list[Planned]] = {}
    for item in planned:
        by_user.setdefault(item.user, []).append(item)
    side = ThreadPoolExecutor(max_workers=16)
    replays = {item.n for item in planned if rng.random() < 0.1}

    def user_loop(user: str, items: list[Planned]) -> None:
        interval = duration_s / max(1, len(items))
        for item in items:
            started = time.monotonic()
            create(traffic, sessions[user], item)
            if item.gid and item.action:
                side.submit(act, traffic, sessions[user], item)
            if item.gid and item.n in replays and not item.action:
                side.submit(replay, traffic, sessions[user], item)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    with ThreadPoolExecutor(max_workers=len(by_user)) as pool:
        for future in [pool.submit(user_loop, u, items) for u, items in by_user.items()]:
            future.result()
    side.shutdown(wait=True)
