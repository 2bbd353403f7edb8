"""The Jinja2 environment of the console, with translations and safe text helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ledgerdesk.accounts.presence import Presence
from ledgerdesk.web import i18n, links

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


@pass_context
def _multiline(context: Context, text: str | None) -> Markup:
    """Message text as HTML: escaped, line breaks kept, links only to official domains.

    Nothing the customer wrote is markup: the text is escaped first, then the few
    tags added here (line breaks, links, warning badges) pass through nh3 with a
    strict allowlist. Templates that import macros using this filter must import
    them ``with context`` so the link policy reaches it; without one, no address
    is trusted.
    """
    policy = context.get("link_policy")
    if not isinstance(policy, links.LinkPolicy):
        policy = links.STRICT
    labels = links.Labels(
        badge=i18n.gettext("unverified link"),
        title=i18n.gettext("Not an official domain: opens a warning page first"),
    )
    return Markup(links.render_text(text or "", policy, labels))  # noqa: S704 (escaped, sanitised)


def _chain_chips(text: str | None) -> list[Any]:
    from ledgerdesk.web.chips import message_chips  # chips imports this module

    return list(message_chips(text))


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
        "online": i18n.gettext("Online"),
        "away": i18n.gettext("Away"),
        "offline": i18n.gettext("Offline"),
        "secret_shared": i18n.gettext("Secret shared"),
        "phishing_link": i18n.gettext("Phishing link"),
        "scam_script": i18n.gettext("Scam pattern"),
        "denied_address": i18n.gettext("Denylisted address"),
    }
    return labels.get(value, value)


def live_strings() -> dict[str, str]:
    """The words console.js shows, in the agent's language (placeholders as in Python)."""
    return {
        "connecting": i18n.gettext("Connecting…"),
        "reconnecting": i18n.gettext("Reconnecting…"),
        "signed_out": i18n.gettext("Signed out. Reload the page to log in again."),
        "out_of_sync": i18n.gettext("This page is out of date. Reload it."),
        "customer_typing": i18n.gettext("The customer is typing…"),
        "agent_replying": i18n.gettext("%(name)s is replying…"),
        "also_viewing": i18n.gettext("%(name)s is also viewing this conversation"),
        "also_replying": i18n.gettext("%(name)s is also replying to this conversation"),
        "sending": i18n.gettext("Sending…"),
        "not_sent": i18n.gettext("Not sent: %(error)s"),
        "changed_elsewhere": i18n.gettext(
            "Someone else changed this conversation. Reload before saving your changes."
        ),
        "presence_failed": i18n.gettext("Your status could not be saved."),
    }


@lru_cache(maxsize=16)
def _policy(official_hosts: tuple[str, ...]) -> links.LinkPolicy:
    return links.LinkPolicy(official_hosts)


def link_policy(request: Request) -> links.LinkPolicy:
    """Which domains this install's console links to (LEDGERDESK_OFFICIAL_DOMAINS)."""
    return _policy(request.app.state.ledgerdesk.settings.official_hosts)


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
    env.globals["live_strings"] = live_strings
    env.globals["presence_statuses"] = [str(status) for status in Presence]
    env.globals["chain_chips"] = _chain_chips
    return env


_env = build_environment()


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    page = _env.get_template(template).render(
        request=request,
        lang=i18n.current_language(),
        link_policy=link_policy(request),
        chain_configured=bool(request.app.state.ledgerdesk.settings.chain_networks),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
