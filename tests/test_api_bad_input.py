"""Bad input on every API endpoint gets a 4xx with a message naming the problem, never a 500.

The cases are one table of (method, path, body, expected status, words the message
must contain). Paths use placeholders filled with the ids of real rows, so each
refusal is about the input, not about a missing object. After the whole table has
been refused, nothing new is in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledgerdesk.customers.models import Customer
from ledgerdesk.db.registry import Base
from tests.conftest import World

API = "/api/v1"
BIG = 2**63  # one past the largest 64-bit id
MAX = 2**63 - 1
NUL = "bad\x00value"


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any = None  # JSON-able, or bytes sent as they are
    status: int = 422
    words: tuple[str, ...] = ()

    def label(self) -> str:
        shown = self.body if isinstance(self.body, bytes) else repr(self.body)
        return f"{self.method} {self.path} {str(shown)[:80]}"


def case(method: str, path: str, body: Any = None, *words: str, status: int = 422) -> Case:
    return Case(method, path, body, status, words)


# Every endpoint that takes a JSON body, with a body it would accept.
BODY_ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/conversations", {"customer": {"id": "{customer}"}, "body": "hi"}),
    ("PATCH", "/conversations/{conversation}", {"priority": "high"}),
    ("POST", "/conversations/{conversation}/messages", {"body": "hi"}),
    ("POST", "/customers", {"name": "Erin"}),
    ("PATCH", "/customers/{customer}", {"name": "Dana"}),
    ("POST", "/customers/{customer}/identities", {"kind": "phone", "value": "+1"}),
    ("POST", "/customers/{customer}/merge", {"other_id": "{other}"}),
    ("PATCH", "/me", {"language": "en"}),
    ("POST", "/agents", {"email": "n@example.org", "name": "N", "password": "long enough!"}),
    ("PATCH", "/agents/{agent}", {"name": "Bob"}),
    ("POST", "/teams", {"name": "Payments"}),
    ("POST", "/teams/{team}/members", {"agent_id": "{agent}"}),
    ("POST", "/tokens", {"name": "t", "scopes": ["conversations:read"]}),
    ("PUT", "/security", {"require_2fa": False}),
]

# Every endpoint with an id in its path, and the name of that parameter.
PATH_ID_ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("GET", "/conversations/{id}", "conversation_id", None),
    ("PATCH", "/conversations/{id}", "conversation_id", {"priority": "high"}),
    ("GET", "/conversations/{id}/messages", "conversation_id", None),
    ("POST", "/conversations/{id}/messages", "conversation_id", {"body": "hi"}),
    ("GET", "/conversations/{id}/events", "conversation_id", None),
    ("GET", "/customers/{id}", "customer_id", None),
    ("PATCH", "/customers/{id}", "customer_id", {"name": "x"}),
    ("POST", "/customers/{id}/identities", "customer_id", {"kind": "phone", "value": "+1"}),
    ("POST", "/customers/{id}/merge", "customer_id", {"other_id": 1}),
    ("GET", "/agents/{id}", "agent_id", None),
    ("PATCH", "/agents/{id}", "agent_id", {"name": "x"}),
    ("POST", "/teams/{id}/members", "team_id", {"agent_id": 1}),
    ("DELETE", "/tokens/{id}", "token_id", None),
]


def _json_shape_cases() -> list[Case]:
    cases = []
    for method, path, good in BODY_ENDPOINTS:
        cases += [
            case(method, path, b'{"name": "x",', "not valid JSON", "character"),
            case(method, path, b"{'single': 'quotes'}", "not valid JSON"),
            case(method, path, b"[1, 2]", "body", "dictionary"),
            case(method, path, b'"just a string"', "body"),
            case(method, path, b"", "body", "required"),
            case(method, path, {**good, "bogus_field": 1}, "bogus_field", "Extra inputs"),
        ]
    return cases


def _path_id_cases() -> list[Case]:
    cases = []
    for method, template, name, body in PATH_ID_ENDPOINTS:
        for bad, problem in [
            ("0", "greater than or equal to 1"),
            ("-1", "greater than or equal to 1"),
            (str(BIG), "less than or equal to"),
            (str(10**30), "less than or equal to"),
            ("abc", "valid integer"),
            ("1.5", "valid integer"),
            ("1e3", "valid integer"),
        ]:
            cases.append(case(method, template.replace("{id}", bad), body, name, problem))
        # The largest id is valid input: it is simply not there.
        cases.append(case(method, template.replace("{id}", str(MAX)), body, str(MAX), status=404))
    return cases


C = "/conversations"
CONV = "/conversations/{conversation}"
MSGS = "/conversations/{conversation}/messages"
CUST = "/customers/{customer}"


def new_conversation(**fields: Any) -> dict[str, Any]:
    return {"customer": {"id": "{customer}"}, "body": "hi", **fields}


FIELD_CASES: list[Case] = [
    # Opening a conversation.
    case("POST", C, new_conversation(customer={"id": 0}), "customer.id", "greater than"),
    case("POST", C, new_conversation(customer={"id": -5}), "customer.id"),
    case("POST", C, new_conversation(customer={"id": BIG}), "customer.id", "less than"),
    case("POST", C, new_conversation(customer={"id": "abc"}), "customer.id", "integer"),
    case("POST", C, new_conversation(customer={"id": 1.5}), "customer.id", "integer"),
    case("POST", C, new_conversation(customer={"id": 1, "x": 1}), "customer.x", "Extra"),
    case("POST", C, new_conversation(customer={"email": NUL}), "customer.email", "NUL"),
    case("POST", C, new_conversation(customer={"email": "a@b.c", "name": "x" * 201}), "name"),
    case("POST", C, new_conversation(customer={"email": "no-at-sign"}), "not an email"),
    case("POST", C, new_conversation(customer="Dana"), "customer"),
    case("POST", C, {"customer": {"id": "{customer}"}}, "body", "required"),
    case("POST", C, new_conversation(body=123), "body", "string"),
    case("POST", C, new_conversation(body=None), "body", "string"),
    case("POST", C, new_conversation(body="x" * 50_001), "body", "50000"),
    case("POST", C, new_conversation(body=NUL), "body", "NUL"),
    case("POST", C, new_conversation(body="   "), "empty"),
    case("POST", C, new_conversation(subject="s" * 301), "subject", "300"),
    case("POST", C, new_conversation(subject=NUL), "subject", "NUL"),
    case("POST", C, new_conversation(channel="fax"), "channel"),
    case("POST", C, new_conversation(priority="critical"), "priority"),
    case("POST", C, new_conversation(priority=5), "priority"),
    case("POST", C, new_conversation(language="english!"), "language", "pattern"),
    case("POST", C, new_conversation(language="en-" + "-".join(["abcdefgh"] * 4)), "language"),
    case("POST", C, new_conversation(team_id=0), "team_id"),
    case("POST", C, new_conversation(team_id=BIG), "team_id"),
    case("POST", C, new_conversation(team_id=MAX), "team", str(MAX)),
    case("POST", C, new_conversation(assignee_id=-1), "assignee_id"),
    case("POST", C, new_conversation(assignee_id=MAX), "agent", str(MAX)),
    case("POST", C, new_conversation(inbox_id=0), "inbox_id"),
    case("POST", C, new_conversation(inbox_id=MAX), "inbox", str(MAX)),
    case("POST", C, new_conversation(tags="vip"), "tags", "list"),
    case("POST", C, new_conversation(tags=["t" * 61]), "tags.0", "60"),
    case("POST", C, new_conversation(tags=[""]), "tags.0"),
    case("POST", C, new_conversation(tags=["   "]), "tags", "empty"),
    case("POST", C, new_conversation(tags=[NUL]), "tags.0", "NUL"),
    case("POST", C, new_conversation(tags=[f"t{n}" for n in range(51)]), "tags", "50"),
    case("POST", C, new_conversation(custom_fields=[]), "custom_fields", "dictionary"),
    case("POST", C, new_conversation(custom_fields={"a": NUL}), "custom_fields.a", "NUL"),
    case("POST", C, new_conversation(custom_fields={NUL: 1}), "custom_fields", "NUL"),
    case("POST", C, new_conversation(custom_fields={f"k{n}": n for n in range(51)}), "50"),
    case("POST", C, new_conversation(custom_fields={"a": [[[[[1]]]]]}), "nested"),
    case("POST", C, new_conversation(custom_fields={"a": "x" * 70_000}), "larger than"),
    case("POST", C, b'{"body": "hi", "custom_fields": {"a": NaN}}', "finite number"),
    case("POST", C, b'{"body": "hi", "custom_fields": {"a": -Infinity}}', "finite number"),
    case("POST", C, b'{"body": "hi", "custom_fields": {"a": "\\ud800"}}', "Unicode"),
    case("POST", C, b'{"body": "\\udfff"}', "body", "unicode"),
    case("POST", C, new_conversation(channel_message_id=""), "channel_message_id"),
    case("POST", C, new_conversation(channel_message_id="m" * 201), "channel_message_id"),
    case("POST", C, new_conversation(channel_message_id=NUL), "channel_message_id", "NUL"),
    case("POST", C, new_conversation(attachments={}), "attachments", "list"),
    case(
        "POST",
        C,
        new_conversation(attachments=[{"filename": "a", "content_type": "b", "size": -1}]),
        "attachments.0.size",
    ),
    case(
        "POST",
        C,
        new_conversation(
            attachments=[{"filename": "a", "content_type": "b", "size": 200 * 1024 * 1024}]
        ),
        "attachments.0.size",
    ),
    case(
        "POST",
        C,
        new_conversation(attachments=[{"filename": NUL, "content_type": "b", "size": 1}]),
        "attachments.0.filename",
        "NUL",
    ),
    case(
        "POST",
        C,
        new_conversation(attachments=[{"filename": "a", "content_type": "b", "size": 1, "x": 1}]),
        "attachments.0.x",
    ),
    # Changing a conversation.
    case("PATCH", CONV, {"status": "archived"}, "status"),
    case("PATCH", CONV, {"status": 3}, "status"),
    case("PATCH", CONV, {"priority": "critical"}, "priority"),
    case("PATCH", CONV, {"assignee_id": 0}, "assignee_id"),
    case("PATCH", CONV, {"assignee_id": BIG}, "assignee_id"),
    case("PATCH", CONV, {"assignee_id": "bob"}, "assignee_id"),
    case("PATCH", CONV, {"assignee_id": MAX}, "agent", str(MAX)),
    case("PATCH", CONV, {"team_id": -3}, "team_id"),
    case("PATCH", CONV, {"team_id": MAX}, "team", str(MAX)),
    case("PATCH", CONV, {"subject": "s" * 301}, "subject"),
    case("PATCH", CONV, {"subject": NUL}, "subject", "NUL"),
    case("PATCH", CONV, {"subject": "   "}, "subject", "empty"),
    case("PATCH", CONV, {"tags": "vip"}, "tags"),
    case("PATCH", CONV, {"add_tags": ["t" * 61]}, "add_tags.0"),
    case("PATCH", CONV, {"remove_tags": [NUL]}, "remove_tags.0", "NUL"),
    case("PATCH", CONV, {"add_tags": [f"t{n}" for n in range(50)], "tags": ["x"]}, "50 tags"),
    case("PATCH", CONV, {"custom_fields": {"a": NUL}}, "custom_fields.a", "NUL"),
    case("PATCH", CONV, {"custom_fields": "x"}, "custom_fields"),
    case("PATCH", CONV, b'{"custom_fields": {"a": NaN}}', "finite number"),
    case("PATCH", CONV, b'{"custom_fields": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}", "nested"),
    # Writing a message.
    case("POST", MSGS, {"body": 5}, "body"),
    case("POST", MSGS, {"body": NUL}, "body", "NUL"),
    case("POST", MSGS, {"body": "x" * 50_001}, "body", "50000"),
    case("POST", MSGS, {"body": ""}, "text or an attachment"),
    case("POST", MSGS, {}, "text or an attachment"),
    case("POST", MSGS, {"body": "hi", "internal": "maybe"}, "internal", "boolean"),
    case("POST", MSGS, {"body": "hi", "channel_message_id": 7}, "channel_message_id"),
    case("POST", MSGS, {"body": "hi", "channel_message_id": NUL}, "channel_message_id"),
    case("POST", MSGS, {"body": "hi", "author_kind": "agent"}, "author_kind", "Extra"),
    case("POST", MSGS, {"body": "hi", "attachments": [{"filename": "a"}] * 21}, "attachments"),
    # Customers.
    case("POST", "/customers", {"name": "x" * 201}, "name", "200"),
    case("POST", "/customers", {"name": NUL}, "name", "NUL"),
    case("POST", "/customers", {"name": 7}, "name"),
    case("POST", "/customers", {"email": NUL}, "email", "NUL"),
    case("POST", "/customers", {"email": "a" * 250 + "@example.com"}, "254"),
    case("POST", "/customers", {"email": "@example.com"}, "not an email"),
    case("POST", "/customers", {"language": "x"}, "language"),
    case("POST", "/customers", {"tier": "gold"}, "tier"),
    case("POST", "/customers", {"identities": {"kind": "email"}}, "identities"),
    case("POST", "/customers", {"identities": [{"kind": "myspace", "value": "x"}]}, "kind"),
    case("POST", "/customers", {"identities": [{"kind": "phone"}]}, "identities.0.value"),
    case("POST", "/customers", {"identities": [{"kind": "phone", "value": "   "}]}, "empty"),
    case("POST", "/customers", {"identities": [{"kind": "phone", "value": NUL}]}, "NUL"),
    case("POST", "/customers", {"identities": [{"kind": "phone", "value": "1" * 301}]}, "300"),
    case(
        "POST",
        "/customers",
        {"identities": [{"kind": "phone", "value": str(n)} for n in range(21)]},
        "identities",
        "20",
    ),
    case("PATCH", CUST, {"tier": "platinum"}, "tier"),
    case("PATCH", CUST, {"notes": "n" * 20_001}, "notes", "20000"),
    case("PATCH", CUST, {"notes": NUL}, "notes", "NUL"),
    case("PATCH", CUST, {"language": "toolong-language-tag-x"}, "language"),
    case("PATCH", CUST, {"merged_into_id": 1}, "merged_into_id", "Extra"),
    case("POST", f"{CUST}/identities", {"kind": "email", "value": "nope"}, "not an email"),
    case("POST", f"{CUST}/identities", {"kind": None, "value": "x"}, "kind"),
    case("POST", f"{CUST}/identities", {"kind": "phone", "value": "1", "verified": True}, "Extra"),
    case("POST", f"{CUST}/merge", {}, "other_id", "required"),
    case("POST", f"{CUST}/merge", {"other_id": 0}, "other_id"),
    case("POST", f"{CUST}/merge", {"other_id": BIG}, "other_id"),
    case("POST", f"{CUST}/merge", {"other_id": "{customer}"}, "itself"),
    case("POST", f"{CUST}/merge", {"other_id": MAX}, str(MAX), status=404),
    # Agents, teams, tokens, the policy.
    case("PATCH", "/me", {"language": "fr"}, "language"),
    case("PATCH", "/me", {"name": NUL}, "name", "NUL"),
    case("PATCH", "/me", {"is_active": False}, "is_active", "Extra"),
    case("POST", "/agents", {"email": "a@b.c", "name": "A"}, "password", "required"),
    case("POST", "/agents", {"email": "a@b.c", "name": "A", "password": "short"}, "password"),
    case(
        "POST",
        "/agents",
        {"email": "a@b.c", "name": "A", "password": "p" * 201},
        "password",
        "200",
    ),
    case(
        "POST",
        "/agents",
        {"email": "x" * 255, "name": "A", "password": "long enough!"},
        "email",
        "254",
    ),
    case(
        "POST",
        "/agents",
        {"email": "a@b.c", "name": NUL, "password": "long enough!"},
        "name",
        "NUL",
    ),
    case(
        "POST",
        "/agents",
        {"email": "a@b.c", "name": "A", "password": "long enough!", "role": "god"},
        "role",
    ),
    case(
        "POST",
        "/agents",
        {"email": "no-at", "name": "A", "password": "long enough!"},
        "not an email",
    ),
    case("PATCH", "/agents/{agent}", {"role": "god"}, "role"),
    case("PATCH", "/agents/{agent}", {"is_active": "perhaps"}, "is_active"),
    case("PATCH", "/agents/{agent}", {"email": "new@example.org"}, "email", "Extra"),
    case("POST", "/teams", {"name": "t" * 101}, "name", "100"),
    case("POST", "/teams", {"name": NUL}, "name", "NUL"),
    case("POST", "/teams", {"name": "T", "is_private": "sometimes"}, "is_private"),
    case("POST", "/teams/{team}/members", {"agent_id": 0}, "agent_id"),
    case("POST", "/teams/{team}/members", {"agent_id": BIG}, "agent_id"),
    case("POST", "/teams/{team}/members", {"agent_id": MAX}, "agent", str(MAX)),
    case("POST", "/tokens", {"name": "t"}, "scopes", "required"),
    case("POST", "/tokens", {"name": "t", "scopes": "admin"}, "scopes", "list"),
    case("POST", "/tokens", {"name": "t", "scopes": []}, "scopes"),
    case("POST", "/tokens", {"name": "t", "scopes": ["conversations:read"] * 11}, "scopes"),
    case("POST", "/tokens", {"name": "t", "scopes": ["root"]}, "root", "allowed:"),
    case("POST", "/tokens", {"name": "t", "scopes": ["x" * 41]}, "scopes.0"),
    case("POST", "/tokens", {"name": "t" * 101, "scopes": ["conversations:read"]}, "name"),
    case("POST", "/tokens", {"name": NUL, "scopes": ["conversations:read"]}, "name", "NUL"),
    case("POST", "/tokens", b'{"name": "t", "scopes": ["\\ud800"]}', "scopes.0"),
    case(
        "POST",
        "/tokens",
        {"name": "t", "scopes": ["conversations:read"], "expires_at": "tomorrow"},
        "expires_at",
    ),
    case(
        "POST",
        "/tokens",
        {"name": "t", "scopes": ["conversations:read"], "expires_at": "2001-01-01T00:00:00Z"},
        "expires_at",
        "future",
    ),
    case(
        "POST",
        "/tokens",
        {"name": "t", "scopes": ["conversations:read"], "expires_at": "9999-12-31T23:00:00-05:00"},
        "expires_at",
        "range",
    ),
    case(
        "POST",
        "/tokens",
        {"name": "t", "scopes": ["conversations:read"], "customer_id": 0},
        "customer_id",
    ),
    case(
        "POST",
        "/tokens",
        {"name": "t", "scopes": ["conversations:read"], "customer_id": MAX},
        str(MAX),
        status=404,
    ),
    case("PUT", "/security", {}, "require_2fa", "required"),
    case("PUT", "/security", {"require_2fa": "maybe"}, "require_2fa", "boolean"),
]

QUERY_CASES: list[Case] = [
    case("GET", f"{C}?status=archived", None, "status"),
    case("GET", f"{C}?status=open&status=bogus", None, "status"),
    case("GET", f"{C}?priority=critical", None, "priority"),
    case("GET", f"{C}?channel=fax", None, "channel"),
    case("GET", f"{C}?assignee=0", None, "assignee"),
    case("GET", f"{C}?assignee=-1", None, "assignee"),
    case("GET", f"{C}?assignee=somebody", None, "assignee"),
    case("GET", f"{C}?assignee={10**30}", None, "assignee"),
    case("GET", f"{C}?team_id=0", None, "team_id"),
    case("GET", f"{C}?team_id=-1", None, "team_id"),
    case("GET", f"{C}?team_id={BIG}", None, "team_id"),
    case("GET", f"{C}?inbox_id=abc", None, "inbox_id"),
    case("GET", f"{C}?customer_id={BIG}", None, "customer_id"),
    case("GET", f"{C}?tag=" + "t" * 61, None, "tag"),
    case("GET", f"{C}?tag=", None, "tag"),
    case("GET", f"{C}?tag=a%00b", None, "tag", "NUL"),
    case("GET", f"{C}?q=a%00b", None, "q", "NUL"),
    case("GET", f"{C}?q=" + "q" * 201, None, "q", "200"),
    case("GET", f"{C}?limit=0", None, "limit"),
    case("GET", f"{C}?limit=101", None, "limit"),
    case("GET", f"{C}?limit=-5", None, "limit"),
    case("GET", f"{C}?limit=ten", None, "limit"),
    case("GET", f"{C}?limit={BIG}", None, "limit"),
    case("GET", f"{C}?cursor=garbage", None, "cursor"),
    case("GET", f"{C}?cursor=%FF%FE", None, "cursor"),
    case("GET", f"{C}?cursor=YzE6MA", None, "cursor"),  # "c1:0"
    case("GET", f"{C}?cursor=YzE6LTU", None, "cursor"),  # "c1:-5"
    case("GET", f"{C}?cursor=YzI6NQ", None, "cursor"),  # "c2:5"
    case("GET", f"{C}?cursor=YzE6OTIyMzM3MjAzNjg1NDc3NTgwOA", None, "cursor"),  # c1:2**63
    case("GET", f"{C}?cursor=" + "A" * 101, None, "cursor"),
    case("GET", f"{MSGS}?after_id=-1", None, "after_id"),
    case("GET", f"{MSGS}?after_id={BIG}", None, "after_id"),
    case("GET", f"{MSGS}?limit=0", None, "limit"),
    case("GET", f"{MSGS}?limit=501", None, "limit"),
    case("GET", "/customers?cursor=0", None, "cursor"),
    case("GET", "/customers?cursor=abc", None, "cursor"),
    case("GET", f"/customers?cursor={BIG}", None, "cursor"),
    case("GET", "/customers?limit=0", None, "limit"),
    case("GET", "/customers?limit=1000", None, "limit"),
    case("GET", "/customers?q=a%00b", None, "q", "NUL"),
    case("GET", "/customers?q=" + "q" * 201, None, "q"),
]


async def _ids(world: World) -> dict[str, str]:
    dana = await world.make_customer("Dana", email="dana@example.com")
    erin = await world.make_customer("Erin", email="erin@example.com")
    return {
        "customer": str(dana.id),
        "other": str(erin.id),
        "agent": str(world.bob.agent.id),
        "team": str(world.support.id),
    }


async def _counts(world: World) -> dict[str, int]:
    counts = {}
    async with world.db.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(await session.scalar(select(func.count()).select_from(table)))
    return counts


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, found in ids.items():
            if value == "{" + key + "}":
                return int(found)
            value = value.replace("{" + key + "}", found)
        return value
    if isinstance(value, dict):
        return {_fill(k, ids): _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def _send(
    client: httpx.AsyncClient, headers: dict[str, str], item: Case, ids: dict[str, str]
) -> httpx.Response:
    path = API + _fill(item.path, ids)
    if isinstance(item.body, bytes):
        return await client.request(
            item.method,
            path,
            content=item.body,
            headers={**headers, "Content-Type": "application/json"},
        )
    if item.body is None:
        return await client.request(item.method, path, headers=headers)
    return await client.request(item.method, path, json=_fill(item.body, ids), headers=headers)


def _check(response: httpx.Response, item: Case) -> None:
    assert response.status_code != 500, response.text
    assert response.status_code == item.status, response.text
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["details"], list)
    for word in item.words:
        assert word.lower() in error["message"].lower(), (word, error["message"])


async def _run(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests, cases: list[Case]
) -> None:
    # Alice is an admin, so every refusal below is about the input, never about rights.
    ids = await _ids(world)
    conversation = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": int(ids["customer"])}, "body": "hello"},
        headers=world.alice.headers,
    )
    assert conversation.status_code == 201
    ids["conversation"] = str(conversation.json()["id"])
    before = await _counts(world)
    for item in cases:
        with subtests.test(msg=item.label()):
            _check(await _send(client, world.alice.headers, item, ids), item)
    # No refusal left a row behind in any table, not even an audit entry.
    assert await _counts(world) == before


async def test_malformed_or_misshapen_json_is_refused_on_every_body_endpoint(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    cases = _json_shape_cases()
    assert len(cases) == 6 * len(BODY_ENDPOINTS)
    await _run(client, world, subtests, cases)


async def test_bad_ids_in_paths_are_refused_on_every_endpoint(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    await _run(client, world, subtests, _path_id_cases())


async def test_bad_fields_are_refused_with_a_message_naming_them(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    await _run(client, world, subtests, FIELD_CASES)


async def test_bad_query_parameters_are_refused(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    await _run(client, world, subtests, QUERY_CASES)


async def test_the_tables_cover_every_endpoint_in_the_schema(client: httpx.AsyncClient) -> None:
    # A new endpoint must be added to the tables above, so it gets the same scrutiny.
    schema = (await client.get("/api/openapi.json")).json()
    with_body, with_id = set(), set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not {"conversations", "customers", "agents"} & set(operation.get("tags", [])):
                continue
            short = path.removeprefix(API)
            if "requestBody" in operation:
                with_body.add((method.upper(), short))
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                with_id.add((method.upper(), short))

    def generic(path: str) -> str:
        for name in ("conversation", "customer", "agent", "team", "token"):
            path = path.replace("{" + name + "}", "{" + name + "_id}")
        return path

    assert with_body == {(m, generic(p)) for m, p, _ in BODY_ENDPOINTS}
    assert with_id == {(m, t.replace("{id}", "{" + n + "}")) for m, t, n, _ in PATH_ID_ENDPOINTS}


async def test_a_non_json_content_type_is_refused(client: httpx.AsyncClient, world: World) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await client.post(
            f"{API}/customers",
            content=b'{"name": "Erin"}',
            headers={**world.alice.headers, "Content-Type": content_type},
        )
        _check(response, case("POST", "/customers", None, "body"))
    not_utf8 = await client.post(
        f"{API}/customers",
        content='{"name": "Zoë"}'.encode("latin-1"),
        headers={**world.alice.headers, "Content-Type": "application/json"},
    )
    assert 400 <= not_utf8.status_code < 500, not_utf8.text
    assert "error" in not_utf8.json()
    deep = await client.patch(
        f"{API}/me",
        content=b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        headers={**world.alice.headers, "Content-Type": "application/json"},
    )
    assert 400 <= deep.status_code < 500, deep.text
    assert "body" in deep.json()["error"]["message"]
    async with world.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0


async def test_an_unknown_endpoint_or_method_gets_the_same_error_shape(
    client: httpx.AsyncClient, world: World
) -> None:
    missing = await client.get(f"{API}/nothing-here", headers=world.alice.headers)
    _check(missing, case("GET", "/nothing-here", None, "no such endpoint", status=404))
    wrong_method = await client.delete(f"{API}/conversations", headers=world.alice.headers)
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()["error"]) == {"code", "message", "details"}
