"""The facts of one conversation against hand-computed cases (pure: no database).

Office hours are London, Monday to Friday 09:00-17:00, Christmas Day off; November and
December are GMT (UTC+0), so local and UTC times agree there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledgerdesk.analytics.facts import (
    ClockIn,
    ConversationIn,
    EventIn,
    MessageIn,
    compute_facts,
)
from ledgerdesk.sla.calendar import BusinessCalendar

OFFICE = BusinessCalendar.build(
    "Europe/London",
    {day: [("09:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
    {date(2026, 12, 25): []},
)
ALWAYS = BusinessCalendar.always_open()
HOUR = 3600.0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def conversation(created: str, status: str = "open", **fields: Any) -> ConversationIn:
    values: dict[str, Any] = {
        "id": 1,
        "created_at": at(created),
        "channel": "email",
        "language": "en",
        "custom_fields": {"category": "deposits"},
        "priority": "normal",
        "status": status,
        "inbox_id": None,
        "team_id": None,
        "assignee_id": None,
        "solved_at": None,
    }
    values.update(fields)
    return ConversationIn(**values)


def customer(when: str) -> MessageIn:
    return MessageIn("customer", None, False, at(when))


def agent(when: str, agent_id: int = 7, internal: bool = False) -> MessageIn:
    return MessageIn("agent", agent_id, internal, at(when))


def assistant(when: datetime) -> MessageIn:
    return MessageIn("assistant", None, False, when)


def status(when: str, before: str, after: str) -> EventIn:
    return EventIn("status_changed", {"from": before, "to": after}, at(when))


NOW = at("2027-01-10 12:00")


def test_a_reply_across_a_weekend_counts_one_business_hour() -> None:
    # Friday 16:30 to Monday 09:30: 65 hours of waiting, 30 + 30 minutes of office time.
    start = conversation("2026-11-27 16:30")
    facts = compute_facts(
        start, [customer("2026-11-27 16:30"), agent("2026-11-30 09:30")], [], [], OFFICE, NOW
    )
    assert facts.first_response_s == 65 * HOUR
    assert facts.first_response_bh_s == 1 * HOUR
    assert facts.agents[7].first_response_s == 65 * HOUR


def test_a_reply_across_christmas_skips_the_holiday_and_the_weekend() -> None:
    # Thursday 24 December 16:00 to Monday 28th 10:00: 16-17 on Thursday, 9-10 on Monday.
    start = conversation("2026-12-24 16:00")
    facts = compute_facts(
        start, [customer("2026-12-24 16:00"), agent("2026-12-28 10:00")], [], [], OFFICE, NOW
    )
    assert facts.first_response_bh_s == 2 * HOUR
    assert facts.first_response_s == (3 * 24 + 18) * HOUR


def test_business_time_follows_the_wall_clock_when_the_clocks_spring_forward() -> None:
    # A desk open 00:00-03:00 local every day. On Sunday 29 March 2026 London skips
    # 01:00-02:00, so its three wall-clock hours last two real hours (00:00-02:00 UTC).
    night = BusinessCalendar.build(
        "Europe/London",
        {day: [("00:00", "03:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    start = conversation("2026-03-28 23:30")
    facts = compute_facts(
        start, [customer("2026-03-28 23:30"), agent("2026-03-29 05:00")], [], [], night, NOW
    )
    assert facts.first_response_s == 5.5 * HOUR
    assert facts.first_response_bh_s == 2 * HOUR


def test_next_responses_start_at_the_customers_first_unanswered_message() -> None:
    start = conversation("2026-11-23 10:00")
    messages = [
        customer("2026-11-23 10:00"),
        agent("2026-11-23 10:20"),
        customer("2026-11-27 16:50"),  # Friday, ten minutes before closing
        customer("2026-11-28 11:00"),  # a second message while still waiting
        agent("2026-11-30 09:10"),  # Monday
        agent("2026-11-30 09:15"),  # a second reply ends no wait
    ]
    facts = compute_facts(start, messages, [], [], OFFICE, NOW)
    assert facts.first_response_s == 20 * 60
    assert facts.next_response_n == 1
    assert facts.next_response_s == (2 * 24 * HOUR) + (16 * HOUR + 20 * 60)
    assert facts.next_response_bh_s == 20 * 60
    assert facts.agents[7].response_n == 2  # the first and the next response
    assert facts.agent_replies == 4 - 1


def test_resolution_in_business_hours_leaves_out_waiting_on_the_customer() -> None:
    start = conversation("2026-11-23 09:00", status="solved", solved_at=at("2026-11-23 15:00"))
    events = [
        status("2026-11-23 10:00", "new", "open"),
        status("2026-11-23 10:00", "open", "pending"),
        status("2026-11-23 14:00", "pending", "open"),
        status("2026-11-23 15:00", "open", "solved"),
    ]
    facts = compute_facts(start, [customer("2026-11-23 09:00")], events, [], ALWAYS, NOW)
    assert facts.resolution_s == 6 * HOUR
    assert facts.resolution_bh_s == 2 * HOUR  # 09-10 new, 14-15 open
    assert facts.solved_ever and facts.reopens == 0 and not facts.is_open


def test_a_reopened_conversation_counts_a_reopen_and_resolves_at_its_last_solve() -> None:
    start = conversation("2026-11-23 09:00", status="solved", solved_at=at("2026-11-24 11:00"))
    events = [
        status("2026-11-23 10:00", "new", "solved"),
        status("2026-11-24 10:00", "solved", "open"),
        status("2026-11-24 11:00", "open", "solved"),
    ]
    facts = compute_facts(start, [], events, [], ALWAYS, NOW)
    assert facts.reopens == 1
    assert facts.resolution_s == 26 * HOUR
    assert facts.resolution_bh_s == 2 * HOUR  # the solved night is not working time


def test_an_unsolved_conversation_has_no_resolution_but_may_have_been_solved_before() -> None:
    start = conversation("2026-11-23 09:00", status="open")
    events = [
        status("2026-11-23 10:00", "new", "solved"),
        status("2026-11-23 11:00", "solved", "open"),
    ]
    facts = compute_facts(start, [], events, [], ALWAYS, NOW)
    assert facts.resolution_s is None and facts.is_open
    assert facts.solved_ever and facts.reopens == 1


def test_sla_clocks_count_met_missed_and_running_breaches_but_not_cancelled_ones() -> None:
    clocks = [
        ClockIn("first_response", True, None, at("2026-11-23 09:30")),
        ClockIn("next_response", False, at("2026-11-23 12:00"), at("2026-11-23 13:00")),
        ClockIn("resolution", None, at("2026-11-24 09:00"), None),  # breached, still running
        ClockIn("next_response", None, None, at("2026-11-23 14:00")),  # cancelled
        ClockIn("next_response", None, None, None),  # running, on time
    ]
    facts = compute_facts(conversation("2026-11-23 09:00"), [], [], clocks, ALWAYS, NOW)
    assert (facts.sla_met, facts.sla_missed) == (1, 2)


def test_the_assistant_resolves_when_nobody_asks_for_a_person_within_24_hours() -> None:
    answered = NOW - timedelta(hours=25)
    start = conversation("2027-01-09 10:00", channel="webchat")
    messages = [MessageIn("customer", None, False, answered), assistant(answered)]
    facts = compute_facts(start, messages, [], [], ALWAYS, NOW)
    assert facts.assistant_involved and facts.assistant_resolved
    assert facts.handoff_reason is None and facts.recheck_at is None


def test_the_assistant_is_not_credited_before_the_24_hours_pass() -> None:
    answered = NOW - timedelta(hours=1)
    start = conversation("2027-01-10 10:00", channel="webchat")
    messages = [MessageIn("customer", None, False, answered), assistant(answered)]
    facts = compute_facts(start, messages, [], [], ALWAYS, NOW)
    assert facts.assistant_involved and not facts.assistant_resolved
    assert facts.recheck_at == answered + timedelta(hours=24)
    later = compute_facts(start, messages, [], [], ALWAYS, answered + timedelta(hours=24))
    assert later.assistant_resolved


def test_a_visitor_who_says_it_helped_is_a_resolution_at_once() -> None:
    answered = NOW - timedelta(minutes=5)
    start = conversation("2027-01-10 10:00", channel="webchat", status="solved", solved_at=NOW)
    events = [EventIn("assistant_resolved", {}, NOW)]
    facts = compute_facts(start, [assistant(answered)], events, [], ALWAYS, NOW)
    assert facts.assistant_resolved and facts.recheck_at is None


def test_a_hand_off_names_its_reason_and_is_no_resolution() -> None:
    answered = NOW - timedelta(hours=30)
    start = conversation("2027-01-09 06:00", channel="webchat")
    events = [
        EventIn("assistant_handoff", {"reason": "security"}, answered),
        EventIn("assistant_handoff", {"reason": "customer_request"}, NOW),
    ]
    facts = compute_facts(start, [assistant(answered)], events, [], ALWAYS, NOW)
    assert not facts.assistant_resolved and facts.handoff_reason == "security"


def test_an_agent_reply_after_the_assistant_counts_as_a_hand_off() -> None:
    answered = NOW - timedelta(hours=30)
    start = conversation("2027-01-09 06:00", channel="webchat")
    messages = [assistant(answered), MessageIn("agent", 3, False, answered + timedelta(hours=1))]
    facts = compute_facts(start, messages, [], [], ALWAYS, NOW)
    assert facts.handoff_reason == "agent_replied" and not facts.assistant_resolved


def test_time_spent_counts_each_agent_message_at_most_ten_minutes() -> None:
    start = conversation("2026-11-23 09:00", assignee_id=8)
    messages = [
        customer("2026-11-23 09:00"),
        agent("2026-11-23 09:30", agent_id=7),  # 30 min since the customer: 10 counted
        agent("2026-11-23 09:32", agent_id=8, internal=True),  # a note: 2 min
        customer("2026-11-23 10:00"),
        agent("2026-11-23 10:04", agent_id=8),  # 4 min
    ]
    facts = compute_facts(start, messages, [], [], ALWAYS, NOW, survey_rating=5)
    assert facts.agents[7].time_spent_s == 10 * 60
    assert facts.agents[8].time_spent_s == 6 * 60
    assert facts.agents[8].replies == 1 and facts.agents[8].handled
    # CSAT belongs to the assignee; the other agent handled the conversation too.
    assert facts.agents[8].csat_rating == 5 and facts.agents[7].csat_rating is None
    assert facts.agents[7].handled and not facts.agents[7].is_assignee


def test_the_conversation_is_filed_under_its_creation_hour_category_and_language() -> None:
    facts = compute_facts(conversation("2026-11-26 13:45"), [], [], [], ALWAYS, NOW)
    assert facts.created_hour == at("2026-11-26 13:00")
    assert facts.created_day == at("2026-11-26 00:00")
    assert (facts.hour_of_day, facts.weekday) == (13, 3)
    assert (facts.category, facts.language) == ("deposits", "en")
