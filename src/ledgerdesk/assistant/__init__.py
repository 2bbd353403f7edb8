"""The AI assistant: hybrid retrieval over the help center, safe hand-off to people."""
