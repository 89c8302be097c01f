"""`make attack`: schemathesis against the live service, as an attacker with a token would.

Starts the whole stack (tests.stack.Stack: web under uvicorn, workers, the simulator, Redis) with
`DEBUG=0`, creates a user and its token, and runs the pinned schemathesis CLI over every
operation of the schema the service serves: every check, every phase (examples, coverage,
fuzzing, stateful), bounded by `--max-examples` and `--max-time`. Any 5xx, conformance failure
or error fails the run (exit 1), and so does a traceback in the web log or the run's own token
revoked by the run. Loopback only. tests/attack.toml lists the few documented answers whose
acceptance depends on server state (each with its reason); tests/attack_hooks.py keeps the
run's token from revoking itself and keeps a past `expires_at` out of the valid tokens.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.stack import ROOT, Stack

# The run as CI has it: about three minutes in all on a loaded 2-core machine (the stack's
# start-up, then schemathesis' own budget).
DEFAULT_MAX_EXAMPLES = 30
DEFAULT_MAX_TIME_S = 100
# A schemathesis that does not end by itself is stopped here (and the run fails).
HARD_LIMIT_S = 240


def _stack_env() -> dict[str, str]:
    return {
        # Production settings, served over plain http on loopback.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_FORMAT": "plain",
        # A stream stays open until its generation is done, longer than a request may wait
        # here: streams end after a few seconds (the production limits are tested elsewhere).
        "SSE_MAX_DURATION_S": "3",
        "SSE_HEARTBEAT_S": "1",
    }


def _token_id(stack: Stack, token: str) -> str:
    out = stack.manage(
        "shell",
        "-c",
        "from api.tokens import _digest; from api.models import ApiToken; "
        f"print(ApiToken.objects.get(digest=_digest({token!r})).pk)",
    )
    return out.split()[-1]  # the shell may print lines of its own first


def _schemathesis(base: str, token: str, args: argparse.Namespace) -> list[str]:
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        *("--config-file", str(ROOT / "tests" / "attack.toml")),
        "run",
        f"{base}/api/schema/",
        *("--url", base),
        *("--header", f"Authorization: Bearer {token}"),
        *("--checks", "all"),
        *("--phases", "examples,coverage,fuzzing,stateful"),
        *("--max-examples", str(args.max_examples)),
        *("--max-time", str(args.max_time)),
        *("--request-timeout", "10"),
        # One worker: with two threads, CPython 3.11's ast.parse (hypothesis describing its
        # lambdas) can fail with "AST constructor recursion depth mismatch", a runtime error
        # that is the tool's, not the service's.
        *("--workers", "1"),
        *("--generation-database", "none"),
        "--no-color",
        *("--report", "junit", "--report-dir", args.report_dir),
        *(["--seed", str(args.seed)] if args.seed is not None else []),
        *args.extra,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--max-time", type=int, default=DEFAULT_MAX_TIME_S)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report-dir", default=str(ROOT / "var" / "attack"))
    parser.add_argument("extra", nargs="*", help="more schemathesis options (after --)")
    args = parser.parse_args(argv)

    # CI may stop us with SIGTERM: unwind, so that the stack's processes go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    # webhooks: PUBLIC_BASE_URL is the stack's own address, so uploads are attacked too
    # (without it POST /uploads is the documented 503 on every case).
    with Stack(ready_after_s=1.0, env=_stack_env(), webhooks=True) as stack:
        token = stack.token("attacker")
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.attack_hooks",
            "ATTACK_TOKEN_ID": _token_id(stack, token),
        }
        print(f"attack: stack up in {time.monotonic() - started:.0f} s on {stack.base}", flush=True)
        try:
            result = subprocess.run(
                _schemathesis(stack.base, token, args),
                cwd=ROOT,
                env=env,
                timeout=HARD_LIMIT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            print(f"attack: schemathesis did not finish within {HARD_LIMIT_S} s", file=sys.stderr)
            return 1
        tracebacks = stack.log("web").count("Traceback")
        alive = requests.get(
            f"{stack.base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).ok
        print(
            f"attack: schemathesis exit {result.returncode}, {tracebacks} tracebacks in the web "
            f"log, the run's token {'still live' if alive else 'REVOKED'}; "
            f"{time.monotonic() - started:.0f} s in all"
        )
        if tracebacks:
            print(stack.log("web")[-5000:], file=sys.stderr)
        return 1 if result.returncode or tracebacks or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
