"""Satisfaction surveys after solving, and follow-up check-ins (docs/feedback.md)."""
