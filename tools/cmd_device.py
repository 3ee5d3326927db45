"""`lampfleet device`: registered in lampfleet/cli.py (each command module exposes `command`)."""
from tools.cli import device_command as command

__all__ = ["command"]
