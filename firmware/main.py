# Device entry point: the flash tool copies this file to /main.py on the lamp.
from firmware.shell.app import main

main()
