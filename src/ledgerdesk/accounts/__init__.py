"""Agents, teams, sessions, two-factor authentication and API tokens."""
