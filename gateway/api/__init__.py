"""The HTTP JSON API: server (routes over the database), guard (Host, Origin, token and length checks,
independent of the web framework), tokens (bearer tokens stored hashed)."""
