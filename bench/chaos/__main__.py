"""Chaos run: users create, replay, cancel and delete generations under the simulator's fault
profile while worker processes, a web process (of two), the scheduler, the broker, Redis and
PostgreSQL are killed and started again. Then it checks every promise in the README's
"Guarantees", prints a table, and exits 1 if any is broken. Loopback only, bounded.

    python -m bench.chaos [--generations 300] [--users 5] [--rounds N] [--seed 7] [--shape S]

Shapes (`--shape` or CHAOS_SHAPE): `production` = PostgreSQL + RabbitMQ + Redis, each a private
server on a free port so it can be restarted (the machine's shared servers are never touched);
`embedded` = SQLite + the embedded Redis as broker, as `make run` on a laptop; `shared` = the
running PostgreSQL and RabbitMQ (DATABASE_URL, BROKER_URL, else 127.0.0.1:5432 and :5672), a
database and a vhost of the run's own, their connections dropped instead of restarts (CI's short
run, `make chaos-ci`); `auto` (default) = production when PostgreSQL and RabbitMQ are installed
here, embedded otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time

import requests

from bench.chaos.cluster import ChaosStack, Shape, Window
from bench.chaos.invariants import TERMINAL, Row, check_all
from bench.chaos.services import (
    PrivatePostgres,
    PrivateRabbit,
    SharedPostgres,
    SharedRabbit,
    postgres_bin,
    rabbitmq_available,
    rabbitmqctl_available,
)
from bench.chaos.traffic import Traffic, plan, run_users
from tests.stack import ROOT

FAULTS = {
    "server_error": 0.05,  # 500 on any vendor call
    "rate_limit": 0.05,  # 429 with Retry-After
    "retry_after_s": 1,
    "slow": 0.05,  # answers 2 s late: the cancels and deletes during a create hit these
    "slow_s": 2,
    # A call accepted and left unanswered past the client's 30 s read timeout (a create has made
    # its task: it ends `unconfirmed`, charged, as the vendor billed it).
    "hang": 0.005,
    "hang_s": 35,
    "failed_clip": 0.1,
    "lost_webhook": 0.3,
    "duplicate_webhook": 0.2,  # the same event again 1.5 s later: the receiver drops it
}
SETTLE_LIMIT_S = 420
READY_AFTER_S = 4


def make_shape(name: str) -> Shape:
    if name == "auto":
        name = "production" if postgres_bin() and rabbitmq_available() else "embedded"
    if name == "embedded":
        return Shape("embedded", notes=["SQLite file, embedded Redis as cache and broker"])
    if name == "shared":
        return shared_shape()
    if name != "production":
        raise SystemExit(f"unknown shape {name!r}: production, embedded, shared or auto")
    if not (postgres_bin() and rabbitmq_available()):
        raise SystemExit("the production shape needs /usr/lib/postgresql/*/bin and rabbitmq-server")
    run_dir = ROOT / "var" / "chaos" / f"{os.getpid()}"
    return Shape(
        "production",
        postgres=PrivatePostgres(run_dir / "postgres"),
        rabbit=PrivateRabbit(run_dir / "rabbitmq"),
        notes=[
            "PostgreSQL: a private cluster (initdb, pg_ctl) on a free port, crash-restarted",
            "RabbitMQ: a private rabbitmq-server node on a free port, killed -9 and restarted",
            "Redis (cache, events): a private redis-server, restarted empty",
        ],
    )


def shared_shape() -> Shape:
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith(("postgres://", "postgresql://")):
        database = "postgres://postgres@127.0.0.1:5432/postgres"
    broker = os.environ.get("BROKER_URL", "")
    if not broker.startswith("amqp://"):
        broker = "amqp://guest:guest@127.0.0.1:5672/"
    if not rabbitmqctl_available():
        raise SystemExit("the shared shape needs rabbitmqctl, to make a vhost of its own")
    postgres, rabbit = SharedPostgres(database), SharedRabbit(broker)
    return Shape(
        "shared",
        postgres=postgres,
        rabbit=rabbit,
        notes=[
            f"PostgreSQL: database {postgres.name} on the running server, its connections dropped",
            f"RabbitMQ: vhost {rabbit.vhost} on the running server, its connections closed",
            "Redis (cache, events): a private redis-server, restarted empty",
        ],
    )


def disruption_plan(rng: random.Random, shape: Shape, rounds: int) -> list[str]:
    """Every kind at least once; PostgreSQL once; the slow-to-boot RabbitMQ at most twice."""
    kinds = ["worker", "worker", "web", "scheduler", "redis", "duplicate"]
    if shape.postgres:
        kinds += ["postgres", "rabbitmq"]
    while len(kinds) < rounds:
        kinds.append(rng.choice(["worker", "worker", "worker", "web", "web", "scheduler"]))
    if shape.rabbit and rounds >= 16:
        kinds.append("rabbitmq")
    rng.shuffle(kinds)
    return kinds


def disrupt(stack: ChaosStack, kind: str, rng: random.Random) -> Window:
    if kind == "worker":
        target = rng.choice(stack.worker_names)
        window = Window(kind, target, time.time())
        stack.kill_process(target)
        time.sleep(rng.uniform(0, 2))
        stack.start_process(target)
    elif kind == "web":
        target = rng.choice([f"web-{i}" for i in range(len(stack.web_ports))])
        window = Window(kind, target, time.time())
        stack.kill_process(target)
        time.sleep(rng.uniform(0.5, 2))
        stack.start_process(target)
        stack.wait_web(stack.port_of(target))
    elif kind == "scheduler":
        window = Window(kind, "scheduler", time.time())
        stack.kill_process("scheduler")
        stack.start_process("scheduler")
    elif kind == "redis":
        window = Window(kind, "redis", time.time(), note="restarted empty")
        stack.restart_redis()
    elif kind == "duplicate":
        window = Window(kind, "broker", time.time())
        sent = json.loads(
            stack.manage(
                "shell",
                "-c",
                f"from bench.chaos.audit import redeliver; redeliver({stack.usernames!r})",
                timeout_s=300,
            )
            .strip()
            .splitlines()[-1]
        )
        window.note = ", ".join(f"{n} {what}" for what, n in sent.items()) + " delivered twice"
    elif kind == "rabbitmq":
        window = Window(kind, "rabbitmq", time.time())
        window.note = stack.shape.rabbit.disrupt(rng)
    elif kind == "postgres":
        window = Window(kind, "postgres", time.time())
        window.note = stack.shape.postgres.disrupt(rng)
    else:
        raise ValueError(kind)
    window.end = time.time()
    return window


def settle(
    stack: ChaosStack, traffic: Traffic, sessions, planned, limit_s: float = SETTLE_LIMIT_S
) -> tuple[dict, float]:
    """Until every generation is terminal and its media copied (bounded); the reconciler runs
    every few seconds, as the scheduler does every minute."""
    started = time.monotonic()
    final: dict[str, dict] = {}
    pending = [
        i for i in planned if i.gid and not (i.action == "delete" and i.action_status == 204)
    ]
    while pending and time.monotonic() - started < limit_s:
        try:
            stack.manage("reconcile")
        except Exception as exc:  # the invariants report what it failed to repair
            print(f"reconcile failed: {exc}", file=sys.stderr)
        still = []
        for item in pending:
            response = traffic.request(
                sessions[item.user], "GET", f"/api/v1/generations/{item.gid}"
            )
            if response is None or response.status_code != 200:
                still.append(item)
                continue
            body = response.json()
            final[item.gid] = body
            done = body["status"] in TERMINAL and all(
                c.get("media") != "pending"
                for c in body.get("clips", [])
                if c["state"] == "succeeded"
            )
            if not done:
                still.append(item)
        pending = still
        if pending:
            time.sleep(3)
    return final, time.monotonic() - started


def fetch_media(final: dict[str, dict]) -> dict[str, bytes | None]:
    bodies: dict[str, bytes | None] = {}
    for generation in final.values():
        if generation["status"] != "succeeded":
            continue
        for clip in generation.get("clips", []):
            if clip["state"] != "succeeded" or not clip.get("audio_url"):
                continue
            try:
                response = requests.get(clip["audio_url"], timeout=20)
                bodies[clip["id"]] = response.content if response.status_code == 200 else None
            except requests.RequestException:
                bodies[clip["id"]] = None
    return bodies


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=0, help="disruptions (default: gens/15)")
    parser.add_argument("--rate", type=float, default=3.0, help="creates per second, all users")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", default=os.environ.get("CHAOS_SHAPE", "auto"))
    parser.add_argument(
        "--settle-limit", type=float, default=SETTLE_LIMIT_S, help="seconds to wait for the end"
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rounds = args.rounds or max(8, args.generations // 15)
    shape = make_shape(args.shape)
    run = f"{args.seed}-{os.getpid()}"
    users = [f"chaos-u{i}" for i in range(args.users)]
    planned = plan(rng, users, args.generations, run)
    duration_s = args.generations / args.rate
    wall = time.monotonic()
    if shape.postgres:
        try:
            shape.postgres.start()
            shape.rabbit.start()
        except BaseException:
            shape.rabbit.stop()
            shape.postgres.stop()
            raise
    stack = ChaosStack(
        shape=shape,
        ready_after_s=READY_AFTER_S,
        faults={**FAULTS, "seed": args.seed},
        webhooks=True,
    )
    windows: list[Window] = []
    with stack:
        sessions = {}
        for user, token in stack.tokens(users).items():
            sessions[user] = requests.Session()
            sessions[user].headers["Authorization"] = f"Bearer {token}"
        traffic = Traffic(ports=stack.web_ports, rng=random.Random(args.seed + 1))
        kinds = disruption_plan(rng, shape, rounds)

        failed: list[str] = []

        def chaos() -> None:
            interval = duration_s / len(kinds)
            for kind in kinds:
                time.sleep(rng.uniform(0.5, 1.5) * interval)
                try:
                    windows.append(disrupt(stack, kind, rng))
                except Exception as exc:  # the table says so; the run goes on
                    failed.append(f"{kind}: {str(exc).strip().splitlines()[-1][:160]}")

        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        run_users(traffic, sessions, planned, duration_s, random.Random(args.seed + 2))
        chaos_thread.join(timeout=600)
        if chaos_thread.is_alive():
            failed.append("the disruptions did not end within 600 s")
        final, settle_s = settle(stack, traffic, sessions, planned, args.settle_limit)
        tasks = stack.simulator("ledger")["tasks"]
        webhooks = stack.simulator("calls")["webhooks"]
        audit = json.loads(
            stack.manage(
                "shell",
                "-c",
                f"from bench.chaos.audit import dump; dump({users!r})",
                timeout_s=600,
            )
            .strip()
            .splitlines()[-1]
        )
        media = fetch_media(final)
        web_ports = {f"web-{i}": port for i, port in enumerate(stack.web_ports)}
        rows = check_all(
            planned=planned,
            answers=traffic.answers,
            windows=windows,
            audit=audit,
            tasks=tasks,
            webhooks=webhooks,
            final=final,
            media=media,
            web_ports=web_ports,
        )
        rows.insert(
            0,
            Row(
                "disruptions done as planned",
                f"{len(windows)}/{len(kinds)}",
                len(windows) == len(kinds) and not failed,
                failed[:10],
            ),
        )
        if not all(row.ok for row in rows):
            keep_logs(stack, run)
    print_report(args, shape, windows, rows, settle_s, time.monotonic() - wall, planned)
    return 0 if all(row.ok for row in rows) else 1


def keep_logs(stack: ChaosStack, run: str) -> None:
    """A broken run keeps every process's log (the stack's directory goes with it)."""
    target = ROOT / "var" / "chaos" / f"logs-{run}"
    target.mkdir(parents=True, exist_ok=True)
    for log in stack.dir.glob("*.log"):
        shutil.copy(log, target / log.name)
    print(f"logs kept in {target}", file=sys.stderr)


def print_report(args, shape, windows, rows, settle_s, wall_s, planned) -> None:
    actions = {kind: sum(1 for i in planned if i.action == kind) for kind in ("cancel", "delete")}
    killed: dict[str, int] = {}
    for window in windows:
        killed[window.kind] = killed.get(window.kind, 0) + 1
    print()
    print(
        f"chaos, {shape.name} shape: {args.generations} generations "
        f"from {args.users} users, seed {args.seed}"
    )
    for note in shape.notes:
        print(f"  {note}")
    print(f"  faults: {FAULTS}")
    print(
        f"  users: {actions['cancel']} cancels, {actions['delete']} deletes at random moments; "
        f"Idempotency-Key on every create, retried when an answer is lost"
    )
    print(
        "  disrupted: "
        + ", ".join(f"{kind} x{n}" for kind, n in sorted(killed.items()))
        + f"; settled {settle_s:.0f} s after the last; {wall_s:.0f} s in all"
    )
    for window in windows:
        if window.kind in ("duplicate", "postgres", "rabbitmq") and window.note:
            print(f"  {window.kind} at +{window.start - windows[0].start:.0f} s: {window.note}")
    width = max(len(row.name) for row in rows)
    print()
    print(f"{'invariant'.ljust(width)}  ok    result")
    print(f"{'-' * width}  ----  {'-' * 40}")
    for row in rows:
        print(f"{row.name.ljust(width)}  {'yes ' if row.ok else 'NO  '}  {row.detail}")
        for note in row.notes or []:
            print(f"{''.ljust(width)}        {note}")
    print()
    print("all invariants hold" if all(r.ok for r in rows) else "BROKEN INVARIANTS (exit 1)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
