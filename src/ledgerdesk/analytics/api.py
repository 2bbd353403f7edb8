"""REST routes for analytics (docs/metrics.md): overview, breakdowns, per agent and the
conversations behind each figure, in JSON or CSV. Supervisors and admins read all of
it; an agent reads their own per-agent figures only; tokens need ``analytics:read``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ledgerdesk.analytics import queries
from ledgerdesk.analytics.articles import article_feedback
from ledgerdesk.analytics.queries import DateRange, Drill
from ledgerdesk.errors import InvalidInput
from ledgerdesk.server.deps import Actor, ReadSession

router = APIRouter(prefix="/analytics", tags=["analytics"])
CSV_CAP = 100_000

From = Annotated[str | None, Query(alias="from", max_length=40, description="first day, UTC")]
To = Annotated[str | None, Query(alias="to", max_length=40, description="last day, UTC")]
Days = Annotated[int | None, Query(ge=1, le=queries.MAX_DAYS, description="the last N days")]
Format = Annotated[str, Query(alias="format", pattern="^(json|csv)$")]
Filter = Annotated[str | None, Query(max_length=100)]


def _range(first: str | None, last: str | None, days: int | None) -> DateRange:
    return queries.parse_range(first, last, days=days)


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else _safe_cell(value) for value in row])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _safe_cell(value: Any) -> Any:
    # A cell starting with = + - @ would be a formula in a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def breakdown_csv(result: dict[str, Any]) -> Response:
    rows = result["rows"]
    names = list(rows[0]["figures"]) if rows else list(queries.OVERVIEW_METRICS)
    header = [result["dimension"], "label"]
    for name in names:
        header += [f"{name}", f"{name}_count"]
        if queries.METRICS[name].kind == "duration":
            header.append(f"{name}_business_hours")
    lines = []
    for row in rows:
        line: list[Any] = [row["key"], row["label"]]
        for name in names:
            item = row["figures"][name]
            line += [item["value"], item["count"]]
            if queries.METRICS[name].kind == "duration":
                line.append(item["business_hours_value"])
        lines.append(line)
    span = result["range"]
    return csv_response(
        f"analytics-{result['dimension']}-{span['from']}-{span['to']}", header, lines
    )


def drill_csv(drill: Drill, rows: list[dict[str, Any]]) -> Response:
    header = ["id", "subject", "created_at", "solved_at", *queries.FACT_FIELDS]
    span = drill.period.as_dict()
    return csv_response(
        f"analytics-{drill.metric}-{span['from']}-{span['to']}",
        header,
        ([row[name] for name in header] for row in rows),
    )


@router.get("/overview")
async def get_overview(
    actor: Actor,
    session: ReadSession,
    first: From = None,
    last: To = None,
    days: Days = None,
    channel: Filter = None,
    language: Filter = None,
    category: Filter = None,
    priority: Filter = None,
    team: Filter = None,
) -> dict[str, Any]:
    queries.access_analytics(actor)
    filters = {
        "channel": channel,
        "language": language,
        "category": category,
        "priority": priority,
        "team": team,
    }
    chosen = {k: v for k, v in filters.items() if v}
    return await queries.overview(session, _range(first, last, days), chosen)


@router.get("/breakdown", response_model=None)
async def get_breakdown(
    actor: Actor,
    session: ReadSession,
    dimension: Annotated[str, Query(max_length=20)],
    first: From = None,
    last: To = None,
    days: Days = None,
    output: Format = "json",
) -> dict[str, Any] | Response:
    queries.access_analytics(actor)
    result = await queries.breakdown(session, _range(first, last, days), dimension)
    return breakdown_csv(result) if output == "csv" else result


@router.get("/agents", response_model=None)
async def get_agents(
    actor: Actor,
    session: ReadSession,
    first: From = None,
    last: To = None,
    days: Days = None,
    output: Format = "json",
) -> dict[str, Any] | Response:
    queries.access_analytics(actor)
    result = await queries.breakdown(session, _range(first, last, days), "agent")
    return breakdown_csv(result) if output == "csv" else result


@router.get("/articles")
async def get_article_feedback(
    actor: Actor,
    session: ReadSession,
    first: From = None,
    last: To = None,
    days: Days = None,
) -> dict[str, Any]:
    """Help-center "was this helpful?" votes of the period and the least helpful articles."""
    queries.access_analytics(actor)
    return await article_feedback(session, _range(first, last, days))


@router.get("/agents/me")
async def get_my_figures(
    actor: Actor,
    session: ReadSession,
    first: From = None,
    last: To = None,
    days: Days = None,
) -> dict[str, Any]:
    agent = actor.require_agent()
    queries.access_analytics(actor, agent_id=agent.id)
    return await queries.breakdown(session, _range(first, last, days), "agent", agent_id=agent.id)


@router.get("/conversations", response_model=None)
async def get_conversations(
    actor: Actor,
    session: ReadSession,
    metric: Annotated[str, Query(max_length=40)],
    first: From = None,
    last: To = None,
    days: Days = None,
    channel: Filter = None,
    language: Filter = None,
    category: Filter = None,
    priority: Filter = None,
    team: Filter = None,
    handoff: Filter = None,
    agent: Filter = None,
    hour: Filter = None,
    weekday: Filter = None,
    outcome: Annotated[str | None, Query(max_length=10)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    output: Format = "json",
) -> dict[str, Any] | Response:
    """The conversations behind a figure, newest first, a page at a time (or all, as CSV)."""
    own = queries.agent_id_filter(agent)
    queries.access_analytics(actor, agent_id=own)
    drill = queries.parse_drill(
        metric,
        _range(first, last, days),
        {
            "channel": channel,
            "language": language,
            "category": category,
            "priority": priority,
            "team": team,
            "handoff": handoff,
            "agent": agent,
            "hour": hour,
            "weekday": weekday,
        },
        outcome,
    )
    if output == "csv":
        if cursor is not None:
            raise InvalidInput("a CSV export has every row; leave out the cursor")
        return drill_csv(drill, await queries.drill_all(session, drill, cap=CSV_CAP))
    rows, next_cursor = await queries.drill_page(session, drill, limit=limit, cursor=cursor)
    totals = await queries.drill_totals(session, drill)
    return {
        "metric": drill.metric,
        "range": drill.period.as_dict(),
        "filters": drill.filters,
        "outcome": drill.outcome,
        "total": totals["count"],
        "total_conversations": totals["conversations"],
        "conversations": rows,
        "next_cursor": next_cursor,
    }
