"""The agent console: server-rendered pages (Jinja2 + htmx) in English and Chinese."""
