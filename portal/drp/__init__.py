"""Data Rights Protocol 1.0 covered-business endpoints (a JSON API for authorized-agent services)."""
