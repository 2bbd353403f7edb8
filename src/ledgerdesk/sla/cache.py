"""The SLA configuration (policies and business calendars), cached per process.

Every conversation created asks which policy applies, and replies and status
changes need the policy and calendar of a running clock; the policies change a
few times a year. So each process keeps them as plain immutable data
(``PolicyData``, ``BusinessCalendar``), per database and event bus:

- a small version query (counts and newest ``updated_at`` of both tables) tells
  whether anything changed; its answer is trusted for ``RECHECK_SECONDS``, so a
  change written by another process without a bus event counts within that time;
- a change made in this process (``do_save_policy``, ``do_archive_policy``,
  ``do_save_calendar``, ``do_delete_calendar``) forgets the cache at once and again
  after its commit, when it announces ``sla.config_changed``; every process whose
  cache was filled through a bus listens to that bus and forgets on the event;
- the transaction that makes such a change never fills the cache (it would see
  its own uncommitted rows) and reads the tables afresh;
- a unit of work without a bus (scripts, the demo seed, some internal jobs) hears
  nothing, so it asks the version query every time (and still reuses the reading).

The cache is keyed by the bus as well as the database: the listener is put on the
bus a request's unit of work uses, the first time it fills the cache, so no wiring
is needed in ``create_app``. (One process has one bus, so one entry per database.)
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import NotFound
from ledgerdesk.events.bus import Event, EventBus
from ledgerdesk.sla.calendar import BusinessCalendar
from ledgerdesk.sla.models import SlaCalendar, SlaPolicy
from ledgerdesk.sla.queries import UTC_24_7
from ledgerdesk.sla.schemas import calendar_of

SLA_CONFIG_TOPIC = "sla_config"
SLA_CONFIG_CHANGED = Event("sla.config_changed", (SLA_CONFIG_TOPIC,))
# How long an answer of the version query is trusted (tests set it).
RECHECK_SECONDS = 2.0
_CHANGING = "sla.config_changing"  # staged on a unit of work that changes the configuration

# (policies, active policies, newest policy update, calendars, newest calendar update)
Version = tuple[int, int, datetime | None, int, datetime | None]


@dataclass(frozen=True, slots=True)
class PolicyData:
    """What the clocks need of a policy (escalations are read by the sweep)."""

    id: int
    name: str
    position: int
    is_active: bool
    conditions: Mapping[str, tuple[Any, ...]]
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    calendar_id: int | None
    warn_share: float

    @classmethod
    def of(cls, row: Any) -> PolicyData:
        """From a row of the policies table (an ORM object or a Core row alike)."""
        conditions = {key: tuple(values or ()) for key, values in (row.conditions or {}).items()}
        return cls(
            id=int(row.id),
            name=row.name,
            position=row.position,
            is_active=bool(row.is_active),
            conditions=MappingProxyType(conditions),
            first_response_minutes=row.first_response_minutes,
            next_response_minutes=row.next_response_minutes,
            resolution_minutes=row.resolution_minutes,
            calendar_id=row.calendar_id,
            warn_share=row.warn_share,
        )


class SlaConfig:
    """One reading of the policies (archived ones too: clocks still name them) and calendars."""

    __slots__ = ("_built", "_calendars", "active", "policies", "version")

    def __init__(
        self,
        version: Version,
        policies: Mapping[int, PolicyData],
        calendars: Mapping[int, tuple[str, Any, Any]],
    ) -> None:
        self.version = version
        self.policies = MappingProxyType(dict(policies))
        # The active ones in the order they are tried.
        self.active = tuple(
            sorted((p for p in policies.values() if p.is_active), key=lambda p: (p.position, p.id))
        )
        self._calendars = calendars  # id -> (time zone, week, holidays) as stored
        self._built: dict[int, BusinessCalendar] = {}  # built on first use

    def has_calendar(self, calendar_id: int | None) -> bool:
        return calendar_id is None or calendar_id in self._calendars

    def calendar(self, calendar_id: int | None) -> BusinessCalendar:
        """A policy's business calendar; 24/7 in UTC when it has none."""
        if calendar_id is None:
            return UTC_24_7
        built = self._built.get(calendar_id)
        if built is None:
            stored = self._calendars.get(calendar_id)
            if stored is None:
                raise NotFound(f"calendar {calendar_id} does not exist")
            built = calendar_of(*stored)
            self._built[calendar_id] = built
        return built


# (database, bus) -> (checked at, configuration)
_configs: dict[tuple[Engine, EventBus | None], tuple[float, SlaConfig]] = {}
# Bumped by every forget: a reading that began before it is not kept.
_generation = 0
# The buses this module listens to (weak: a test's bus goes away with its test).
_heard: weakref.WeakSet[Any] = weakref.WeakSet()


def forget_sla_config() -> None:
    """Drop the cached configuration (a policy or calendar changed, here or elsewhere)."""
    global _generation
    _generation += 1
    _configs.clear()


def sla_config_changing(uow: UnitOfWork) -> None:
    """Called by every action that writes a policy or a calendar.

    Forgets the cache now, keeps this transaction from filling it, and announces
    ``sla.config_changed`` after the commit (which forgets again, here and in every
    other process that listens).
    """
    forget_sla_config()
    staged = uow.staged(_CHANGING)
    if not staged:
        staged.append(True)
        uow.emit(SLA_CONFIG_CHANGED)
        _listen(uow.bus)


def _listen(bus: EventBus | None) -> None:
    if bus is None or bus in _heard:
        return
    bus.add_listener({SLA_CONFIG_TOPIC}, lambda _event: forget_sla_config())
    _heard.add(bus)


async def sla_config(uow: UnitOfWork, *, recheck: bool = False) -> SlaConfig:
    """The SLA configuration as this unit of work should see it.

    ``recheck`` asks the version query now, whatever its last answer's age: for a
    clock that names a policy this reading does not know (made elsewhere just now).
    """
    session = uow.session
    if uow.staged(_CHANGING):
        # This transaction changed the configuration: read it, never cache it.
        return await _read(session, await _version(session))
    # The engine object, not its URL: hashing a URL renders it as a string each time.
    key = (session.get_bind().engine, uow.bus)
    cached = _configs.get(key)
    now = time.monotonic()
    # Without a bus nothing would tell this process of a change: ask the version each time.
    trusted = not recheck and uow.bus is not None
    if cached is not None and trusted and now - cached[0] < RECHECK_SECONDS:
        return cached[1]
    generation = _generation
    version = await _version(session)
    if cached is not None and cached[1].version == version:
        config = cached[1]
    else:
        config = await _read(session, version)
    if generation == _generation:
        if len(_configs) > 100:  # one entry per database and bus; more means a test run
            _configs.clear()
        _configs[key] = (now, config)
        _listen(uow.bus)
    return config


async def _version(session: AsyncSession) -> Version:
    policies = SlaPolicy.__table__
    calendars = SlaCalendar.__table__
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(policies).scalar_subquery(),
                select(func.count())
                .select_from(policies)
                .where(policies.c.is_active.is_(True))
                .scalar_subquery(),
                select(func.max(policies.c.updated_at)).scalar_subquery(),
                select(func.count()).select_from(calendars).scalar_subquery(),
                select(func.max(calendars.c.updated_at)).scalar_subquery(),
            )
        )
    ).one()
    return (int(row[0]), int(row[1]), row[2], int(row[3]), row[4])


async def _read(session: AsyncSession, version: Version) -> SlaConfig:
    """Policies first: a calendar a policy names cannot be deleted (foreign key), so every
    calendar of a policy read here is still there when the calendars are read."""
    policies: dict[int, PolicyData] = {}
    if version[0]:
        table = SlaPolicy.__table__
        found = await session.execute(
            select(
                table.c.id,
                table.c.name,
                table.c.position,
                table.c.is_active,
                table.c.conditions,
                table.c.first_response_minutes,
                table.c.next_response_minutes,
                table.c.resolution_minutes,
                table.c.calendar_id,
                table.c.warn_share,
            )
        )
        policies = {int(row.id): PolicyData.of(row) for row in found.all()}
    calendars: dict[int, tuple[str, Any, Any]] = {}
    if version[3]:
        cal = SlaCalendar.__table__
        rows = await session.execute(select(cal.c.id, cal.c.time_zone, cal.c.week, cal.c.holidays))
        calendars = {
            int(cid): (zone, week or {}, holidays or []) for cid, zone, week, holidays in rows.all()
        }
    return SlaConfig(version, policies, calendars)
