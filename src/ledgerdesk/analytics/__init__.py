"""Analytics: per-conversation facts kept up to date from a watermark, hourly and daily
rollups by dimension, the figures of docs/metrics.md, their API and dashboard."""
