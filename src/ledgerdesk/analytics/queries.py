"""Reading the figures: date ranges, the overview, breakdowns, per agent, drill-downs.

Every figure is read from the rollups (a 90-day overview sums about 2,000 hourly rows),
except the backlog, which is a point in time and is counted from the facts' indexes.
A drill-down reads the facts of the conversations created in the range, with the
same conditions the rollups sum, so its total equals the figure it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.analytics.articles import article_feedback
from ledgerdesk.analytics.models import AgentFacts, ConversationFacts, Rollup
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.conversations.queries import decode_cursor, encode_cursor
from ledgerdesk.errors import InvalidInput, PermissionDenied

SCOPE = "analytics:read"
MAX_DAYS = 366
DEFAULT_DAYS = 30
PRESETS = (7, 30, 90)
SUM_COLUMNS = (
    "conversations",
    "first_response_n",
    "first_response_s",
    "first_response_bh_s",
    "next_response_n",
    "next_response_s",
    "next_response_bh_s",
    "resolved_n",
    "resolution_s",
    "resolution_bh_s",
    "solved_ever_n",
    "reopened_n",
    "sla_met",
    "sla_total",
    "csat_n",
    "csat_good",
    "assistant_n",
    "assistant_resolved_n",
    "handoff_n",
    "replies",
    "time_spent_s",
)
# Breakdown dimensions read from daily rollups, and those folded from the hourly ones.
ROLLUP_DIMENSIONS = ("channel", "language", "category", "priority", "team", "handoff", "agent")
TIME_DIMENSIONS = ("day", "hour", "weekday")
DIMENSIONS = ROLLUP_DIMENSIONS + TIME_DIMENSIONS
FILTERS = ("channel", "language", "category", "priority", "team", "handoff", "agent")
OUTCOMES = ("yes", "no")
AGE_BUCKETS = (("under_1d", 1), ("1d_3d", 3), ("3d_7d", 7), ("over_7d", None))


# Permissions ------------------------------------------------------------------------


def access_analytics(principal: Principal, *, agent_id: int | None = None) -> Agent:
    """Supervisors and admins see every figure; an agent sees only their own per-agent
    figures (``agent_id`` equal to theirs); viewers and customers see none. A token
    needs the ``analytics:read`` scope."""
    if principal.is_customer:
        raise PermissionDenied("analytics are for the support team")
    agent = principal.require_agent()
    principal.require_scope(SCOPE)
    if agent.is_supervisor:
        return agent
    if agent_id is not None and agent_id == agent.id and agent.can_reply:
        return agent
    raise PermissionDenied(
        "analytics are for supervisors and admins; an agent may read only their own "
        "figures (/api/v1/analytics/agents/me)"
    )


# Date ranges ------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> DateRange:
        """The period of equal length just before this one."""
        last = self.first - timedelta(days=1)
        return DateRange(last - timedelta(days=self.days - 1), last)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-11-28, not {value[:40]!r}") from None


def parse_range(
    first: str | None, last: str | None, *, days: int | None = None, today: date | None = None
) -> DateRange:
    """``from``/``to`` dates (inclusive), or the last ``days`` days; default the last 30."""
    today = today or datetime.now(UTC).date()
    if days is not None and (first or last):
        raise InvalidInput("give either days or from/to, not both")
    if days is not None:
        if not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")
        return DateRange(today - timedelta(days=days - 1), today)
    end = _parse_day(last, "to") if last else today
    start = _parse_day(first, "from") if first else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput("from must not be after to")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a date range covers at most {MAX_DAYS} days (one year)")
    if start.year < 2000 or end.year > 2200:
        raise InvalidInput("dates must lie between the years 2000 and 2200")
    return DateRange(start, end)


# Figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # count, duration, rate
    numerator: str | None
    denominator: str
    business: str | None = None  # the business-hours numerator of a duration


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("conversations", "count", None, "conversations"),
        MetricSpec(
            "first_response",
            "duration",
            "first_response_s",
            "first_response_n",
            "first_response_bh_s",
        ),
        MetricSpec(
            "next_response", "duration", "next_response_s", "next_response_n", "next_response_bh_s"
        ),
        MetricSpec("resolution", "duration", "resolution_s", "resolved_n", "resolution_bh_s"),
        MetricSpec("sla", "rate", "sla_met", "sla_total"),
        MetricSpec("csat", "rate", "csat_good", "csat_n"),
        MetricSpec("reopen_rate", "rate", "reopened_n", "solved_ever_n"),
        MetricSpec("assistant_involvement", "rate", "assistant_n", "conversations"),
        MetricSpec("assistant_resolution", "rate", "assistant_resolved_n", "assistant_n"),
        MetricSpec("handoffs", "count", None, "handoff_n"),
        MetricSpec("replies", "count", None, "replies"),
        MetricSpec("time_spent", "total", "time_spent_s", "conversations"),
    )
}
OVERVIEW_METRICS = (
    "conversations",
    "first_response",
    "next_response",
    "resolution",
    "sla",
    "csat",
    "reopen_rate",
    "assistant_involvement",
    "assistant_resolution",
    "handoffs",
)
AGENT_METRICS = (
    "conversations",
    "replies",
    "first_response",
    "next_response",
    "csat",
    "time_spent",
)
DRILL_METRICS = (*OVERVIEW_METRICS, "backlog", "replies", "time_spent")


def figure(sums: dict[str, float], name: str) -> dict[str, Any]:
    """One figure from summed rollup columns: value, its count, business-hours value."""
    spec = METRICS[name]
    n = sums.get(spec.denominator, 0)
    out: dict[str, Any] = {"metric": name, "kind": spec.kind, "count": int(n)}
    if spec.kind == "count":
        out["value"] = int(n)
    elif spec.kind == "duration":
        assert spec.numerator is not None and spec.business is not None
        out["value"] = sums[spec.numerator] / n if n else None
        out["business_hours_value"] = sums[spec.business] / n if n else None
    elif spec.kind == "total":
        assert spec.numerator is not None
        out["value"] = sums[spec.numerator]
    else:
        assert spec.numerator is not None
        out["numerator"] = int(sums[spec.numerator])
        out["value"] = sums[spec.numerator] / n if n else None
    return out


def compare(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    change = None
    if current.get("value") is not None and previous.get("value") is not None:
        change = current["value"] - previous["value"]
    return {**current, "previous": previous, "change": change}


def _zero() -> dict[str, float]:
    return dict.fromkeys(SUM_COLUMNS, 0.0)


@cache
def _sum_columns() -> list[ColumnElement[Any]]:
    # Built once: constructing 21 expressions per query cost more than running it.
    return [func.coalesce(func.sum(getattr(Rollup, name)), 0) for name in SUM_COLUMNS]


@cache
def _plain_columns() -> list[Any]:
    return [getattr(Rollup, name) for name in SUM_COLUMNS]


async def totals(
    session: AsyncSession, period: DateRange, dim: str = "all", key: str | None = None
) -> dict[str, float]:
    """Summed rollup columns over a range, for everything or one dimension value."""
    where = [Rollup.dim == dim, Rollup.bucket >= period.start, Rollup.bucket < period.end]
    if key is not None:
        where.append(Rollup.key == key)
    row = (await session.execute(select(*_sum_columns()).where(*where))).one()
    return {name: float(value or 0) for name, value in zip(SUM_COLUMNS, row, strict=True)}


def _single_filter(filters: dict[str, str]) -> tuple[str, str | None]:
    chosen = {k: v for k, v in filters.items() if v is not None and v != ""}
    if not chosen:
        return "all", None
    if len(chosen) > 1:
        raise InvalidInput("the overview takes at most one filter (channel, language, ...)")
    ((dim, key),) = chosen.items()
    if dim not in FILTERS:
        raise InvalidInput(f"unknown filter {dim!r}; use one of: {', '.join(FILTERS)}")
    return dim, key


async def overview(
    session: AsyncSession, period: DateRange, filters: dict[str, str] | None = None
) -> dict[str, Any]:
    """Every headline figure for the range and the previous period of equal length."""
    dim, key = _single_filter(filters or {})
    now_sums = await totals(session, period, dim, key)
    before_sums = await totals(session, period.previous(), dim, key)
    figures = {
        name: compare(figure(now_sums, name), figure(before_sums, name))
        for name in OVERVIEW_METRICS
    }
    result: dict[str, Any] = {
        "range": period.as_dict(),
        "previous_range": period.previous().as_dict(),
        "figures": figures,
    }
    if dim == "all":
        current = await backlog(session, period.end)
        previous = await backlog(session, period.previous().end)
        change = current["value"] - previous["value"]
        figures["backlog"] = {**current, "previous": previous, "change": change}
    return result


async def backlog(session: AsyncSession, at: datetime) -> dict[str, Any]:
    """Conversations unresolved at ``at``: created before it and not solved by then (by
    their current state and last solve), with how long they had waited.

    Two index ranges (open now; solved after ``at``) rather than one OR, which would
    read every conversation ever created."""
    f = ConversationFacts
    now = datetime.now(UTC)
    ages = [
        func.coalesce(func.sum(case((f.created_at >= at - timedelta(days=limit), 1), else_=0)), 0)
        for _, limit in AGE_BUCKETS[:-1]
    ]
    total, oldest = 0, None
    cumulative = [0] * len(ages)
    for condition in _backlog_parts(at):
        row = (
            await session.execute(
                select(func.count(), func.min(f.created_at), *ages).where(*condition)
            )
        ).one()
        total += int(row[0])
        if row[1] is not None and (oldest is None or row[1] < oldest):
            oldest = row[1]
        cumulative = [a + int(b) for a, b in zip(cumulative, row[2:], strict=True)]
    buckets, below = {}, 0
    for (label, _), upto in zip(AGE_BUCKETS, [*cumulative, total], strict=True):
        buckets[label] = upto - below
        below = upto
    point = min(at, now)
    oldest_age = (point - oldest).total_seconds() if oldest is not None else None
    return {
        "metric": "backlog",
        "kind": "count",
        "value": total,
        "count": total,
        "at": at.isoformat(),
        "oldest_age": oldest_age,
        "ages": buckets,
    }


def agent_id_filter(agent: str | None) -> int | None:
    """The agent id a drill-down's ``agent`` filter names, for the permission check
    (an agent may drill into their own figures); None when it names no valid id."""
    return int(agent) if agent is not None and agent.isdigit() and len(agent) < 19 else None


def _backlog_parts(at: datetime) -> list[list[ColumnElement[bool]]]:
    f = ConversationFacts
    return [
        # Bare ``is_open`` / ``NOT is_open`` (not ``IS TRUE``): the form the partial
        # indexes are declared with, so both parts are index-only range scans.
        [f.is_open.expression, f.created_at < at],
        [f.solved_at >= at, not_(f.is_open), f.created_at < at],
    ]


def _backlog_condition(at: datetime) -> ColumnElement[bool]:
    return or_(*(and_(*part) for part in _backlog_parts(at)))


def _fold_time(rows: Sequence[Any], dim: str) -> dict[str, dict[str, float]]:
    """Hourly rows summed per hour of day or per weekday."""
    width = len(SUM_COLUMNS)
    grouped: dict[str, list[float]] = {}
    for row in rows:
        bucket: datetime = row[0]
        key = f"{bucket.hour:02d}" if dim == "hour" else str(bucket.weekday())
        target = grouped.get(key)
        if target is None:
            target = grouped[key] = [0.0] * width
        grouped[key] = [a + (b or 0) for a, b in zip(target, row[1:], strict=True)]
    return {key: dict(zip(SUM_COLUMNS, values, strict=True)) for key, values in grouped.items()}


async def _time_rows(session: AsyncSession, period: DateRange, dim: str = "all") -> list[Any]:
    """The rollup rows of ``all`` (hourly) or ``day`` (daily) in a period."""
    found = await session.execute(
        select(Rollup.bucket, *_plain_columns()).where(
            Rollup.dim == dim, Rollup.bucket >= period.start, Rollup.bucket < period.end
        )
    )
    return list(found.all())


def _time_sums(
    rows: Sequence[Any], period: DateRange, dimension: str
) -> dict[str, dict[str, float]]:
    """Hourly rows (or, for days, daily rows) as sums per hour, weekday or day."""
    if dimension == "day":
        grouped = {
            row[0].date().isoformat(): {
                n: float(v or 0) for n, v in zip(SUM_COLUMNS, row[1:], strict=True)
            }
            for row in rows
        }
        for offset in range(period.days):
            grouped.setdefault((period.first + timedelta(days=offset)).isoformat(), _zero())
        return dict(sorted(grouped.items()))
    grouped = _fold_time(rows, dimension)
    for key in [f"{h:02d}" for h in range(24)] if dimension == "hour" else map(str, range(7)):
        grouped.setdefault(key, _zero())
    return dict(sorted(grouped.items()))


async def breakdown_sums(
    session: AsyncSession, period: DateRange, dimension: str
) -> dict[str, dict[str, float]]:
    """Summed rollup columns per value of a dimension."""
    if dimension not in DIMENSIONS:
        raise InvalidInput(f"unknown dimension {dimension!r}; use one of: {', '.join(DIMENSIONS)}")
    if dimension in TIME_DIMENSIONS:
        rows = await _time_rows(session, period, "day" if dimension == "day" else "all")
        return _time_sums(rows, period, dimension)
    found = await session.execute(
        select(Rollup.key, *_sum_columns())
        .where(Rollup.dim == dimension, Rollup.bucket >= period.start, Rollup.bucket < period.end)
        .group_by(Rollup.key)
    )
    result = {
        row[0]: {n: float(v or 0) for n, v in zip(SUM_COLUMNS, row[1:], strict=True)}
        for row in found
    }
    return dict(sorted(result.items(), key=lambda item: -item[1]["conversations"]))


async def labels_for(session: AsyncSession, dimension: str, keys: Sequence[str]) -> dict[str, str]:
    """Readable names for ids (agents, teams); other keys are their own label."""
    ids = [int(k) for k in keys if k.isdigit()]
    if dimension == "agent" and ids:
        found = await session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids)))
        return {str(i): name for i, name in found}
    if dimension == "team" and ids:
        found = await session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))
        return {str(i): name for i, name in found}
    return {}


async def breakdown(
    session: AsyncSession, period: DateRange, dimension: str, *, agent_id: int | None = None
) -> dict[str, Any]:
    sums = await breakdown_sums(session, period, dimension)
    if agent_id is not None:
        sums = {k: v for k, v in sums.items() if k == str(agent_id)}
    names = AGENT_METRICS if dimension == "agent" else OVERVIEW_METRICS
    labels = await labels_for(session, dimension, list(sums))
    rows = [
        {
            "key": key,
            "label": labels.get(key, key),
            "figures": {name: figure(values, name) for name in names},
        }
        for key, values in sums.items()
    ]
    return {"range": period.as_dict(), "dimension": dimension, "rows": rows}


# Drill-down -------------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    metric: str
    period: DateRange
    filters: dict[str, str]
    outcome: str | None = None


def parse_drill(
    metric: str, period: DateRange, filters: dict[str, str | None], outcome: str | None
) -> Drill:
    if metric not in DRILL_METRICS:
        raise InvalidInput(f"unknown metric {metric!r}; use one of: {', '.join(DRILL_METRICS)}")
    chosen: dict[str, str] = {}
    for name, value in filters.items():
        if value is None or value == "":
            continue
        if name not in (*FILTERS, "hour", "weekday"):
            raise InvalidInput(f"unknown filter {name!r}")
        if name in ("team", "agent", "hour", "weekday") and not value.isdigit():
            raise InvalidInput(f"{name} must be a whole number")
        if name == "hour" and not 0 <= int(value) <= 23:
            raise InvalidInput("hour must be between 0 and 23 (UTC)")
        if name == "weekday" and not 0 <= int(value) <= 6:
            raise InvalidInput("weekday must be between 0 (Monday) and 6 (Sunday)")
        if name in ("team", "agent") and int(value) > 2**63 - 1:
            raise InvalidInput(f"{name} is not a valid id")
        chosen[name] = value[:100]
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidInput("outcome must be yes or no")
    if outcome is not None and METRICS.get(metric, METRICS["conversations"]).kind != "rate":
        raise InvalidInput(f"outcome applies to rates, and {metric} is not one")
    if metric == "backlog" and chosen:
        raise InvalidInput("the backlog takes no filters")
    if metric == "time_spent" and "agent" not in chosen:
        raise InvalidInput("time_spent is a per-agent figure; add agent=<id>")
    return Drill(metric, period, chosen, outcome)


def _metric_conditions(drill: Drill) -> tuple[list[ColumnElement[bool]], ColumnElement[Any]]:
    """The conditions selecting the conversations behind a figure, and the expression
    whose sum over them is the figure's count."""
    f, a = ConversationFacts, AgentFacts
    agent = drill.filters.get("agent")
    yes = drill.outcome == "yes"
    one: ColumnElement[Any] = func.count()
    conditions: list[ColumnElement[bool]] = []
    metric = drill.metric
    if agent is not None:
        own = [a.conversation_id == f.conversation_id, a.agent_id == int(agent)]
        if metric in ("conversations", "replies", "time_spent"):
            own.append(a.handled.is_(True))
        elif metric == "first_response":
            own.append(a.first_response_s.is_not(None))
        elif metric == "next_response":
            own.append(a.response_n > 0)
        elif metric == "csat":
            own.append(a.csat_rating.is_not(None))
            if drill.outcome is not None:
                own.append(a.csat_rating >= 4 if yes else a.csat_rating < 4)
        else:
            raise InvalidInput(
                f"{metric} is not a per-agent figure; use one of: {', '.join(AGENT_METRICS)}"
            )
        conditions.append(exists().where(*own))
        return conditions, one
    if metric == "first_response":
        conditions.append(f.first_response_s.is_not(None))
    elif metric == "next_response":
        conditions.append(f.next_response_n > 0)
        one = func.coalesce(func.sum(f.next_response_n), 0)
    elif metric == "resolution":
        conditions.append(f.resolution_s.is_not(None))
    elif metric == "sla":
        conditions.append(f.sla_met + f.sla_missed > 0)
        if drill.outcome is not None:
            conditions.append(f.sla_missed == 0 if yes else f.sla_missed > 0)
        one = func.coalesce(func.sum(f.sla_met + f.sla_missed), 0)
    elif metric == "csat":
        conditions.append(f.csat_rating.is_not(None))
        if drill.outcome is not None:
            conditions.append(f.csat_rating >= 4 if yes else f.csat_rating < 4)
    elif metric == "reopen_rate":
        conditions.append(f.solved_ever.is_(True))
        if drill.outcome is not None:
            conditions.append(f.reopens > 0 if yes else f.reopens == 0)
    elif metric == "assistant_involvement":
        if drill.outcome is not None:
            conditions.append(f.assistant_involved.is_(yes))
    elif metric == "assistant_resolution":
        conditions.append(f.assistant_involved.is_(True))
        if drill.outcome is not None:
            conditions.append(f.assistant_resolved.is_(yes))
    elif metric == "handoffs":
        conditions.append(f.handoff_reason.is_not(None))
    elif metric == "replies":
        conditions.append(f.agent_replies > 0)
        one = func.coalesce(func.sum(f.agent_replies), 0)
    return conditions, one


def _filter_conditions(drill: Drill) -> list[ColumnElement[bool]]:
    f = ConversationFacts
    out: list[ColumnElement[bool]] = []
    for name, value in drill.filters.items():
        if name == "team":
            out.append(f.team_id == int(value))
        elif name == "handoff":
            out.append(f.handoff_reason == value)
        elif name == "hour":
            out.append(f.hour_of_day == int(value))
        elif name == "weekday":
            out.append(f.weekday == int(value))
        elif name in ("channel", "language", "category", "priority"):
            out.append(getattr(f, name) == value)
    return out


def _drill_where(drill: Drill) -> list[ColumnElement[bool]]:
    f = ConversationFacts
    if drill.metric == "backlog":
        return [_backlog_condition(drill.period.end)]
    conditions, _ = _metric_conditions(drill)
    return [
        f.created_at >= drill.period.start,
        f.created_at < drill.period.end,
        *_filter_conditions(drill),
        *conditions,
    ]


async def drill_totals(session: AsyncSession, drill: Drill) -> dict[str, int]:
    """How many conversations, and the figure's own count (waits, clocks, replies)."""
    f = ConversationFacts
    where = _drill_where(drill)
    if drill.metric == "backlog":
        n = int(await session.scalar(select(func.count()).where(*where)) or 0)
        return {"conversations": n, "count": n}
    _, one = _metric_conditions(drill)
    agent = drill.filters.get("agent")
    if agent is not None and drill.metric in ("next_response", "replies"):
        # An alias: the conditions already hold an EXISTS over analytics_agent_facts.
        a = aliased(AgentFacts)
        column = a.response_n if drill.metric == "next_response" else a.replies
        row = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(column), 0))
                .select_from(f)
                .join(a, and_(a.conversation_id == f.conversation_id, a.agent_id == int(agent)))
                .where(*where)
            )
        ).one()
        return {"conversations": int(row[0]), "count": int(row[1])}
    row = (await session.execute(select(func.count(), one).select_from(f).where(*where))).one()
    return {"conversations": int(row[0]), "count": int(row[1])}


def _drill_statement(drill: Drill) -> Select[ConversationFacts, str]:
    f = ConversationFacts
    return (
        select(f, Conversation.subject)
        .join(Conversation, Conversation.id == f.conversation_id)
        .where(*_drill_where(drill))
        .order_by(f.conversation_id.desc())
    )


FACT_FIELDS = (
    "status",
    "channel",
    "language",
    "category",
    "priority",
    "team_id",
    "assignee_id",
    "first_response_s",
    "first_response_bh_s",
    "next_response_n",
    "next_response_s",
    "next_response_bh_s",
    "resolution_s",
    "resolution_bh_s",
    "reopens",
    "sla_met",
    "sla_missed",
    "csat_rating",
    "assistant_involved",
    "assistant_resolved",
    "handoff_reason",
    "agent_replies",
)


def drill_row(facts: ConversationFacts, subject: str) -> dict[str, Any]:
    return {
        "id": facts.conversation_id,
        "subject": subject,
        "created_at": facts.created_at.isoformat(),
        "solved_at": facts.solved_at.isoformat() if facts.solved_at else None,
        **{name: getattr(facts, name) for name in FACT_FIELDS},
    }


async def drill_page(
    session: AsyncSession, drill: Drill, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the conversations behind a figure, newest first."""
    statement = _drill_statement(drill)
    if cursor is not None:
        statement = statement.where(ConversationFacts.conversation_id < decode_cursor(cursor))
    found = (await session.execute(statement.limit(limit + 1))).all()
    rows = [drill_row(facts, subject) for facts, subject in found[:limit]]
    next_cursor = encode_cursor(rows[-1]["id"]) if len(found) > limit else None
    return rows, next_cursor


async def drill_all(session: AsyncSession, drill: Drill, *, cap: int) -> list[dict[str, Any]]:
    """Every conversation behind a figure (for CSV), refusing more than ``cap``."""
    found = (await session.execute(_drill_statement(drill).limit(cap + 1))).all()
    if len(found) > cap:
        raise InvalidInput(
            f"more than {cap} conversations; narrow the date range or add a filter to export"
        )
    return [drill_row(facts, subject) for facts, subject in found]


def day_series(sums: dict[str, dict[str, float]], name: str) -> list[tuple[str, float | None]]:
    return [(key, figure(values, name)["value"]) for key, values in sums.items()]


DASHBOARD_BREAKDOWNS = ("channel", "language", "category", "handoff")


async def dashboard_data(session: AsyncSession, period: DateRange) -> dict[str, Any]:
    """Everything the dashboard page shows, through the functions the API uses."""
    hourly = await _time_rows(session, period)
    return {
        "overview": await overview(session, period),
        "articles": await article_feedback(session, period),
        "breakdowns": {
            dimension: await breakdown(session, period, dimension)
            for dimension in DASHBOARD_BREAKDOWNS
        },
        "agents": await breakdown(session, period, "agent"),
        "days": await breakdown_sums(session, period, "day"),
        "previous_days": await breakdown_sums(session, period.previous(), "day"),
        "hours": _time_sums(hourly, period, "hour"),
        "weekdays": _time_sums(hourly, period, "weekday"),
    }
