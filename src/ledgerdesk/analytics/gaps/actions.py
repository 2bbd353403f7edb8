"""Turning a group of unanswered questions into a draft help-center article."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import update

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.analytics.gaps.cluster import describe_raw
from ledgerdesk.analytics.gaps.models import GapQuestion
from ledgerdesk.analytics.gaps.queries import (
    MAX_QUESTIONS,
    access_gaps,
    questions_by_id,
    vectors_of,
)
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, NotFound
from ledgerdesk.knowledge.actions import do_create_article
from ledgerdesk.knowledge.models import DRAFT, Article
from ledgerdesk.knowledge.queries import find_article

# Drafts wait here until an editor files them under their real category.
CATEGORY = "help-center-gaps"
MAX_LISTED = 20

_BODY = {
    "en": (
        "> Draft started from the help-center gaps: {count} customer questions "
        "the help center did not answer ({first} to {last}). Write the answer, choose "
        "the category, then publish.\n\n## What customers asked\n\n{questions}\n\n"
        "## Answer\n\nTo be written.\n"
    ),
    "zh": (
        "> 本草稿来自帮助中心缺口列表：帮助中心未能回答的 {count} 个客户问题"
        "（{first} 至 {last}）。请撰写答案、选择分类，然后发布。\n\n## 客户的问题\n\n"
        "{questions}\n\n## 答案\n\n待撰写。\n"
    ),
}


def slug_for(title: str, first_id: int) -> str:
    """``gap-<id>-<words of the title>``: ASCII words only (a Chinese title gives none)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())[:8]
    slug = "-".join(["gap", str(first_id), *words])[:80]
    return slug.rstrip("-")


def parse_question_ids(raw: str | Sequence[int]) -> list[int]:
    """Question ids from a form ("3,5,8") or a JSON list; 422 when they are not ids."""
    if isinstance(raw, str):
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not all(part.isdigit() and len(part) <= 18 for part in parts):
            raise InvalidInput("question_ids must be question ids separated by commas")
        ids = [int(part) for part in parts]
    else:
        ids = list(raw)
    ids = sorted(set(ids))
    if not ids:
        raise InvalidInput("question_ids is empty: choose a group of questions")
    if len(ids) > MAX_QUESTIONS:
        raise InvalidInput(f"a draft is made from at most {MAX_QUESTIONS} questions")
    if any(i < 1 or i > 2**63 - 1 for i in ids):
        raise InvalidInput("question ids are positive integers")
    return ids


async def do_create_gap_draft(
    uow: UnitOfWork, *, actor: Principal, question_ids: Sequence[int]
) -> Article:
    """A draft article for these questions: the group's suggested title, its main
    language, the questions listed as a starting point. Never published here."""
    access_gaps(actor)
    ids = parse_question_ids(question_ids)
    rows = await questions_by_id(uow.session, ids)
    missing = sorted(set(ids) - {row.id for row in rows})
    if missing:
        shown = ", ".join(str(i) for i in missing[:5])
        raise NotFound(f"no help-center gap question with id {shown}")
    existing = sorted({row.draft_article_id for row in rows if row.draft_article_id})
    if existing:
        raise Conflict(
            f"a draft article was already made from these questions (article {existing[0]})"
        )
    items, vectors = vectors_of(rows)
    if not items:
        raise Conflict("these questions are not analysed yet; try again in a minute")
    group = describe_raw(items, vectors)
    slug = slug_for(group.title, ids[0])
    if await find_article(uow.session, slug, group.locale) is not None:
        raise Conflict(f"an article {slug!r} already exists in {group.locale}")
    language = "zh" if group.locale.startswith("zh") else "en"
    listed = [f"- {item.text}" for item in group.items[:MAX_LISTED]]
    if group.count > MAX_LISTED:
        listed.append(f"- … (+{group.count - MAX_LISTED})")
    body = _BODY[language].format(
        count=group.count,
        first=group.first_at.date().isoformat(),
        last=group.last_at.date().isoformat(),
        questions="\n".join(listed),
    )
    article = await do_create_article(
        uow,
        actor=actor,
        slug=slug,
        locale=group.locale,
        title=group.title,
        body=body,
        category=CATEGORY,
        tags=["help-center-gap"],
        status=DRAFT,
    )
    await uow.session.execute(
        update(GapQuestion).where(GapQuestion.id.in_(ids)).values(draft_article_id=article.id)
    )
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="analytics.gap_draft_created",
        object_type="kb_article",
        object_id=article.id,
        detail={
            "questions": len(ids),
            "first_question_id": ids[0],
            "locale": group.locale,
            "title": group.title,
        },
        ip=actor.ip,
    )
    return article
