"""Run the vendor simulator alone: `python manage.py run_simulator [--port N] [--key K]`."""

from __future__ import annotations

import errno
import logging
import signal
import socket
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.musicapi.simulator import FaultProfile, Simulator, persistence
from workers.musicapi.simulator.server import build_server

logger = logging.getLogger("workers.musicapi.simulator")


class Command(BaseCommand):
    help = "Serve the MusicAPI simulator (the sandbox vendor) over HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SIMULATOR_HOST)
        parser.add_argument("--port", type=int, default=settings.SIMULATOR_PORT)
        parser.add_argument(
            "--fd", type=int, help="Serve on this inherited, listening socket (from make run)."
        )
        parser.add_argument("--key", default=settings.SIMULATOR_KEY, help="The accepted API key.")
        parser.add_argument(
            "--ready-after",
            type=float,
            default=settings.SIMULATOR_READY_AFTER_S,
            help="Seconds from create until a task's clips are final.",
        )
        parser.add_argument("--credits", type=int, default=settings.SIMULATOR_CREDITS)
        parser.add_argument(
            "--clip-duration", type=float, default=settings.SIMULATOR_CLIP_DURATION_S
        )
        parser.add_argument(
            "--state",
            help="Keep tasks, balances and personas in this file across restarts (make run: var/).",
        )
        parser.add_argument(
            "--faults",
            default=settings.SIMULATOR_FAULTS,
            help='Fault rates as JSON, e.g. \'{"server_error": 0.05, "rate_limit": 0.02}\'.',
        )

    def handle(
        self, *args, host, port, fd, key, ready_after, credits, clip_duration, faults, state, **_
    ):
        try:
            profile = FaultProfile.from_json(faults)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"--faults: {exc}") from exc
        simulator = Simulator(
            key=key,
            ready_after_s=ready_after,
            credits=credits,
            faults=profile,
            clip_duration_s=clip_duration,
        )
        saver = None
        # make run stops its children with SIGTERM: end like Ctrl-C, so the state is saved.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        if state:
            restored = persistence.restore(simulator, Path(state))
            logger.info("simulator: %d task(s) restored from %s", restored, state)
            saver = persistence.Saver(simulator, Path(state)).start()
        try:
            sock = socket.socket(fileno=fd) if fd is not None else None
            server = build_server(simulator, host, port, sock)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise CommandError(
                f"{host}:{port} is already in use: set SIMULATOR_PORT (or --port) to a free port."
            ) from None
        logger.info(
            "MusicAPI simulator on %s/api/v1 (key %r, ready after %g s)",
            simulator.public_url,
            key,
            ready_after,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            if saver is not None:
                saver.stop()
