"""The `iamguard` command line (console script `iamguard`, or `python -m iamguard.cli`)."""

from iamguard.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
