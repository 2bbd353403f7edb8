"""Links in messages: only official domains are links; everything else is text behind a warning.

The pure rules (web/links.py) are tested without I/O; the pages that use them
(the conversation, its message fragment, the /out warning page) through HTTP.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from ledgerdesk.settings import Settings, SettingsError, load_settings
from ledgerdesk.web import links
from tests.conftest import World
from tests.test_auth_flow import csrf_of, login

POLICY = links.LinkPolicy(("exchange.com",))
LABELS = links.Labels()


def html_of(text: str, policy: links.LinkPolicy = POLICY) -> str:
    return links.render_text(text, policy, LABELS)


class Elements(HTMLParser):
    """Every tag and attribute in a piece of HTML, to check against the allowlist."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def hrefs(html: str) -> list[str]:
    return [attrs["href"] or "" for tag, attrs in elements(html) if tag == "a" and "href" in attrs]


def official_links(html: str) -> list[str]:
    return [
        attrs["href"] or ""
        for tag, attrs in elements(html)
        if tag == "a" and "link-official" in (attrs.get("class") or "")
    ]


def assert_only_safe_markup(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in {"a", "br", "span"}, html
        assert set(attrs) <= {"href", "class", "title", "target", "rel"}, html
        href = attrs.get("href") or ""
        if tag == "a":
            assert href.startswith(("https://", "http://", "/out?u=")), html
            assert attrs.get("rel") == "noopener noreferrer", html


# The pure rules ----------------------------------------------------------------------


def test_an_address_on_an_official_domain_becomes_a_link() -> None:
    html = html_of("Reset it at https://exchange.com/account/reset?step=1&lang=en.")
    assert official_links(html) == ["https://exchange.com/account/reset?step=1&lang=en"]
    assert html.endswith("</a>."), "the full stop is text, not part of the address"
    assert_only_safe_markup(html)


def test_subdomains_of_an_official_domain_are_official_too() -> None:
    assert official_links(html_of("https://help.exchange.com/a")) == ["https://help.exchange.com/a"]
    assert official_links(html_of("see www.exchange.com/fees")) == ["https://www.exchange.com/fees"]


@pytest.mark.parametrize(
    "address",
    [
        "https://exchange.com.evil.io/login",
        "https://evil.io/exchange.com",
        "https://exchange-support.io/reset",
        "https://myexchange.com/",
        "https://xn--exchnge-5fg.com/login",  # exchаnge.com with a Cyrillic а
        "https://xn--exchnge-3ve.com/login",  # not even valid punycode
        "https://exchаnge.com/login",  # the same, as written
        "https://ｅｘｃｈａｎｇｅ.com/",  # full-width letters, which IDNA maps to ASCII
        "https://exchange.com@evil.io/",
        "https://evil.io@exchange.com/",  # credentials: never official, even when the host is
        "https://user:pass@exchange.com/",
        "https://exchange.com\\@evil.io/",  # browsers read the backslash as a slash
        "https://exchange.com\u200b.evil.io/",  # a zero-width space
        "https://exch%61nge.com/",
        "http://203.0.113.9/exchange.com/login",
    ],
)
def test_a_look_alike_or_disguised_address_is_text_with_a_warning_badge(address: str) -> None:
    html = html_of(f"Please log in here: {address} thanks")
    assert official_links(html) == [], html
    assert 'class="link-unverified"' in html
    assert "unverified link" in html
    for href in hrefs(html):
        assert href.startswith("/out?u="), "an unverified address is only reachable via /out"
    assert_only_safe_markup(html)


def test_the_warning_badge_carries_the_whole_address_to_the_warning_page() -> None:
    address = "https://exchange.com.evil.io/login?next=/withdraw#now"
    (href,) = hrefs(html_of(address))
    assert href == "/out?u=" + quote(address, safe="")


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(document.cookie)</script>",
        '<img src=x onerror="alert(1)">',
        "javascript:alert(1)",
        '<a href="javascript:alert(1)">click</a>',
        'https://exchange.com/"onmouseover="alert(1)',
        "https://exchange.com/<script>alert(1)</script>",
        "https://evil.io/'><svg onload=alert(1)>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "<iframe src=https://evil.io></iframe>",
        '<div hx-get="/logout" hx-trigger="load">x</div>',
    ],
)
def test_hostile_markup_in_a_message_stays_text(hostile: str) -> None:
    html = html_of(f"hello {hostile} bye")
    # Only the allowlisted tags and attributes exist as markup; the rest is text.
    assert_only_safe_markup(html)
    for tag in ("<script", "<img", "<svg", "<iframe", "<div"):
        assert tag not in html.lower(), html
    assert not any("javascript" in href.lower() for href in hrefs(html))


def test_javascript_and_data_addresses_are_never_links() -> None:
    html = html_of("javascript:alert(1) data:text/html,hi vbscript:x")
    assert hrefs(html) == []
    assert html == "javascript:alert(1) data:text/html,hi vbscript:x"


def test_an_address_ends_at_chinese_punctuation() -> None:
    html = html_of("请访问https://exchange.com/help。谢谢！")
    assert official_links(html) == ["https://exchange.com/help"]
    assert html.startswith("请访问<a ") and html.endswith("</a>。谢谢！")


def test_brackets_around_an_address_are_not_part_of_it() -> None:
    assert official_links(html_of("(see https://exchange.com/a_(b))")) == [
        "https://exchange.com/a_(b)"
    ]
    assert official_links(html_of("[https://exchange.com/x]")) == ["https://exchange.com/x"]


def test_invisible_characters_in_an_address_are_shown() -> None:
    html = html_of("https://exchange.com/\u202egnp.exe")
    assert "[U+202E]" in html
    assert "\u202e" not in html
    assert official_links(html) == []


def test_line_breaks_are_kept_and_nothing_else_is_markup() -> None:
    html = html_of("line one\nline <two>\r\nline & three")
    assert html == "line one<br>line &lt;two&gt;<br>line &amp; three"


def test_the_sanitiser_removes_what_escaping_would_have_missed() -> None:
    dirty = (
        '<a href="javascript:alert(1)" onclick="steal()">a</a>'
        '<img src=x onerror=alert(1)><script>alert(1)</script><span style="x">s</span>'
        '<a href="https://evil.io" class="link-official">b</a>'
    )
    clean = links.sanitise(dirty)
    assert "javascript" not in clean and "onclick" not in clean and "onerror" not in clean
    assert "<img" not in clean and "<script" not in clean and "style=" not in clean
    assert 'rel="noopener noreferrer"' in clean


def test_the_parsed_host_is_where_the_link_goes() -> None:
    disguised = links.parse_link("https://exchange.com@evil.io/login", POLICY)
    assert (disguised.host, disguised.official, disguised.href) == (
        "evil.io",
        False,
        "https://evil.io/login",
    )
    assert links.CREDENTIALS in disguised.warnings
    lookalike = links.parse_link("https://exchange.com.evil.io/", POLICY)
    assert lookalike.lookalike_of == "exchange.com"
    international = links.parse_link("https://xn--exchnge-5fg.com/", POLICY)
    assert international.unicode_host == "exchаnge.com"
    assert links.INTERNATIONAL in international.warnings


def test_an_ip_address_domain_is_official_only_exactly() -> None:
    policy = links.LinkPolicy(("127.0.0.1",))
    assert links.parse_link("http://127.0.0.1:8000/inbox", policy).official
    assert not links.parse_link("http://1.127.0.0.1/", policy).official


# Settings ---------------------------------------------------------------------------


def test_official_domains_are_comma_separated_and_default_to_the_public_url_host() -> None:
    configured = load_settings(
        environ={"LEDGERDESK_OFFICIAL_DOMAINS": " Exchange.COM., help.exchange.io ,münchen.de"}
    )
    assert configured.official_hosts == ("exchange.com", "help.exchange.io", "xn--mnchen-3ya.de")
    default = load_settings(environ={"LEDGERDESK_PUBLIC_URL": "https://support.exchange.com"})
    assert default.official_hosts == ("support.exchange.com",)


def test_an_official_domain_with_a_scheme_is_refused_with_the_variable_named() -> None:
    with pytest.raises(SettingsError, match="LEDGERDESK_OFFICIAL_DOMAINS"):
        load_settings(environ={"LEDGERDESK_OFFICIAL_DOMAINS": "https://exchange.com"})


# Pages ------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        environ={},
        data_dir=tmp_path,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
        official_domains="exchange.com",
    )


PHISHING = (
    "Support here. Verify your wallet at https://exchange.com.evil.io/verify "
    "or the official https://exchange.com/security <script>alert(1)</script>"
)


async def conversation_with(client: httpx.AsyncClient, world: World, body: str) -> int:
    customer = await world.make_customer("Li Wei", "li.wei@example.cn")
    response = await client.post(
        "/api/v1/conversations",
        json={"customer": {"id": customer.id}, "subject": "Wallet check", "body": body},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_the_conversation_links_official_domains_and_flags_the_others(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await conversation_with(client, world, PHISHING)
    await login(client, "bob@example.org")
    page = (await client.get(f"/conversations/{number}")).text
    assert 'class="link-official" href="https://exchange.com/security"' in page
    assert 'href="https://exchange.com.evil.io' not in page
    assert f'href="/out?u={quote("https://exchange.com.evil.io/verify", safe="")}"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_the_message_fragment_follows_the_same_link_rules(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await conversation_with(client, world, PHISHING)
    await login(client, "bob@example.org")
    messages = await client.get(
        f"/api/v1/conversations/{number}/messages", headers=world.bob.headers
    )
    message_id = messages.json()[0]["id"]
    fragment = (await client.get(f"/conversations/{number}/messages/{message_id}")).text
    assert 'class="link-official" href="https://exchange.com/security"' in fragment
    assert 'href="https://exchange.com.evil.io' not in fragment
    assert "<script>" not in fragment


async def test_the_warning_page_shows_where_a_disguised_link_really_goes(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    response = await client.get("/out", params={"u": "https://exchange.com@evil.io/login"})
    assert response.status_code == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    page = response.text
    assert '<strong id="out-host">evil.io</strong>' in page
    assert "https://exchange.com@evil.io/login" in page, "the full address is shown"
    assert "Phishing sites" in page
    assert "it opens evil.io" in page
    onward = re.search(r'<a id="out-continue"[^>]*>', page)
    assert onward is not None
    assert 'href="https://evil.io/login"' in onward.group(0), "no credentials in the way out"
    assert 'rel="noopener noreferrer nofollow"' in onward.group(0)


async def test_the_warning_page_speaks_the_agents_language(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    page = (await client.get("/out", params={"u": "https://exchange.com.evil.io/"})).text
    assert "钓鱼网站" in page
    assert "该地址借用了 exchange.com 的名称" in page


async def test_the_warning_page_names_international_look_alikes(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    page = (await client.get("/out", params={"u": "https://xn--exchnge-5fg.com/"})).text
    assert "xn--exchnge-5fg.com" in page and "exchаnge.com" in page
    assert "international letters" in page


@pytest.mark.parametrize(
    "address", ["javascript:alert(1)", "data:text/html,<script>x</script>", "https://", "nope"]
)
async def test_the_warning_page_will_not_open_what_is_not_a_web_address(
    client: httpx.AsyncClient, world: World, address: str
) -> None:
    await login(client, "bob@example.org")
    response = await client.get("/out", params={"u": address})
    assert response.status_code == 422
    assert 'href="javascript' not in response.text
    assert "<script>x" not in response.text


async def test_the_warning_page_is_for_logged_in_agents_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/out", params={"u": "https://evil.io/"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
