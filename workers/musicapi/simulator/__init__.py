"""A faithful stand-in for the MusicAPI vendor: same paths, statuses, messages and odd cases.

`Simulator` is a WSGI app (no Django); `server.serve()` / `server.start_in_thread()` run it.
"""

from workers.musicapi.simulator.app import Simulator
from workers.musicapi.simulator.faults import FaultProfile

__all__ = ["FaultProfile", "Simulator"]
