"""The widget script, the demo page that embeds it, the demo inbox, and the pure helpers
(origins, file types, identity hashes, texts), tested without I/O where they can be."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.channels.webchat.demo import DEMO_WIDGET_KEY, demo_allowed_origins
from ledgerdesk.channels.webchat.filetypes import clean_filename, sniff
from ledgerdesk.channels.webchat.identity import new_widget_key, user_hash, verify_user_hash
from ledgerdesk.channels.webchat.origins import normalise_origin, origin_allowed
from ledgerdesk.channels.webchat.storage import LocalAttachmentStore, MemoryAttachmentStore
from ledgerdesk.channels.webchat.texts import TEXTS, choose_language, greeting_for
from ledgerdesk.conversations.models import Inbox
from ledgerdesk.db.engine import Database
from ledgerdesk.demo import seed_demo
from ledgerdesk.settings import load_settings
from tests.conftest import World
from tests.webchat_support import make_chat, pdf_bytes, png_bytes

ROOT = Path(__file__).resolve().parent.parent
WIDGET = ROOT / "src/ledgerdesk/channels/webchat/static/widget.js"


# The script -------------------------------------------------------------------------


async def test_the_widget_script_is_served_as_javascript_with_cache_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == WIDGET.read_bytes()
    again = await client.get("/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_widget_is_one_dependency_free_iife_that_never_uses_inner_html() -> None:
    source = WIDGET.read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S).strip()
    assert code.startswith("(function () {") and code.endswith("})();")
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert forbidden not in source, forbidden
    assert "import " not in code and "require(" not in code
    assert 'attachShadow({ mode: "open" })' in source
    assert "crypto.randomUUID" in source and "localStorage" in source


def test_the_documented_gzipped_size_is_the_real_one() -> None:
    """docs/webchat.md states the size measured with `gzip -9 -c widget.js | wc -c`."""
    docs = (ROOT / "docs/webchat.md").read_text()
    match = re.search(r"widget\.js` is ([\d,]+) bytes gzipped", docs)
    assert match, "docs/webchat.md must state the widget's gzipped size"
    documented = int(match.group(1).replace(",", ""))
    # Python's zlib and GNU gzip differ by a few bytes (and gzip -c stores the file name).
    measured = len(gzip.compress(WIDGET.read_bytes(), compresslevel=9, mtime=0))
    assert abs(documented - measured) <= max(64, measured // 50), (documented, measured)
    assert measured < 10_000, "the widget stays small"


# The demo page and the demo inbox ---------------------------------------------------


async def test_the_demo_host_page_embeds_the_demo_inbox_once_it_exists(
    client: httpx.AsyncClient, app: Any, world: World, db: Database
) -> None:
    missing = await client.get("/demo/host")
    assert missing.status_code == 404
    chat = await make_chat(app.state.ledgerdesk, world, name="Demo chat")
    async with db.writer() as session:
        inbox = await session.get(Inbox, chat.inbox.id)
        assert inbox is not None
        inbox.widget_key = DEMO_WIDGET_KEY
        await session.commit()
    page = await client.get("/demo/host")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<script src="/widget.js" data-inbox="{DEMO_WIDGET_KEY}" async></script>' in page.text


@pytest.fixture(scope="module")
async def demo_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Any, Database]]:
    data_dir = tmp_path_factory.mktemp("webchat-demo")
    settings = load_settings(
        environ={}, data_dir=data_dir, environment="test", public_url="http://127.0.0.1:8000"
    )
    await seed_demo(settings, data_dir / "demo-login.txt", only_if_empty=True)
    db = Database.from_settings(settings)
    yield settings, db
    await db.dispose()


async def test_the_demo_has_a_web_chat_inbox_with_a_known_key_its_origins_and_a_secret(
    demo_db: tuple[Any, Database],
) -> None:
    settings, db = demo_db
    async with db.sessionmaker() as session:
        inbox = (
            await session.execute(select(Inbox).where(Inbox.widget_key == DEMO_WIDGET_KEY))
        ).scalar_one()
    assert inbox.channel == "webchat"
    assert set(inbox.allowed_origins) == {"http://127.0.0.1:8000", "http://localhost:8000"}
    assert inbox.identity_secret_encrypted is not None
    secret = SecretBox(settings.secret_key_value()).decrypt(inbox.identity_secret_encrypted)
    assert len(secret) == 64 and secret not in inbox.identity_secret_encrypted
    assert set(inbox.greetings) == {"en", "zh-Hans"}


def test_demo_origins_cover_both_loopback_spellings_and_nothing_else() -> None:
    assert demo_allowed_origins("http://localhost:8000") == [
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    ]
    assert demo_allowed_origins("https://support.harbor.example") == [
        "https://support.harbor.example"
    ]


# Pure helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://Harbor.Example", "https://harbor.example"),
        ("https://harbor.example:443/", "https://harbor.example"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origins_are_normalised(given: str, expected: str) -> None:
    assert normalise_origin(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "harbor.example",
        "ftp://harbor.example",
        "https://harbor.example/chat",
        "https://",
        "https://user@harbor.example",
        "https://harbor.example:99999",
        "null",
        "",
    ],
)
def test_things_that_are_not_origins_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_origin(bad)


def test_the_origin_allowlist() -> None:
    listed = ["https://harbor.example"]
    assert origin_allowed("https://harbor.example", listed)
    assert origin_allowed("https://HARBOR.example:443", listed)
    assert not origin_allowed("https://harbor.example.evil.example", listed)
    assert not origin_allowed("http://harbor.example", listed), "the scheme matters"
    assert not origin_allowed("null", listed)
    assert origin_allowed(None, listed), "no Origin: not a cross-site script"
    assert origin_allowed("https://anything.example", []), "empty list: any site"


def test_file_types_come_from_the_first_bytes() -> None:
    assert sniff(png_bytes()) == "image/png"
    assert sniff(pdf_bytes()) == "application/pdf"
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff(b"GIF89a\x01\x00") == "image/gif"
    assert sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"RIFF\x24\x00\x00\x00WAVEfmt ") is None
    assert sniff(b"<html>") is None
    assert sniff(b"") is None


def test_file_names_are_made_safe_but_keep_their_letters() -> None:
    assert clean_filename("../../etc/passwd", "image/png") == "passwd"
    assert clean_filename('C:\\Users\\me\\my "photo".png', "image/png") == "my _photo_.png"
    assert clean_filename("收据.pdf", "application/pdf") == "收据.pdf"
    assert clean_filename("a\r\nX-Evil: 1.png", "image/png") == "a_X-Evil_ 1.png"
    assert clean_filename("", "image/jpeg") == "attachment.jpg"
    assert clean_filename(None, "application/pdf") == "attachment.pdf"
    long = clean_filename("x" * 500 + ".png", "image/png")
    assert len(long) == 200 and long.endswith(".png")


def test_user_hashes_verify_only_with_the_right_secret_and_user() -> None:
    digest = user_hash("s3cret", "U-1")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert verify_user_hash("s3cret", "U-1", digest)
    assert verify_user_hash("s3cret", "U-1", digest.upper())
    assert not verify_user_hash("s3cret", "U-2", digest)
    assert not verify_user_hash("other", "U-1", digest)
    assert not verify_user_hash("s3cret", "U-1", "")
    assert new_widget_key() != new_widget_key()


def test_both_languages_have_every_text_with_the_same_placeholders() -> None:
    english, chinese = TEXTS["en"], TEXTS["zh-Hans"]
    assert set(english) == set(chinese)
    for key in english:
        assert re.findall(r"\{\w+\}", english[key]) == re.findall(r"\{\w+\}", chinese[key]), key
    assert choose_language("zh-TW") == choose_language("ZH") == "zh-Hans"
    assert choose_language("en-US") == choose_language(None) == choose_language("fr") == "en"
    assert greeting_for({}, "zh-CN") == chinese["greeting"]
    assert greeting_for({"en": "Hi"}, "zh-CN") == "Hi"


def _leftovers(root: Path) -> list[Path]:
    return list(root.rglob("*.tmp"))


@pytest.mark.parametrize("kind", ["local", "memory"])
async def test_the_attachment_stores_keep_bytes_by_their_hash(kind: str, tmp_path: Path) -> None:
    store = LocalAttachmentStore(tmp_path) if kind == "local" else MemoryAttachmentStore()
    first = await store.put(b"receipt")
    assert first == await store.put(b"receipt")
    assert await store.get(first) == b"receipt"
    assert await store.get("0" * 64) is None
    if kind == "local":
        assert _leftovers(tmp_path) == [], "no temporary files left behind"
        with pytest.raises(ValueError):
            await store.get("../../etc/passwd")
