"""Records: what the portal keeps about its own work, and when personal data ends.

Owns retention (`retention`: the purge rules and the daily run) and the §7102 annual metrics and
§7101 request records (`annual_metrics`; the Prometheus figures of /metrics are `services.health`
and `portal.telemetry`). It may import `portal.models`, `services.cases` and `services.audit`.
"""
