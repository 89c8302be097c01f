"""A real S3-compatible server for the storage tests: moto's standalone server, as a process.

Set MEDIA_S3_TEST_ENDPOINT to use one that is already running (e.g. MinIO started by CI);
otherwise `moto_server` from the venv is started on a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.stack import free_port, wait_for


class S3Server:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.endpoint = os.environ.get("MEDIA_S3_TEST_ENDPOINT", "")
        if not self.endpoint:
            port = free_port()
            executable = Path(sys.executable).parent / "moto_server"
            self.proc = subprocess.Popen(
                [str(executable), "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.endpoint = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(self.endpoint, timeout=2).status_code < 500, 60, "S3")

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
