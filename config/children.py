"""Children of `make run`'s launcher never outlive it.

Each child gets a parent-death signal (Linux `prctl(PR_SET_PDEATHSIG)`): when the launcher dies
(SIGKILL included), the kernel sends the child SIGTERM and it stops as it would on Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen (call it in the parent, pass the result)."""
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def parent_interrupted(parent_pid: int) -> bool:
    """Whether our parent is GNU make handling a SIGINT (`kill -INT <make>`; Linux).

    make does not pass SIGINT on: it resets its handler and waits for its children, assuming a
    terminal sent the signal to them too. That state shows in /proc: SIGINT blocked (we are in
    its handler) and no longer caught.
    """
    try:
        status = Path(f"/proc/{parent_pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    if fields.get("Name", "").strip() not in {"make", "gmake"}:
        return False
    bit = 1 << (signal.SIGINT - 1)
    blocked = int(fields.get("SigBlk", "0"), 16) & bit
    caught = int(fields.get("SigCgt", "0"), 16) & bit
    return bool(blocked and not caught)
