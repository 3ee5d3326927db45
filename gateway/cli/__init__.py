"""The gateway's `lampfleet` subcommands, one module each (lampfleet/cli.py imports only the one that runs):
service (`gateway`, `broker-config`), lamps, status, alerts, downlink, history, api_token; common holds
the options and output helpers they share."""
