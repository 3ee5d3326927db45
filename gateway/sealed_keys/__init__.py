"""Device keys made where no registry was reachable (a technician's laptop), sealed to the gateway's public
key: seal (the format, X25519 + HKDF + AES-GCM, and the gateway's key pair) and importer (into the
registry, all or nothing)."""
