"""ASGI entry point for uvicorn and other servers: ``ledgerdesk.asgi:app``."""

from ledgerdesk.app import create_app

app = create_app()
