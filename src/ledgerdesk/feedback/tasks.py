"""Jobs of the feedback package: the survey after solving, the follow-up check-in."""

from __future__ import annotations

from typing import Any

from ledgerdesk.feedback.actions import FOLLOW_UP_JOB, SEND_SURVEY_JOB
from ledgerdesk.feedback.sending import do_send_follow_up, do_send_survey
from ledgerdesk.jobs import JobContext, job_handler


@job_handler(SEND_SURVEY_JOB, max_attempts=8, timeout=60)
async def send_survey(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Idempotent: sending moves the survey out of "scheduled" in the same commit."""
    async with ctx.unit_of_work() as uow:
        await do_send_survey(
            uow,
            conversation_id=int(payload["conversation_id"]),
            nonce=str(payload["nonce"]),
            secret_key=ctx.settings.secret_key_value(),
            public_url=ctx.settings.public_url,
        )
        await uow.commit()


@job_handler(FOLLOW_UP_JOB, max_attempts=8, timeout=60)
async def follow_up(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Idempotent: the "follow_up.sent" event of this solve is written with the message."""
    async with ctx.unit_of_work() as uow:
        await do_send_follow_up(
            uow,
            conversation_id=int(payload["conversation_id"]),
            solved_at=str(payload["solved_at"]),
        )
        await uow.commit()
