"""Subcommands of the `facesvg` CLI (see facesvg.cli)."""
