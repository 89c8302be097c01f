"""Every user operation over HTTP against a running service, as a curl-style transcript.

    make run                                   # in another shell: prints the demo token
    python -m bench.operations --base http://127.0.0.1:8000 --token mg_…

Drives, one after another: a song (create), extend, concat of that extend, cover, WAV, stems
basic and full, lyrics timeline, lyrics, persona, a song sung by that persona, and upload →
cover when the service offers uploads (its schema lists `POST /api/v1/uploads`). Each waits
for its resource to finish (bounded by `--timeout`), and the transcript shows every request as
a curl command line (the token as `$TOKEN`) with each answer and UTC timestamps. Exits 1 when an
operation did not succeed in time. Needs only the service's HTTP API (nothing of Django).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import shlex
import struct
import sys
import time
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
LONG_TEXT = 160  # longer strings in a printed body (but URLs) are cut to this many characters
RETRY_429_MAX_S = 65.0  # a 429 asking for longer than this ends the operation instead

LYRICS = (
    "[Verse]\nWake up to the morning light\nCoffee steaming, sky so bright\n"
    "[Chorus]\nWe are alright, we are alright"
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONG_TEXT and not value.startswith("http"):
        return f"{value[:LONG_TEXT]}… ({len(value)} chars)"
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


class OperationFailed(Exception):
    pass


@dataclass
class Outcome:
    name: str
    status: str = "not run"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Client:
    """HTTP calls that print themselves as curl command lines and answers."""

    base: str
    token: str
    out: Any = sys.stdout
    timeout_s: float = 300.0
    session: requests.Session = field(default_factory=requests.Session)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def curl(
        self, method: str, url: str, body: Any, headers: dict[str, str], form: dict | None = None
    ) -> str:
        parts = ["curl", "-sS", "-i"]
        if method != "GET":
            parts += ["-X", method]
        parts.append(shlex.quote(url))
        line = " ".join(parts) + ' -H "Authorization: Bearer $TOKEN"'
        for name, value in headers.items():
            line += f" -H {shlex.quote(f'{name}: {value}')}"
        if body is not None:
            line += " -H 'Content-Type: application/json' -d " + shlex.quote(json.dumps(body))
        for name, value in (form or {}).items():
            value = f"@{value[0]}" if isinstance(value, tuple) else value
            line += f" -F {shlex.quote(f'{name}={value}')}"
        return line

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        quiet: bool = False,
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> requests.Response:
        """One request; printed in full unless `quiet` (then one line). A 429 with a short
        Retry-After is waited out and sent again; any status outside `expect` fails. `form`: a
        multipart body, each file as (name, bytes, content type)."""
        url = path if path.startswith("http") else f"{self.base}{path}"
        headers = headers or {}
        while True:
            sent = now()
            started = time.monotonic()
            files = {k: v for k, v in (form or {}).items() if isinstance(v, tuple)}
            answer = self.session.request(
                method,
                url,
                json=body,
                files=files or None,
                data={k: v for k, v in (form or {}).items() if k not in files} or None,
                headers={"Authorization": f"Bearer {self.token}", **headers},
                timeout=60,
            )
            took_ms = (time.monotonic() - started) * 1000
            self._print(method, url, body, headers, answer, sent, took_ms, quiet, form)
            retry_s = _retry_after(answer)
            if answer.status_code == 429 and retry_s is not None and retry_s <= RETRY_429_MAX_S:
                self.say(f"# {now()} 429: waiting {retry_s:.0f} s as Retry-After asks, then again")
                time.sleep(retry_s + 0.5)
                continue
            if answer.status_code not in expect:
                raise OperationFailed(f"{method} {path} answered {answer.status_code}")
            return answer

    def _print(self, method, url, body, headers, answer, sent, took_ms, quiet, form) -> None:
        summary = f"{answer.status_code} {answer.reason}"
        if quiet:
            status = _json(answer).get("status", "") if _is_json(answer) else ""
            self.say(f"# {sent} GET {url} -> {summary} {status} ({took_ms:.0f} ms)")
            return
        self.say(f"# {sent}")
        self.say(f"$ {self.curl(method, url, body, headers, form)}")
        self.say(f"< {summary}   (answered {now()}, {took_ms:.0f} ms)")
        for name in (
            "Location",
            "Content-Type",
            "Content-Length",
            "Content-Range",
            "Retry-After",
            "Idempotent-Replayed",
            "RateLimit",
        ):
            if name in answer.headers:
                self.say(f"< {name}: {answer.headers[name]}")
        if _is_json(answer):
            self.say(json.dumps(_short(_json(answer)), indent=2, ensure_ascii=False))
        elif answer.content and not answer.headers.get("Content-Type", "").startswith("audio/"):
            self.say(answer.text[:LONG_TEXT])
        self.say()

    def wait(self, path: str) -> dict:
        """Poll `path` (quietly, one line a poll) until its status is terminal; print the end."""
        deadline = time.monotonic() + self.timeout_s
        delay_s = 0.5
        while time.monotonic() < deadline:
            resource = _json(self.call("GET", path, quiet=True))
            if resource.get("status") in TERMINAL:
                self.say(f"# {now()} finished: the resource as it ended")
                self.call("GET", path)
                return resource
            time.sleep(delay_s)
            delay_s = min(delay_s * 1.5, 5.0)
        raise OperationFailed(f"{path} did not finish within {self.timeout_s:.0f} s")

    def play(self, url: str | None) -> None:
        """The first bytes of a signed media URL (no token needed), to show it plays."""
        if not url:
            raise OperationFailed("no signed URL to play")
        self.say(f"# {now()}")
        self.say(f"$ curl -sS -i -r 0-15 {shlex.quote(url)} -o /dev/null")
        answer = requests.get(url, headers={"Range": "bytes=0-15"}, timeout=30)
        self.say(f"< {answer.status_code} {answer.reason}   (answered {now()})")
        for name in ("Content-Type", "Content-Range", "Content-Length"):
            if name in answer.headers:
                self.say(f"< {name}: {answer.headers[name]}")
        self.say()
        if answer.status_code != 206:
            raise OperationFailed(f"media answered {answer.status_code}, not 206")


def _is_json(answer: requests.Response) -> bool:
    return "json" in answer.headers.get("Content-Type", "")


def _json(answer: requests.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"items": body}


def hum_wav(seconds: float = 8.0, rate: int = 16_000) -> bytes:
    """A short WAV of a hummed tune (sine notes), within the vendor's 6-60 s for uploads."""
    notes = (262, 294, 330, 349, 392, 349, 330, 294)
    frames = bytearray()
    for n in range(int(seconds * rate)):
        pitch = notes[int(n / rate * 2) % len(notes)]
        frames += struct.pack("<h", int(12_000 * math.sin(2 * math.pi * pitch * n / rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(bytes(frames))
    return out.getvalue()


def _retry_after(answer: requests.Response) -> float | None:
    value = answer.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


# --- the operations ------------------------------------------------------------------------------


@dataclass
class Run:
    client: Client
    made: dict[str, Any] = field(default_factory=dict)  # what later operations build on

    def generation(self, body: dict) -> dict:
        created = _json(self.client.call("POST", "/api/v1/generations", body))
        final = self.client.wait(f"/api/v1/generations/{created['id']}")
        if final["status"] != "succeeded":
            raise OperationFailed(f"generation {final['status']}: {final.get('error')}")
        self.client.play(final["clips"][0]["audio_url"])
        return final

    def job(self, path: str, body: dict | None = None, *, plays: bool = False) -> dict:
        created = _json(self.client.call("POST", path, body))
        final = self.client.wait(f"/api/v1/jobs/{created['id']}")
        if final["status"] != "succeeded":
            raise OperationFailed(f"job {final['status']}: {final.get('error')}")
        if plays:
            self.client.play(final["files"][0]["url"])
        return final

    def create(self) -> None:
        song = self.generation(
            {"mode": "custom", "title": "Morning Light", "tags": "indie pop", "lyrics": LYRICS}
        )
        self.made["clip"] = song["clips"][0]

    def extend(self) -> None:
        clip = self._clip()
        at = round(min((clip.get("duration") or 2.0) / 2, 30.0), 1)
        song = self.generation(
            {
                "operation": "extend",
                "source_clip": clip["id"],
                "continue_at": at,
                "description": "a bright outro with handclaps",
            }
        )
        self.made["extension"] = song["clips"][0]

    def concat(self) -> None:
        extension = self.made.get("extension")
        if extension is None:
            raise OperationFailed("no extension to concat (extend did not succeed)")
        self.generation({"operation": "concat", "source_clip": extension["id"]})

    def cover(self) -> None:
        self.generation(
            {
                "operation": "cover",
                "source_clip": self._clip()["id"],
                "description": "the same song as slow acoustic folk",
            }
        )

    def wav(self) -> None:
        self.job(f"/api/v1/clips/{self._clip()['id']}/wav", plays=True)

    def stems_basic(self) -> None:
        self.job(f"/api/v1/clips/{self._clip()['id']}/stems", {"tracks": "basic"}, plays=True)

    def stems_full(self) -> None:
        self.job(f"/api/v1/clips/{self._clip()['id']}/stems", {"tracks": "full"}, plays=True)

    def lyrics_timeline(self) -> None:
        self.job(f"/api/v1/clips/{self._clip()['id']}/lyrics-timeline")

    def lyrics(self) -> None:
        self.job("/api/v1/lyrics", {"description": "a song about the sky"})

    def persona(self) -> None:
        body = {
            "clip": self._clip()["id"],
            "name": "Velvet",
            "description": "a warm alto with a soft vibrato",
            "styles": "soul, neo-soul",
        }
        created = _json(self.client.call("POST", "/api/v1/personas", body))
        final = self.client.wait(f"/api/v1/personas/{created['id']}")
        if final["status"] != "succeeded":
            raise OperationFailed(f"persona {final['status']}: {final.get('error')}")
        self.client.call("GET", "/api/v1/personas")
        self.made["persona"] = final

    def persona_music(self) -> None:
        persona = self.made.get("persona")
        if persona is None:
            raise OperationFailed("no persona to sing (persona did not succeed)")
        self.generation(
            {
                "operation": "persona_music",
                "persona": persona["id"],
                "mode": "custom",
                "title": "Night Drive",
                "tags": "soul, slow groove",
                "lyrics": "[Verse]\nCity lights are calling\n[Chorus]\nDrive on through the night",
            }
        )

    def upload(self) -> None:
        form = {"file": ("hum.wav", hum_wav(), "audio/wav"), "title": "humming"}
        created = _json(self.client.call("POST", "/api/v1/uploads", form=form))
        final = self.client.wait(f"/api/v1/generations/{created['id']}")
        if final["status"] != "succeeded":
            raise OperationFailed(f"upload {final['status']}: {final.get('error')}")
        self.client.play(final["clips"][0]["audio_url"])
        self.made["upload"] = final["clips"][0]

    def upload_cover(self) -> None:
        upload = self.made.get("upload")
        if upload is None:
            raise OperationFailed("no uploaded clip to cover (upload did not succeed)")
        self.generation(
            {
                "operation": "cover",
                "source_clip": upload["id"],
                "description": "this hummed tune as a lush synth-pop song",
            }
        )

    def _clip(self) -> dict:
        clip = self.made.get("clip")
        if clip is None:
            raise OperationFailed("no song to work on (create did not succeed)")
        return clip


OPERATIONS = (
    ("create", Run.create),
    ("extend", Run.extend),
    ("concat", Run.concat),
    ("cover", Run.cover),
    ("wav", Run.wav),
    ("stems basic", Run.stems_basic),
    ("stems full", Run.stems_full),
    ("lyrics timeline", Run.lyrics_timeline),
    ("lyrics", Run.lyrics),
    ("persona", Run.persona),
    ("persona_music", Run.persona_music),
)
# Offered when the service's schema has them (uploads came later than the rest).
UPLOAD_OPERATIONS = (("upload", Run.upload), ("cover of the upload", Run.upload_cover))


def operations_offered(client: Client) -> tuple:
    schema = client.session.get(f"{client.base}/api/schema/?format=json", timeout=30)
    paths = schema.json().get("paths", {}) if schema.ok else {}
    return OPERATIONS + (UPLOAD_OPERATIONS if "/api/v1/uploads" in paths else ())


def run(client: Client) -> list[Outcome]:
    run_ = Run(client)
    outcomes = []
    client.say(f"# Music Gateway: every user operation against {client.base}, started {now()}")
    client.say("# TOKEN is the API token (export TOKEN=mg_…); each request is printed as curl.\n")
    client.call("GET", "/api/v1/me")
    offered = operations_offered(client)
    if len(offered) == len(OPERATIONS):
        client.say("# This service offers no uploads (POST /api/v1/uploads): upload steps skipped.")
    for name, operation in offered:
        outcome = Outcome(name)
        client.say(f"{'=' * 100}\n# operation: {name}   (started {now()})\n{'=' * 100}")
        started = time.monotonic()
        try:
            operation(run_)
            outcome.status = "succeeded"
        except (OperationFailed, requests.RequestException, KeyError, IndexError) as exc:
            outcome.status, outcome.detail = "FAILED", f"{type(exc).__name__}: {exc}"
            client.say(f"# {now()} operation {name} FAILED: {outcome.detail}\n")
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
    client.say(f"{'=' * 100}\n# after every operation   ({now()})\n{'=' * 100}")
    client.call("GET", "/api/v1/me")
    client.say(f"# {'operation':<18} {'result':<10} {'seconds':>8}  detail")
    for o in outcomes:
        client.say(f"# {o.name:<18} {o.status:<10} {o.seconds:>8.1f}  {o.detail}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="an API token (make run prints one)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds each operation may take to finish (make run's songs take about 60 s)",
    )
    args = parser.parse_args(argv)
    client = Client(base=args.base.rstrip("/"), token=args.token, timeout_s=args.timeout)
    outcomes = run(client)
    return 0 if all(o.status == "succeeded" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
