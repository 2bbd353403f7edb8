"""Conversations (tickets), their messages and their append-only event history."""
