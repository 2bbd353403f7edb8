"""The analytics dashboard (/analytics) and its drill-down pages, in the console.

The same query functions as the JSON API; every figure links to the conversations
behind it, and the CSV buttons point at the API's ``format=csv`` (a browser session
may read the API). An agent who is not a supervisor sees only their own row.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ledgerdesk.analytics import queries
from ledgerdesk.analytics.charts import Point, bar_chart, column_chart, line_chart
from ledgerdesk.analytics.queries import DateRange
from ledgerdesk.errors import InvalidInput
from ledgerdesk.server.deps import ReadSession
from ledgerdesk.web import i18n
from ledgerdesk.web.deps import User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = "/analytics"
Text = Annotated[str | None, Query(max_length=100)]
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def metric_names() -> dict[str, str]:
    return {
        "conversations": i18n.gettext("Conversations"),
        "first_response": i18n.gettext("First response time"),
        "next_response": i18n.gettext("Next response time"),
        "resolution": i18n.gettext("Resolution time"),
        "sla": i18n.gettext("SLAs met"),
        "csat": i18n.gettext("Satisfaction (CSAT)"),
        "reopen_rate": i18n.gettext("Reopened"),
        "assistant_involvement": i18n.gettext("Assistant involved"),
        "assistant_resolution": i18n.gettext("Resolved by the assistant"),
        "handoffs": i18n.gettext("Handed to a person"),
        "backlog": i18n.gettext("Backlog"),
        "replies": i18n.gettext("Replies"),
        "time_spent": i18n.gettext("Time spent"),
    }


def dimension_names() -> dict[str, str]:
    return {
        "channel": i18n.gettext("Channel"),
        "language": i18n.gettext("Language"),
        "category": i18n.gettext("Category"),
        "priority": i18n.gettext("Priority"),
        "team": i18n.gettext("Team"),
        "handoff": i18n.gettext("Hand-off reason"),
        "agent": i18n.gettext("Agent"),
        "hour": i18n.gettext("Hour of day (UTC)"),
        "weekday": i18n.gettext("Day of week (UTC)"),
    }


def weekday_names() -> list[str]:
    return [
        i18n.gettext("Mon"),
        i18n.gettext("Tue"),
        i18n.gettext("Wed"),
        i18n.gettext("Thu"),
        i18n.gettext("Fri"),
        i18n.gettext("Sat"),
        i18n.gettext("Sun"),
    ]


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return i18n.gettext("%(n)d s") % {"n": s}
    if s < 3600:
        return i18n.gettext("%(n)d min") % {"n": s // 60}
    if s < 86400:
        return i18n.gettext("%(h)d h %(m)d min") % {"h": s // 3600, "m": s % 3600 // 60}
    return i18n.gettext("%(d)d d %(h)d h") % {"d": s // 86400, "h": s % 86400 // 3600}


def fmt_figure(item: dict[str, Any]) -> str:
    value = item.get("value")
    if value is None:
        return "–"
    kind = item["kind"]
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind in ("duration", "total"):
        return fmt_duration(value)
    return f"{int(value):,}"


def fmt_change(item: dict[str, Any]) -> str:
    change = item.get("change")
    if change is None:
        return ""
    kind = item["kind"]
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    size = abs(change)
    if kind == "rate":
        return f"{sign}{size * 100:.1f} pt"
    if kind in ("duration", "total"):
        return f"{sign}{fmt_duration(size)}"
    return f"{sign}{int(size):,}"


def _query(period: DateRange, **extra: Any) -> str:
    params = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    params.update({k: str(v) for k, v in extra.items() if v is not None and v != ""})
    return urlencode(params)


def drill_href(period: DateRange, metric: str, **filters: Any) -> str:
    return f"{PAGE}/conversations?{_query(period, metric=metric, **filters)}"


def _range_or_default(first: str | None, last: str | None, days: int | None) -> DateRange:
    if days is not None and days not in queries.PRESETS and not 1 <= days <= queries.MAX_DAYS:
        raise InvalidInput("days must be between 1 and 366")
    return queries.parse_range(first or None, last or None, days=days)


@router.get(PAGE)
async def dashboard(
    request: Request,
    user: User,
    session: ReadSession,
    first: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    days: Annotated[int | None, Query(ge=1, le=queries.MAX_DAYS)] = None,
) -> Response:
    agent = user.agent
    mine_only = not agent.is_supervisor
    queries.access_analytics(user.principal, agent_id=agent.id if mine_only else None)
    period = _range_or_default(first, last, days if not (first or last) else None)
    names = metric_names()
    context: dict[str, Any] = {
        **await sidebar(session, user),
        "view": "analytics",
        "period": period,
        "previous": period.previous(),
        "presets": queries.PRESETS,
        "days": days,
        "names": names,
        "dimension_names": dimension_names(),
        "fmt_figure": fmt_figure,
        "fmt_change": fmt_change,
        "fmt_duration": fmt_duration,
        "drill_href": drill_href,
        "query": _query(period),
        "mine_only": mine_only,
    }
    if mine_only:
        mine = await queries.breakdown(session, period, "agent", agent_id=agent.id)
        context["agents"] = mine["rows"]
        return render(request, "analytics/dashboard.html", context)
    data = await queries.dashboard_data(session, period)
    context["agents"] = data["agents"]["rows"]
    context["articles"] = data["articles"]
    context["figures"] = data["overview"]["figures"]
    context["cards"] = [*queries.OVERVIEW_METRICS, "backlog"]
    breakdowns: dict[str, Any] = {}
    for dimension, found in data["breakdowns"].items():
        points = [
            Point(
                label=row["label"] or "—",
                value=row["figures"]["conversations"]["value"],
                href=drill_href(
                    period,
                    "handoffs" if dimension == "handoff" else "conversations",
                    **{dimension: row["key"]},
                )
                if row["key"]
                else None,
            )
            for row in found["rows"][:12]
        ]
        breakdowns[dimension] = {"rows": found["rows"], "chart": bar_chart(points)}
    context["breakdowns"] = breakdowns
    context["volume_line"] = line_chart(
        [Point(k, v["conversations"]) for k, v in data["days"].items()],
        [Point(k, v["conversations"]) for k, v in data["previous_days"].items()],
    )
    context["hour_chart"] = column_chart(
        [
            Point(k, v["conversations"], href=drill_href(period, "conversations", hour=int(k)))
            for k, v in data["hours"].items()
        ],
        label_every=3,
    )
    labels = weekday_names()
    context["weekday_chart"] = column_chart(
        [
            Point(
                labels[int(k)],
                v["conversations"],
                href=drill_href(period, "conversations", weekday=int(k)),
            )
            for k, v in data["weekdays"].items()
        ]
    )
    return render(request, "analytics/dashboard.html", context)


@router.get(PAGE + "/conversations")
async def drill_page(
    request: Request,
    user: User,
    session: ReadSession,
    metric: Annotated[str, Query(max_length=40)] = "conversations",
    first: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    channel: Text = None,
    language: Text = None,
    category: Text = None,
    priority: Text = None,
    team: Text = None,
    handoff: Text = None,
    agent: Text = None,
    hour: Text = None,
    weekday: Text = None,
    outcome: Annotated[str | None, Query(max_length=10)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    own = queries.agent_id_filter(agent)
    queries.access_analytics(user.principal, agent_id=own)
    period = queries.parse_range(first, last)
    filters = {
        "channel": channel,
        "language": language,
        "category": category,
        "priority": priority,
        "team": team,
        "handoff": handoff,
        "agent": agent,
        "hour": hour,
        "weekday": weekday,
    }
    drill = queries.parse_drill(metric, period, filters, outcome or None)
    rows, next_cursor = await queries.drill_page(session, drill, limit=50, cursor=cursor)
    totals = await queries.drill_totals(session, drill)
    base = {"metric": metric, **drill.filters, "outcome": drill.outcome}
    context: dict[str, Any] = {
        **await sidebar(session, user),
        "view": "analytics",
        "period": period,
        "drill": drill,
        "names": metric_names(),
        "dimension_names": dimension_names(),
        "rows": rows,
        "totals": totals,
        "fmt_duration": fmt_duration,
        "next_href": f"{PAGE}/conversations?{_query(period, **base, cursor=next_cursor)}"
        if next_cursor
        else None,
        "csv_href": f"/api/v1/analytics/conversations?{_query(period, **base, format='csv')}",
        "back_href": f"{PAGE}?{_query(period)}",
    }
    return render(request, "analytics/conversations.html", context)
