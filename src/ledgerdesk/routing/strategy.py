"""Choosing an agent, without a database: candidates and a strategy in, an agent id out.

Only available agents get work: online (their own choice in the console), active,
able to reply and below their capacity (open conversations assigned to them).
With skills on, only an agent whose skills fit the conversation is chosen; empty
skill lists fit everything. When nobody fits, the conversation waits in the team
queue: a Chinese speaker's case should not go to whoever happens to be free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Strategy(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


class Handoff(StrEnum):
    KEEP = "keep"
    QUEUE = "queue"
    REASSIGN = "reassign"


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: int
    load: int  # open conversations assigned now
    capacity: int
    online: bool = True
    languages: frozenset[str] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)
    tiers: frozenset[str] = field(default_factory=frozenset)

    @property
    def available(self) -> bool:
        return self.online and self.load < self.capacity


@dataclass(frozen=True, slots=True)
class Need:
    """What the conversation asks of an agent."""

    language: str | None = None
    category: str | None = None
    tier: str | None = None


def _language_fits(skills: frozenset[str], language: str | None) -> bool:
    if not skills or language is None:
        return True
    primary = language.split("-")[0].lower()
    return any(s.lower() == language.lower() or s.split("-")[0].lower() == primary for s in skills)


def fits(candidate: Candidate, need: Need) -> bool:
    if not _language_fits(candidate.languages, need.language):
        return False
    categories = {c.lower() for c in candidate.categories}
    if categories and need.category is not None and need.category.lower() not in categories:
        return False
    return not (candidate.tiers and need.tier is not None and need.tier not in candidate.tiers)


def choose(
    strategy: Strategy,
    candidates: Sequence[Candidate],
    *,
    need: Need | None = None,
    cursor: int | None = None,
) -> int | None:
    """The agent to assign, or None (leave it in the team queue).

    Round-robin takes the first available agent after ``cursor`` (the last one
    given work) in id order, wrapping around; least-loaded takes the lowest share
    of capacity in use, ties to the fewest open conversations, then the lowest id.
    """
    if strategy == Strategy.MANUAL:
        return None
    pool = [c for c in candidates if c.available]
    if need is not None:
        pool = [c for c in pool if fits(c, need)]
    if not pool:
        return None
    if strategy == Strategy.ROUND_ROBIN:
        ordered = sorted(pool, key=lambda c: c.agent_id)
        if cursor is not None:
            for c in ordered:
                if c.agent_id > cursor:
                    return c.agent_id
        return ordered[0].agent_id
    best = min(pool, key=lambda c: (c.load / c.capacity, c.load, c.agent_id))
    return best.agent_id
