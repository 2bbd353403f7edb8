"""The Jinja2 environment of the console, with translations and safe text helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ledgerdesk.web import i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _timeago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 60:
        return i18n.gettext("just now")
    if seconds < 3600:
        return i18n.gettext("%(n)d min ago") % {"n": seconds // 60}
    if seconds < 86400:
        return i18n.gettext("%(n)d h ago") % {"n": seconds // 3600}
    return i18n.gettext("%(n)d d ago") % {"n": seconds // 86400}


def _multiline(text: str) -> Markup:
    """Escape message text and keep its line breaks; nothing the customer wrote is markup."""
    return Markup("<br>").join(escape(line) for line in text.splitlines() or [""])


def _label(value: str | None) -> str:
    if value is None:
        return ""
    labels = {
        "new": i18n.gettext("New"),
        "open": i18n.gettext("Open"),
        "pending": i18n.gettext("Pending"),
        "on_hold": i18n.gettext("On hold"),
        "solved": i18n.gettext("Solved"),
        "closed": i18n.gettext("Closed"),
        "low": i18n.gettext("Low"),
        "normal": i18n.gettext("Normal"),
        "high": i18n.gettext("High"),
        "urgent": i18n.gettext("Urgent"),
        "webchat": i18n.gettext("Web chat"),
        "email": i18n.gettext("Email"),
        "telegram": "Telegram",
        "discord": "Discord",
        "api": "API",
        "admin": i18n.gettext("Admin"),
        "supervisor": i18n.gettext("Supervisor"),
        "agent": i18n.gettext("Agent"),
        "viewer": i18n.gettext("Viewer"),
        "standard": i18n.gettext("Standard"),
        "vip": "VIP",
    }
    return labels.get(value, value)


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["timeago"] = _timeago
    env.filters["multiline"] = _multiline
    env.filters["label"] = _label
    env.globals["ui_languages"] = i18n.UI_LANGUAGES
    return env


_env = build_environment()


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    page = _env.get_template(template).render(
        request=request, lang=i18n.current_language(), **context
    )
    return HTMLResponse(page, status_code=status_code)
