"""The real-time stream: an outbox of events with increasing ids, served over WebSocket."""
