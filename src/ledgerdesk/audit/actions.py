"""Writing audit rows; called by the actions that change or reveal data."""

from __future__ import annotations

from typing import Any

from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.db.uow import UnitOfWork


def do_record_audit(
    uow: UnitOfWork,
    *,
    agent_id: int | None,
    action: str,
    object_type: str,
    object_id: object,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        agent_id=agent_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
        ip=ip,
    )
    uow.session.add(entry)
    return entry
