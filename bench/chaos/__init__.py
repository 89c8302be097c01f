"""`make chaos`: the service at production shape under kills, restarts and vendor faults, checked
against the README's guarantees. Run `python -m bench.chaos --help`."""
