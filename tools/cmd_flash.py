"""`lampfleet flash`: registered in lampfleet/cli.py (each command module exposes `command`)."""
from tools.cli import flash_command as command

__all__ = ["command"]
