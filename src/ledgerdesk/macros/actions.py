"""Every change to macros: admins write them, every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict
from ledgerdesk.macros.models import Macro
from ledgerdesk.macros.schemas import MacroIn


async def do_save_macro(
    uow: UnitOfWork, *, actor: Principal | None, data: MacroIn, macro: Macro | None = None
) -> Macro:
    """Create a macro, or replace ``macro``'s name and texts."""
    if actor is not None:
        actor.require_admin()
    clash = await uow.session.execute(select(Macro.id).where(Macro.name == data.name))
    other = clash.scalar()
    if other is not None and (macro is None or other != macro.id):
        raise Conflict(f"a macro named {data.name!r} already exists")
    now = datetime.now(UTC)
    if macro is None:
        macro = Macro(created_at=now)
        uow.session.add(macro)
    macro.name = data.name
    macro.bodies = dict(data.bodies)
    macro.is_active = data.active
    macro.updated_at = now
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="macro.saved",
        object_type="macro",
        object_id=macro.id,
        detail={"name": macro.name, "languages": sorted(macro.bodies), "active": macro.is_active},
    )
    return macro


async def do_delete_macro(uow: UnitOfWork, *, actor: Principal, macro: Macro) -> None:
    actor.require_admin()
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="macro.deleted",
        object_type="macro",
        object_id=macro.id,
        detail={"name": macro.name},
    )
    await uow.session.delete(macro)
