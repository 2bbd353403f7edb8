"""The demo desk's automation (demo.py calls ``seed_automation_demo`` at the end):
two bilingual macros, a VIP-withdrawal rule, a keyword rule for hacked accounts,
and round-robin routing on the support teams."""

from __future__ import annotations

from ledgerdesk.automation.actions import do_save_rule
from ledgerdesk.automation.schemas import RuleIn
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.macros.actions import do_save_macro
from ledgerdesk.macros.schemas import MacroIn
from ledgerdesk.routing.models import TeamRouting

WITHDRAWAL_WORDS = ["withdrawal", "withdraw", "提现", "提币"]
HACKED_WORDS = ["hacked", "stolen", "unauthorized", "被盗", "盗号"]


async def seed_automation_demo(
    uow: UnitOfWork, *, support_team_ids: list[int], vip_team_id: int, security_team_id: int
) -> None:
    delay = await do_save_macro(
        uow,
        actor=None,
        data=MacroIn(
            name="Withdrawal delay",
            bodies={
                "en": (
                    'Hi {{ customer.first_name | "there" }}, thanks for your patience. '
                    "We are checking withdrawal {{ conversation.number }} with our payments "
                    "team and will update you within the hour. "
                    '— {{ agent.name | "Harbor Support" }}'
                ),
                "zh-Hans": (
                    '{{ customer.name | "您" }}您好，感谢耐心等待。我们正在与支付团队核实提现'
                    "（{{ conversation.number }}），一小时内给您答复。"
                    '——{{ agent.name | "Harbor 客服" }}'
                ),
            },
        ),
    )
    safety = await do_save_macro(
        uow,
        actor=None,
        data=MacroIn(
            name="Account security first steps",
            bodies={
                "en": (
                    "We have moved {{ conversation.number }} to our security team. Please change "
                    "your password now and never share your seed phrase or 2FA codes: Harbor "
                    "staff will never ask for them."
                ),
                "zh-Hans": (
                    "我们已将 {{ conversation.number }} 转交安全团队。请立即修改密码，切勿向任何人"
                    "提供助记词或两步验证码：Harbor 工作人员绝不会索要。"
                ),
            },
        ),
    )
    for trigger in ("conversation.created", "message.received"):
        await do_save_rule(
            uow,
            actor=None,
            data=RuleIn(
                name=f"VIP withdrawal → urgent + VIP desk ({trigger})",
                trigger=trigger,
                conditions=[
                    {"field": "tier", "op": "is", "value": "vip"},
                    {"field": "text", "op": "contains_any", "value": WITHDRAWAL_WORDS},
                ],
                actions=[
                    {"type": "escalate", "team_id": vip_team_id, "priority": "urgent"},
                    {"type": "add_tags", "tags": ["vip-withdrawal"]},
                ],
            ),
        )
    await do_save_rule(
        uow,
        actor=None,
        data=RuleIn(
            name="Hacked account → Security",
            trigger="message.received",
            conditions=[{"field": "text", "op": "contains_any", "value": HACKED_WORDS}],
            actions=[
                {"type": "escalate", "team_id": security_team_id, "priority": "urgent"},
                {"type": "reply_macro", "macro_id": safety.id},
                {"type": "add_tags", "tags": ["account-security"]},
            ],
        ),
    )
    await do_save_rule(
        uow,
        actor=None,
        data=RuleIn(
            name="Withdrawal question → tag and note",
            trigger="conversation.created",
            enabled=False,  # an example to switch on in /admin/automation
            conditions=[{"field": "text", "op": "contains_any", "value": WITHDRAWAL_WORDS}],
            actions=[
                {"type": "add_tags", "tags": ["withdrawal"]},
                {"type": "add_note", "body": f"Macro #{delay.id} “Withdrawal delay” fits here."},
            ],
        ),
    )
    for team_id in support_team_ids:
        uow.session.add(
            TeamRouting(team_id=team_id, strategy="round_robin", offline_handoff="queue")
        )
    uow.session.add(
        TeamRouting(team_id=vip_team_id, strategy="least_loaded", offline_handoff="reassign")
    )
    uow.session.add(TeamRouting(team_id=security_team_id, strategy="round_robin"))
