"""`lampfleet provision`: registered in lampfleet/cli.py (each command module exposes `command`)."""
from tools.cli import provision_command as command

__all__ = ["command"]
