"""The web chat channel: the embeddable widget, its session endpoint, attachments, presence.

See docs/webchat.md. The widget talks to ``/widget/v1/*`` over HTTP (CORS, checked
against the inbox's allowed origins) and to ``/api/v1/realtime`` with the customer
token the session endpoint hands out.
"""
