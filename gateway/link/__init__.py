"""The gateway's side of the links: LoRa bridge on serial, LoRaWAN network-server integrations, the
downlink queue, the replay window, and mosquitto credentials and ACLs (docs/link.md)."""
