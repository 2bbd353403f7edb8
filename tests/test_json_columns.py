"""JSON columns are written by orjson (db/engine.json_text) and read by json.loads: what
goes in comes back, including integers past 64 bits (amounts in wei) and text in
any script."""

from __future__ import annotations

from ledgerdesk.conversations.models import Conversation
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database, json_text
from ledgerdesk.db.persist import insert_now
from ledgerdesk.db.uow import UnitOfWork

WEI = 12_345_678_901_234_567_890_123  # 12,345.678... ETH: past 64 bits


def test_json_text_matches_the_standard_library_where_orjson_cannot() -> None:
    assert json_text({"a": 1, "b": [True, None, 1.5], "名": "充值"}) == (
        '{"a":1,"b":[true,null,1.5],"名":"充值"}'
    )
    assert json_text({1: "one"}) == '{"1":"one"}'  # keys become strings, as json.dumps does
    assert json_text({"wei": WEI}) == '{"wei": 12345678901234567890123}'  # json.dumps's


async def test_values_come_back_exactly(db: Database) -> None:
    fields = {"amount_wei": WEI, "chain": "ethereum", "备注": "提现未到账", "tries": [1, 2]}
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        customer = await do_create_customer(uow, actor=None, name="Wu", email="wu@example.org")
        conversation = Conversation(
            channel="api", customer_id=customer.id, subject="Withdrawal", custom_fields=fields
        )
        await insert_now(uow.session, conversation)
        await uow.commit()
    async with db.session() as session:
        stored = await session.get(Conversation, conversation.id)
    assert stored is not None
    assert stored.custom_fields == fields
    assert type(stored.custom_fields["amount_wei"]) is int
