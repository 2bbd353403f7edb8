"""Channels: the ways customers reach the desk (web chat today; email, Telegram, Discord next)."""
