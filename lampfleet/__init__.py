"""lampfleet: one command-line entry point over the firmware, telemetry, gateway, emulator and tools."""
__version__ = "0.1.0"
