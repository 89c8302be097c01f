"""The promises the chaos run checks, each as one row of the printed table.

Inputs: what the users did (`Planned`, answers logged per web process), the disruptions
(`Window`s), what the database and storage hold (the audit dump) and the vendor's own list of
the tasks it created (the simulator's `/_simulator/tasks`).
"""

from __future__ import annotations

import io
import re
import wave
from collections import Counter, defaultdict
from dataclasses import dataclass

from bench.chaos.cluster import Window
from bench.chaos.traffic import Answer, Planned

TERMINAL = {"succeeded", "failed", "canceled"}
PROMPT = re.compile(r"chaos (\S+) (\S+) #(\d+)$")
# Disruptions that can catch a vendor create in flight (named next to any extra task).
KILL_WINDOW_KINDS = {"worker", "postgres"}


@dataclass
class Row:
    name: str
    detail: str
    ok: bool
    notes: list[str] | None = None


def _n_of(prompt: str) -> int | None:
    match = PROMPT.search(prompt)
    return int(match.group(3)) if match else None


def check_all(
    *,
    planned: list[Planned],
    answers: list[Answer],
    windows: list[Window],
    audit: dict,
    tasks: list[dict],
    webhooks: list[dict],
    final: dict[str, dict],
    media: dict[str, bytes | None],
    web_ports: dict[str, int],
) -> list[Row]:
    rows: list[Row] = []
    by_gid = {item.gid: item for item in planned if item.gid}
    db = {g["id"]: g for g in audit["generations"]}
    deleted = {
        item.gid for item in planned if item.action == "delete" and item.action_status == 204
    }

    # --- every generation ended, none lost, no stray ones ------------------------------------
    unanswered = [item.n for item in planned if not item.gid]
    vanished = [gid for gid in by_gid if gid not in db and gid not in deleted]
    strays = [gid for gid in db if gid not in by_gid]
    rows.append(
        Row(
            "creates answered (Idempotency-Key retries)",
            f"{len(planned) - len(unanswered)}/{len(planned)}, "
            f"{sum(i.create_attempts - 1 for i in planned)} retries",
            not unanswered,
            [f"#{n} never answered" for n in unanswered[:10]],
        )
    )
    survivors = [g for gid, g in db.items() if gid in by_gid]
    not_terminal = [g for g in survivors if g["status"] not in TERMINAL]
    rows.append(
        Row(
            "all terminal",
            f"{len(survivors) - len(not_terminal)}/{len(survivors)} "
            f"(+{len(deleted)} deleted by their user)",
            not not_terminal,
            [f"{g['id']} {g['status']}" for g in not_terminal[:10]],
        )
    )
    rows.append(
        Row(
            "none lost, none duplicated",
            f"{len(vanished)} vanished, {len(strays)} extra rows",
            not vanished and not strays,
            [f"vanished {gid}" for gid in vanished[:5]] + [f"extra {gid}" for gid in strays[:5]],
        )
    )
    replays = [item for item in planned if item.replayed_same is not None]
    bad_replays = [item.n for item in replays if not item.replayed_same]
    rows.append(
        Row(
            "Idempotency-Key replays answer the original",
            f"{len(replays) - len(bad_replays)}/{len(replays)}",
            not bad_replays,
            [f"#{n} replay answered something else" for n in bad_replays[:10]],
        )
    )
    wrong, unconfirmed = [], []
    for gid, g in db.items():
        item = by_gid.get(gid)
        if item is None or g["status"] not in TERMINAL:
            continue
        canceled_by_user = item.action in ("cancel", "delete") and item.action_status in (200, 204)
        want = "canceled" if canceled_by_user else item.expected
        # A cancel whose answer was lost and whose retry found it already canceled (409).
        if g["status"] == want or (item.action == "cancel" and g["status"] == "canceled"):
            continue
        if g["error_code"] == "unconfirmed":
            unconfirmed.append(item.n)  # its create went unanswered: a worker killed inside it
        else:
            wrong.append(f"#{item.n} {g['status']} ({g['error_code']}), asked for {want}")
    rows.append(
        Row(
            "status as the prompt asked",
            f"{len(survivors) - len(wrong) - len(unconfirmed)}/{len(survivors)}, "
            f"{len(unconfirmed)} failed as unconfirmed (the create unanswered: a hung vendor "
            "or a worker killed inside it)",
            not wrong,
            wrong[:10],
        )
    )

    # --- the vendor's tasks: one per generation, except the kill window ----------------------
    tasks_of: dict[int, list[dict]] = defaultdict(list)
    for task in tasks:
        n = _n_of(task["prompt"])
        if n is not None:
            tasks_of[n].append(task)
    kills = [w for w in windows if w.kind in KILL_WINDOW_KINDS]
    extras = []
    for n, its in sorted(tasks_of.items()):
        first, *more = sorted(its, key=lambda t: t["created_at"])
        for task in more:
            near = next((w for w in kills if w.covers(first["created_at"], 0, 30)), None)
            extras.append(
                f"#{n}: tasks {first['task_id'][:8]}, {task['task_id'][:8]}"
                + (
                    f" ({near.kind} {near.target} killed {near.start - first['created_at']:+.1f} s)"
                    if near
                    else ""
                )
            )
    rows.append(
        Row(
            "one vendor task per generation",
            f"{len(tasks)} tasks for {len(tasks_of)} generations, {len(extras)} extra",
            not extras,
            extras[:10],
        )
    )

    # --- money: what each user was charged = what the vendor billed for them -----------------
    # The vendor bills every task it created and refunds those whose clips all failed. Two
    # documented differences (README "Guarantees"): an unanswered create is charged as
    # `unconfirmed` even if the vendor never received it; a generation canceled after the vendor
    # accepted it, or that ended here (timed out, polls out of retries) once its task existed, is
    # charged even if its task then fails (we stop following it). A deleted row
    # no longer says which it was, so a deleted generation whose task failed may count or not.
    billable: Counter[str] = Counter()
    documented: Counter[str] = Counter()
    maybe: Counter[str] = Counter()
    for item in planned:
        its = tasks_of.get(item.n, [])
        paid = [t for t in its if not t["all_clips_failed"]]
        billable[item.user] += len(paid)
        g = db.get(item.gid or "")
        if paid:
            continue
        unconfirmed_charge = g is not None and g["error_code"] == "unconfirmed"
        canceled_after_accept = g is not None and g["status"] == "canceled" and bool(its)
        # Timed out here or polls out of retries: charged, the task may fail at the vendor later.
        ended_here = g is not None and g["error_code"] in ("timed_out", "unavailable") and bool(its)
        if unconfirmed_charge or canceled_after_accept or ended_here:
            documented[item.user] += 1
        elif g is None and its and item.action == "delete":
            maybe[item.user] += 1
    money_notes, money_ok = [], True
    users = sorted({item.user for item in planned})
    for user in users:
        charged = audit["ledger"].get(user, {}).get("units", 0)
        extra = charged - billable[user] - documented[user]
        money_notes.append(
            f"{user}: charged {charged} = vendor billed {billable[user]}"
            f" + {documented[user]} documented"
            + (f" + {extra} of {maybe[user]} deleted after accept" if maybe[user] else "")
        )
        money_ok &= 0 <= extra <= maybe[user]
    if not money_ok:
        money_notes += _money_suspects(planned, audit, tasks_of)
    rows.append(
        Row(
            "money: charged = vendor tasks billed, per user",
            "exact, with the documented differences" if money_ok else "MISMATCH",
            money_ok,
            money_notes,
        )
    )
    usage_notes, usage_ok = [], True
    for user in users:
        entry = audit["ledger"].get(user, {})
        same = (
            entry.get("account_used") == entry.get("recomputed_used")
            and entry.get("account_in_flight") == entry.get("recomputed_in_flight") == 0
        )
        usage_ok &= same
        if not same:
            usage_notes.append(f"{user}: {entry}")
    rows.append(
        Row(
            "stored usage = usage recomputed from the ledger",
            "equal, 0 in flight" if usage_ok else "DIFFERENT",
            usage_ok,
            usage_notes,
        )
    )

    # --- media: succeeded clips playable, copies complete, no orphan files --------------------
    clips = [c for c in audit["clips"] if db.get(c["generation"], {}).get("status") == "succeeded"]
    good = [c for c in clips if c["state"] == "succeeded"]
    broken = []
    for clip in good:
        body = media.get(clip["id"])
        if clip["media_state"] != "ready" or not clip["audio_ok"]:
            broken.append(
                f"clip {clip['id']}: media {clip['media_state']}, copy ok {clip['audio_ok']}"
            )
        elif not _plays(body):
            broken.append(f"clip {clip['id']}: the served audio is not a complete WAV")
    rows.append(
        Row(
            "succeeded clips playable, copies complete",
            f"{len(good) - len(broken)}/{len(good)}",
            not broken,
            broken[:10],
        )
    )
    referenced = {c["audio_file"] for c in audit["clips"]} | {
        c["image_file"] for c in audit["clips"]
    }
    orphans = [name for name in audit["files"] if name not in referenced]
    rows.append(
        Row(
            "no orphan files",
            f"{len(audit['files'])} files, {len(orphans)} orphans",
            not orphans,
            orphans[:10],
        )
    )

    # --- 5xx: only while the web process that answered was being killed -----------------------
    port_name = {port: name for name, port in web_ports.items()}
    causes: Counter[str] = Counter()
    outside = []
    refused = sum(1 for a in answers if a.status is None)
    for answer in answers:
        if answer.status is None or answer.status < 500:
            continue
        cause = _cause(answer, port_name, windows)
        causes[cause] += 1
        if cause == "none":
            outside.append(
                f"{answer.status} {answer.method} {answer.path} on "
                f"{port_name.get(answer.port, answer.port)}{_nearest(answer.at, windows)}"
            )
    detail = ", ".join(f"{k} {v}" for k, v in sorted(causes.items())) or "none"
    rows.append(
        Row(
            "5xx only during a disruption",
            f"{sum(causes.values())} 5xx of {len(answers)} answers ({detail}); "
            f"{refused} refused/reset, each retried on the other web",
            not outside,
            outside[:10],
        )
    )
    rows.append(_webhook_row(webhooks, web_ports, windows))
    return rows


def _webhook_row(webhooks: list[dict], web_ports: dict[str, int], windows: list[Window]) -> Row:
    """The vendor's deliveries (to the first web process, PUBLIC_BASE_URL): a repeat is dropped
    (409) unless Redis, which remembers deliveries, restarted in between; none answered 5xx."""
    port_name = {web_ports["web-0"]: "web-0"}
    sent = [w for w in webhooks if not w["lost"]]
    repeats = [w for w in sent if w.get("duplicate")]
    statuses = Counter(w.get("status") for w in sent)
    redis_restarts = [w for w in windows if w.kind == "redis"]
    accepted_twice = [
        w
        for w in repeats
        if w.get("status") in (200, 204)
        # Redis emptied between the first delivery (1.5 s before) and its repeat forgets it.
        and not any(w["at"] - 5 <= r.start <= w["at"] + 1 for r in redis_restarts)
    ]
    bad = []
    for w in sent:
        status = w.get("status")
        if status is None or status < 500:
            continue
        answer = Answer(w["at"], web_ports["web-0"], "POST", "/hooks/musicapi", status)
        if _cause(answer, port_name, windows) == "none":
            bad.append(f"{status} for task {w['task_id'][:8]} at {w['at']:.1f}")
    bad += [f"repeat for task {w['task_id'][:8]} accepted again" for w in accepted_twice]
    detail = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items(), key=str)) or "none"
    return Row(
        "vendor webhooks: repeats dropped, no 5xx",
        f"{len(sent)} delivered ({len(repeats)} repeats), "
        f"{len(webhooks) - len(sent)} lost; answered {detail}",
        not bad,
        bad[:10],
    )


def _nearest(at: float, windows: list[Window]) -> str:
    """The disruption closest in time, to say where to look."""
    if not windows:
        return ""
    window = min(windows, key=lambda w: min(abs(at - w.start), abs(at - (w.end or w.start))))
    if at < window.start:
        return f", {window.start - at:.1f} s before {window.kind} {window.target}"
    return f", {at - (window.end or window.start):.1f} s after {window.kind} {window.target}"


def _cause(answer: Answer, port_name: dict[int, str], windows: list[Window]) -> str:
    for window in windows:
        same_web = window.kind == "web" and window.target == port_name.get(answer.port)
        if same_web and window.covers(answer.at, 1.0, 1.0):
            return "web killed"
    for window in windows:
        # Not Redis: while it restarts the API answers without it (README "Guarantees").
        if window.kind in {"postgres", "rabbitmq"} and window.covers(answer.at, 1.0, 5.0):
            return f"{window.kind} restart"
    return "none"


def _plays(body: bytes | None) -> bool:
    if not body or not body.startswith(b"RIFF"):
        return False
    try:
        with wave.open(io.BytesIO(body)) as audio:
            return (
                audio.getnframes() > 0
                and len(body) >= 44 + audio.getnframes() * audio.getsampwidth()
            )
    except (wave.Error, EOFError):
        return False


def _money_suspects(planned: list[Planned], audit: dict, tasks_of: dict) -> list[str]:
    """Generations whose vendor bill and charge differ, to say where the money went."""
    db = {g["id"]: g for g in audit["generations"]}
    notes = []
    for item in planned:
        paid = [t for t in tasks_of.get(item.n, []) if not t["all_clips_failed"]]
        g = db.get(item.gid or "")
        if g is None:
            if paid:
                notes.append(f"#{item.n} {item.user}: {len(paid)} vendor task(s), row deleted")
            continue
        charged = audit["charged"].get(item.gid, 0)
        if charged != min(1, len(paid)):
            when = f" after {item.action} at +{item.action_delay_s:.1f} s" if item.action else ""
            notes.append(
                f"#{item.n} {item.user}: charged {charged}, {len(paid)} billable vendor task(s) "
                f"of {len(tasks_of.get(item.n, []))}, {g['status']} ({g['error_code']}){when}"
            )
    return notes[:15]
