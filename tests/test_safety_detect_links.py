"""Links compared with the official domains: look-alikes flagged, the real ones left alone."""

from __future__ import annotations

import idna
import pytest

from ledgerdesk.safety.links import check_domain, find_links, skeleton

OFFICIAL = ["harbor.exchange", "harborpay.com"]
DENIED = ["free-usdt-gift.xyz"]


def verdicts(text: str) -> list[tuple[str | None, str | None]]:
    return [(f.reason, f.detail.get("looks_like")) for f in find_links(text, OFFICIAL, DENIED)]


@pytest.mark.parametrize(
    "text",
    [
        "please log in at https://harbor.exchange/login",
        "see https://support.harbor.exchange/hc/zh-cn/articles/123",
        "our app: harborpay.com and www.harborpay.com",
        "请访问harbor.exchange官网",
        "e.g. attach report.pdf, logs.txt and readme.md; version 1.2.3",
        "ask on https://github.com/somebody/project or google.com",
    ],
)
def test_official_and_unrelated_links_are_not_flagged(text: str) -> None:
    assert verdicts(text) == []


def test_a_punycode_link_that_decodes_to_a_look_alike_is_flagged() -> None:
    fake = idna.encode("hаrbor.exchange", uts46=False, strict=False).decode()  # Cyrillic а
    assert fake.startswith("xn--")
    assert verdicts(f"login here: https://{fake}/login") == [("punycode", "harbor.exchange")]


def test_a_homoglyph_link_written_in_unicode_is_flagged() -> None:
    assert verdicts("go to hаrbor.exchange now") == [("homoglyph", "harbor.exchange")]  # Cyrillic
    assert verdicts("https://harborpαy.com/verify") == [("homoglyph", "harborpay.com")]  # Greek
    assert skeleton("hаrbor") == "harbor"


def test_mixed_scripts_are_flagged_even_without_a_match() -> None:
    assert verdicts("visit exаmple.com") == [("mixed_script", None)]


@pytest.mark.parametrize(
    "host",
    ["harb0r.exchange", "harbr.exchange", "hrabor.exchange", "harborr.exchange", "harbor-pay.com"],
)
def test_typos_of_an_official_name_are_flagged(host: str) -> None:
    assert [r for r, _ in verdicts(f"link: https://{host}/x")] == ["typo"]


def test_the_official_name_inside_another_domain_is_flagged() -> None:
    assert verdicts("harbor-exchange.support-help.com") == [("brand_in_domain", "harbor.exchange")]
    assert verdicts("https://harbor.exchange.account-verify.io/login") == [
        ("official_as_subdomain", "harbor.exchange")
    ]
    assert verdicts("harbor.com") == [("brand_in_domain", "harbor.exchange")]


def test_an_official_domain_before_an_at_sign_is_flagged() -> None:
    assert verdicts("https://harbor.exchange@evil.example.com/login") == [("userinfo_trick", None)]


def test_denied_domains_and_their_subdomains_are_flagged() -> None:
    assert verdicts("claim at free-usdt-gift.xyz or https://a.free-usdt-gift.xyz/") == [
        ("denied_domain", None),
        ("denied_domain", None),
    ]


def test_offsets_point_at_the_link_in_the_original_text() -> None:
    text = "您好，请登录 https://harb0r.exchange/login。谢谢"
    (found,) = find_links(text, OFFICIAL)
    assert text[found.start : found.end] == "https://harb0r.exchange/login"
    assert found.value == "https://harb0r.exchange/login"


def test_the_domain_of_an_email_address_is_checked_too() -> None:
    assert verdicts("write to support@harb0r.exchange for a refund") == [
        ("typo", "harbor.exchange")
    ]
    assert verdicts("write to support@harbor.exchange") == []


def test_one_host_can_be_checked_on_its_own() -> None:
    assert check_domain("support.harbor.exchange", OFFICIAL) is None
    assert check_domain("harb0r.exchange", OFFICIAL) == ("typo", "harbor.exchange")
    assert check_domain("a.free-usdt-gift.xyz", OFFICIAL, DENIED) == ("denied_domain", None)
