"""Routes of verified support. Thin: parse, check the limit, call, commit.

- ``/api/v1/verify`` (public, limited per address): is this channel ours? is this
  message signed by us? which keys sign?
- ``/api/v1/me/anti-phishing-code``: a customer's token sets their code;
- ``/api/v1/safety/official-channels``, ``/api/v1/safety/denylist``,
  ``/api/v1/safety/signing-keys/rotate``: admins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response, status

from ledgerdesk.accounts.ratelimit import RateLimiter
from ledgerdesk.errors import PermissionDenied, RateLimited
from ledgerdesk.events.bus import Event
from ledgerdesk.safety import console
from ledgerdesk.safety.actions import (
    do_add_denylist_entry,
    do_add_official_channel,
    do_remove_denylist_entry,
    do_remove_official_channel,
    do_rotate_signing_key,
    do_set_anti_phishing_code,
)
from ledgerdesk.safety.denylist import SAFETY_TOPIC, denylist_cache
from ledgerdesk.safety.guard import forget_official_domains
from ledgerdesk.safety.keyring import install_signing_box
from ledgerdesk.safety.models import DenylistKind
from ledgerdesk.safety.queries import (
    access_denylist_entry,
    access_official_channel,
    answer_question,
    anti_phishing_code_of,
    check_pasted_message,
    list_denylist,
    list_official_channels,
    signing_keys,
)
from ledgerdesk.safety.schemas import (
    AntiPhishingCodeIn,
    AntiPhishingCodeOut,
    DenylistIn,
    DenylistOut,
    MessageCheckIn,
    MessageCheckOut,
    OfficialChannelIn,
    OfficialChannelOut,
    PublicKeyOut,
    PublicKeysOut,
    VerifyOut,
)
from ledgerdesk.server.deps import Actor, ReadSession, State, Uow, client_ip
from ledgerdesk.server.state import AppState
from ledgerdesk.server.types import PathId

router = APIRouter()


@dataclass
class SafetyRuntime:
    """Per app: the public check's limiter (per client address)."""

    verify_limiter: RateLimiter

    async def check(self, request: Request) -> None:
        wait = await self.verify_limiter.hit(f"verify:{client_ip(request) or 'unknown'}")
        if wait is not None:
            raise RateLimited(
                f"too many checks from your address; try again in {wait} seconds",
                retry_after=wait,
            )


def runtime(request: Request) -> SafetyRuntime:
    found: SafetyRuntime = request.app.state.safety
    return found


def _forget_safety_lists(_event: Event) -> None:
    """The denylist or the official channels changed (here or in another process)."""
    denylist_cache.clear()
    forget_official_domains()


def install(app: FastAPI, state: AppState) -> None:
    """Routes, the public limiter, the signing key's SecretBox and cache invalidation."""
    per_minute = state.settings.verify_per_minute_per_ip
    app.state.safety = SafetyRuntime(state.rate_limits.limiter("verify", per_minute, 60.0))
    install_signing_box(state.box)
    denylist_cache.clear()
    state.bus.add_listener({SAFETY_TOPIC}, _forget_safety_lists)
    app.include_router(router, prefix="/api/v1")
    app.include_router(console.router)


# Public: verify -----------------------------------------------------------------


VerifyQuery = Annotated[str, Query(min_length=1, max_length=300, description="what to check")]


@router.get("/verify", response_model=VerifyOut, tags=["verify"])
async def verify_channel(
    q: VerifyQuery, request: Request, state: State, session: ReadSession
) -> dict[str, Any]:
    """Is this website, email address, phone number or account one of ours? No login."""
    await runtime(request).check(request)
    return await answer_question(session, q, state.settings.official_hosts)


@router.post("/verify/message", response_model=MessageCheckOut, tags=["verify"])
async def verify_message(
    payload: MessageCheckIn, request: Request, session: ReadSession
) -> dict[str, Any]:
    """Was this message (its text, then its ``Signature: ldsig1...`` line) signed by us?"""
    await runtime(request).check(request)
    return (await check_pasted_message(session, payload.text)).as_dict()


@router.get("/verify/keys", response_model=PublicKeysOut, tags=["verify"])
async def verify_keys(session: ReadSession, response: Response) -> PublicKeysOut:
    """The public keys that sign agent replies, retired ones included."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return PublicKeysOut(keys=[PublicKeyOut.of(key) for key in await signing_keys(session)])


# A customer's anti-phishing code ---------------------------------------------------


@router.get("/me/anti-phishing-code", response_model=AntiPhishingCodeOut, tags=["verify"])
async def get_anti_phishing_code(actor: Actor, session: ReadSession) -> AntiPhishingCodeOut:
    if actor.customer_id is None:
        raise PermissionDenied("this is for a customer's token")
    actor.require_scope("conversations:read")
    return AntiPhishingCodeOut(code=await anti_phishing_code_of(session, actor.customer_id))


@router.put("/me/anti-phishing-code", response_model=AntiPhishingCodeOut, tags=["verify"])
async def set_anti_phishing_code(
    payload: AntiPhishingCodeIn, actor: Actor, uow: Uow
) -> AntiPhishingCodeOut:
    customer = await do_set_anti_phishing_code(uow, actor=actor, code=payload.code)
    await uow.commit()
    return AntiPhishingCodeOut(code=customer.anti_phishing_code)


@router.delete("/me/anti-phishing-code", status_code=status.HTTP_204_NO_CONTENT, tags=["verify"])
async def clear_anti_phishing_code(actor: Actor, uow: Uow) -> Response:
    await do_set_anti_phishing_code(uow, actor=actor, code=None)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Admin: official channels -----------------------------------------------------------


@router.get(
    "/safety/official-channels", response_model=list[OfficialChannelOut], tags=["safety admin"]
)
async def list_channels(actor: Actor, session: ReadSession) -> list[OfficialChannelOut]:
    actor.require_admin()
    return [OfficialChannelOut.of(row) for row in await list_official_channels(session)]


@router.post(
    "/safety/official-channels",
    response_model=OfficialChannelOut,
    status_code=status.HTTP_201_CREATED,
    tags=["safety admin"],
)
async def add_channel(payload: OfficialChannelIn, actor: Actor, uow: Uow) -> OfficialChannelOut:
    row = await do_add_official_channel(
        uow, actor=actor, kind=payload.kind, value=payload.value, note=payload.note
    )
    await uow.commit()
    return OfficialChannelOut.of(row)


@router.delete(
    "/safety/official-channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["safety admin"],
)
async def remove_channel(channel_id: PathId, actor: Actor, uow: Uow) -> Response:
    channel = await access_official_channel(uow.session, actor, channel_id)
    await do_remove_official_channel(uow, actor=actor, channel=channel)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Admin: the denylist -------------------------------------------------------------------


@router.get("/safety/denylist", response_model=list[DenylistOut], tags=["safety admin"])
async def get_denylist(
    actor: Actor, session: ReadSession, kind: DenylistKind | None = None
) -> list[DenylistOut]:
    actor.require_admin()
    return [DenylistOut.of(row) for row in await list_denylist(session, kind)]


@router.post(
    "/safety/denylist",
    response_model=DenylistOut,
    status_code=status.HTTP_201_CREATED,
    tags=["safety admin"],
)
async def add_to_denylist(payload: DenylistIn, actor: Actor, uow: Uow) -> DenylistOut:
    row = await do_add_denylist_entry(
        uow, actor=actor, kind=payload.kind, value=payload.value, note=payload.note
    )
    await uow.commit()
    return DenylistOut.of(row)


@router.delete(
    "/safety/denylist/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["safety admin"]
)
async def remove_from_denylist(entry_id: PathId, actor: Actor, uow: Uow) -> Response:
    entry = await access_denylist_entry(uow.session, actor, entry_id)
    await do_remove_denylist_entry(uow, actor=actor, entry=entry)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Admin: signing keys ---------------------------------------------------------------------


@router.post(
    "/safety/signing-keys/rotate",
    response_model=PublicKeyOut,
    status_code=status.HTTP_201_CREATED,
    tags=["safety admin"],
)
async def rotate_signing_key(actor: Actor, uow: Uow, state: State) -> PublicKeyOut:
    """A new key signs from now on; retired keys stay published for old signatures."""
    row = await do_rotate_signing_key(uow, actor=actor, box=state.box)
    await uow.commit()
    return PublicKeyOut.of(row)
