"""The conversation status machine as plain functions: no database, no I/O."""

from __future__ import annotations

import itertools

import pytest

from ledgerdesk.conversations.status import (
    ALLOWED_TRANSITIONS,
    UNRESOLVED,
    Status,
    TransitionError,
    check_transition,
    status_after_agent_reply,
    status_after_customer_message,
)

# The whole table, written out by hand so that a change to the machine is a
# deliberate change to this test as well.
EXPECTED = {
    ("new", "open"),
    ("new", "pending"),
    ("new", "on_hold"),
    ("new", "solved"),
    ("open", "pending"),
    ("open", "on_hold"),
    ("open", "solved"),
    ("pending", "open"),
    ("pending", "on_hold"),
    ("pending", "solved"),
    ("on_hold", "open"),
    ("on_hold", "pending"),
    ("on_hold", "solved"),
    ("solved", "open"),
    ("solved", "closed"),
}
ALL_PAIRS = list(itertools.product(Status, Status))
MOVES = [(a, b) for a, b in ALL_PAIRS if a != b]


def test_the_table_covers_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(Status)


def test_the_table_is_exactly_the_documented_one() -> None:
    actual = {(a.value, b.value) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert actual == EXPECTED


def test_no_status_lists_itself_as_a_target() -> None:
    for status, targets in ALLOWED_TRANSITIONS.items():
        assert status not in targets


@pytest.mark.parametrize(("current", "target"), [(a, b) for a, b in MOVES if (a, b) in EXPECTED])
def test_it_allows_each_listed_transition(current: Status, target: Status) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"), [(a, b) for a, b in MOVES if (a, b) not in EXPECTED]
)
def test_it_refuses_each_unlisted_transition_naming_the_allowed_targets(
    current: Status, target: Status
) -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(current, target)
    message = str(caught.value)
    assert f"from {current.value} to {target.value}" in message
    allowed = message.split("allowed:", 1)[1]
    for other in Status:
        named = other.value in [part.strip() for part in allowed.split(",")]
        assert named == ((current.value, other.value) in EXPECTED), (other, message)


@pytest.mark.parametrize("status", list(Status))
def test_staying_in_the_same_status_is_not_a_transition(status: Status) -> None:
    check_transition(status, status)


def test_closed_is_final_and_says_so() -> None:
    assert ALLOWED_TRANSITIONS[Status.CLOSED] == frozenset()
    with pytest.raises(TransitionError, match=r"allowed: none \(closed is final\)"):
        check_transition(Status.CLOSED, Status.OPEN)


def test_a_transition_error_is_a_value_error() -> None:
    # Callers that only know ValueError still catch it.
    with pytest.raises(ValueError, match="cannot change status"):
        check_transition(Status.NEW, Status.CLOSED)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (Status.NEW, Status.NEW),
        (Status.OPEN, Status.OPEN),
        (Status.PENDING, Status.OPEN),
        (Status.ON_HOLD, Status.OPEN),
        (Status.SOLVED, Status.OPEN),
        (Status.CLOSED, Status.CLOSED),
    ],
)
def test_a_customer_message_reopens_a_waiting_or_solved_conversation(
    current: Status, expected: Status
) -> None:
    assert status_after_customer_message(current) == expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (Status.NEW, Status.OPEN),
        (Status.OPEN, Status.OPEN),
        (Status.PENDING, Status.PENDING),
        (Status.ON_HOLD, Status.ON_HOLD),
        (Status.SOLVED, Status.SOLVED),
        (Status.CLOSED, Status.CLOSED),
    ],
)
def test_an_agent_reply_only_takes_a_new_conversation_into_work(
    current: Status, expected: Status
) -> None:
    assert status_after_agent_reply(current) == expected


@pytest.mark.parametrize("status", list(Status))
def test_the_automatic_moves_are_themselves_allowed_transitions(status: Status) -> None:
    # What a message does to the status must be a move the machine permits.
    check_transition(status, status_after_customer_message(status))
    check_transition(status, status_after_agent_reply(status))


def test_unresolved_means_still_needing_work() -> None:
    assert {Status.SOLVED, Status.CLOSED}.isdisjoint(UNRESOLVED)
    assert UNRESOLVED | {Status.SOLVED, Status.CLOSED} == set(Status)


def test_closing_goes_through_solved_and_every_status_is_reachable_from_new() -> None:
    # Closing always goes through solved; nothing skips straight to closed.
    sources = [a for a, targets in ALLOWED_TRANSITIONS.items() if Status.CLOSED in targets]
    assert sources == [Status.SOLVED]
    reachable = {Status.NEW}
    frontier = [Status.NEW]
    while frontier:
        for target in ALLOWED_TRANSITIONS[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(Status)
