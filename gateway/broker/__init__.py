"""The MQTT broker as deployed: mosquitto's configuration from the registry (config.py), its logins and
topics for the dynamic-security plugin (dynsec.py), and a small CA for its TLS listener (tls.py).
Command: `lampfleet broker-config` (gateway/cli/service.py)."""
