"""The `bridge` firmware role: an ESP32 with a LoRa radio on USB serial, between lamps and the gateway."""
