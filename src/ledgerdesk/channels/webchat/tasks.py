"""Jobs of the web chat channel: the assistant's reply to a visitor's message."""

from __future__ import annotations

from typing import Any

from ledgerdesk.channels.webchat.assistant import REPLY_JOB, reply_to_message, runtime_for
from ledgerdesk.jobs import JobContext, job_handler


@job_handler(REPLY_JOB, max_attempts=5, timeout=120)
async def assistant_reply(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Idempotent: the turn is keyed on the customer message (a unique column)."""
    runtime = runtime_for(ctx.settings, ctx.bus)
    await reply_to_message(ctx.db, ctx.bus, runtime, int(payload["message_id"]))
