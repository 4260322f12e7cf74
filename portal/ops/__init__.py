"""Operators' endpoints: readiness and metrics (English only, JSON and Prometheus text, not pages)."""
