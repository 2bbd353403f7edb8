"""Prometheus metrics for operations: GET /metrics (docs/monitoring.md)."""
