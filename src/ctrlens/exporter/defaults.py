"""Defaults the CLI shows in --help: kept apart so that building the parser imports nothing else."""

DEFAULT_PORT = 9648
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"  # loopback: exposing the exporter wider is an explicit choice
