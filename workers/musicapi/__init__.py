"""The MusicAPI vendor: the only package that knows its URLs and field names.

`client` talks to the vendor (or the simulator, which serves the same paths); `simulator` plays
the vendor in sandbox mode, tests, benchmarks and chaos runs. Neither imports Django models.
"""
