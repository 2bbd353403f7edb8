"""The conversation status machine, as plain data and functions (no I/O).

new -> open/pending/on_hold/solved; open, pending and on_hold move among
themselves and to solved; solved reopens or closes; closed is final (a customer
writing again after that starts a new conversation, as in Zendesk).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.SOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.SOLVED}),
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# Statuses in which the conversation still needs work from the team.
UNRESOLVED = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})


class TransitionError(ValueError):
    pass


def check_transition(current: Status, target: Status) -> None:
    if current == target:
        return
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none (closed is final)"
        raise TransitionError(
            f"cannot change status from {current} to {target}; allowed: {allowed}"
        )


def status_after_customer_message(current: Status) -> Status:
    """A customer writing makes the conversation need attention again."""
    if current in (Status.PENDING, Status.ON_HOLD, Status.SOLVED):
        return Status.OPEN
    return current


def status_after_agent_reply(current: Status) -> Status:
    """A public agent reply takes a new conversation into work."""
    return Status.OPEN if current == Status.NEW else current
