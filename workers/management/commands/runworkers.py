"""`python manage.py runworkers`: django-dramatiq's `rundramatiq`, logging in the service's format.

`rundramatiq` replaces itself with the `dramatiq` program, whose main process logs in a format of
its own (and prints each module it found). This runs the same program (`dramatiq.cli.main`, the
same arguments) in this process instead, after Django has configured logging (config.logs), with
`--skip-logging`: the main process and the worker processes it forks all log through the one
handler, in the one format of the mode (plain or JSON).
"""

from __future__ import annotations

import io
import os
import sys

from django.core.management.base import CommandError, OutputWrapper
from django_dramatiq.management.commands import rundramatiq
from dramatiq import cli

from workers.fetch import WORKER_THREADS_ENV


class Command(rundramatiq.Command):
    help = "Run the Dramatiq workers (rundramatiq's options), logging like the rest of the service."

    def handle(
        self,
        *,
        path,
        processes,
        threads,
        queues,
        worker_shutdown_timeout,
        verbosity,
        watch_dir=None,
        use_gevent=False,
        forks=(),
        pid_file=None,
        use_spawn=False,
        **_,
    ):
        if watch_dir or use_gevent:
            raise CommandError("--watch and --use-gevent: use rundramatiq.")
        quiet, self.stdout = self.stdout, OutputWrapper(io.StringIO())  # "Discovered tasks module"
        try:
            modules = self.discover_tasks_modules()
        finally:
            self.stdout = quiet
        argv = [
            *("--path", *path),
            *("--processes", str(processes), "--threads", str(threads)),
            *("--worker-shutdown-timeout", str(worker_shutdown_timeout)),
            *["-v"] * (verbosity - 1),
            "--skip-logging",
            *(arg for fork in forks for arg in ("--fork-function", fork)),
            *(["--pid-file", pid_file] if pid_file else []),
            *(["--use-spawn"] if use_spawn else []),
            *modules,
        ]
        if queues:
            argv += ["--queues", *queues]
        # The worker processes size their HTTP connection pools by it (workers.fetch).
        os.environ[WORKER_THREADS_ENV] = str(threads)
        sys.exit(cli.main(cli.make_argument_parser().parse_args(argv)))
