"""Small server-rendered SVG charts (bars and a line), so the dashboard needs no script.

The output is markup built from numbers and escaped labels only; every bar can be a
link (to its drill-down), and each carries a <title> for a tooltip and screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None
    href: str | None = None
    title: str | None = None


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(
    points: Sequence[Point], *, width: int = 560, bar_height: int = 22, label_width: int = 150
) -> Markup:
    """Horizontal bars, one row per point, longest first as given."""
    height = max(1, len(points)) * (bar_height + 6) + 4
    top = max((p.value or 0 for p in points), default=0) or 1
    room = width - label_width - 60
    parts = [
        f'<svg class="chart bars" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, point in enumerate(points):
        y = 2 + i * (bar_height + 6)
        length = 0.0 if point.value is None else max(1.0, room * point.value / top)
        title = escape(point.title or f"{point.label}: {_fmt(point.value or 0)}")
        label = escape(point.label[:28])
        bar = (
            f"<g><title>{title}</title>"
            f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{label}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" rx="3"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + bar_height * 0.7:.1f}">'
            f"{'–' if point.value is None else _fmt(point.value)}</text></g>"
        )
        if point.href:
            bar = f'<a href="{escape(point.href)}">{bar}</a>'
        parts.append(bar)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)


def column_chart(
    points: Sequence[Point], *, width: int = 560, height: int = 160, label_every: int = 1
) -> Markup:
    """Vertical columns (hours of the day, days of the week)."""
    count = max(1, len(points))
    top = max((p.value or 0 for p in points), default=0) or 1
    plot = height - 22
    step = width / count
    parts = [
        f'<svg class="chart columns" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, point in enumerate(points):
        value = point.value or 0
        h = plot * value / top
        x = i * step
        title = escape(point.title or f"{point.label}: {_fmt(value)}")
        column = (
            f"<g><title>{title}</title>"
            f'<rect x="{x + step * 0.12:.1f}" y="{plot - h:.1f}" width="{step * 0.76:.1f}" '
            f'height="{h:.1f}" rx="2"/>'
        )
        if i % label_every == 0:
            column += (
                f'<text x="{x + step / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{escape(point.label)}</text>"
            )
        column += "</g>"
        if point.href:
            column = f'<a href="{escape(point.href)}">{column}</a>'
        parts.append(column)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)


def line_chart(
    points: Sequence[Point],
    previous: Sequence[Point] = (),
    *,
    width: int = 560,
    height: int = 160,
) -> Markup:
    """A line over the points (days), with the previous period dashed behind it."""
    values = [p.value for p in (*points, *previous) if p.value is not None]
    top = max(values, default=0) or 1
    plot = height - 22
    count = max(2, len(points))

    def path(series: Sequence[Point]) -> str:
        coords = [
            f"{width * i / (count - 1):.1f},{plot - plot * (p.value or 0) / top:.1f}"
            for i, p in enumerate(series)
        ]
        return "M" + " L".join(coords) if coords else ""

    parts = [
        f'<svg class="chart line" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
    ]
    if previous:
        parts.append(f'<path class="previous" d="{path(previous)}" fill="none"/>')
    parts.append(f'<path class="current" d="{path(points)}" fill="none"/>')
    if points:
        parts.append(
            f'<text x="0" y="{height - 4}">{escape(points[0].label)}</text>'
            f'<text x="{width}" y="{height - 4}" text-anchor="end">'
            f"{escape(points[-1].label)}</text>"
            f'<text x="{width}" y="12" text-anchor="end">{_fmt(top)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)
