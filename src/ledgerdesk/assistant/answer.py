"""From a question to an answer: retrieve, decide whether a person must take over, compose.

The decision, in order:

1. a human-needed question (hacked account, reversal, bereavement, legal threat,
   a request for a person) is handed off whatever retrieval found;
2. a question about another platform's product (``scope.py``): out of scope;
3. nothing close enough (fused score below ``out_of_scope_below``): out of scope;
4. a best match below ``min_confidence``: low confidence;
5. the best two articles closer than ``min_margin``: ambiguous;
6. otherwise the best article answers, in the customer's language when it exists
   in it, else in the language it has, saying so.

Even a hand-off carries the sources found, for the agent who takes over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledgerdesk.assistant.dense import FloatArray
from ledgerdesk.assistant.handoff import HumanNeeded, needs_human
from ledgerdesk.assistant.index import Hit, HybridIndex, Query
from ledgerdesk.assistant.llm import Grounding, LLMProvider
from ledgerdesk.assistant.passages import Doc, Passage
from ledgerdesk.assistant.scope import other_platform
from ledgerdesk.assistant.text import detect_locale
from ledgerdesk.settings import Settings

MAX_QUOTE_CHARS = 900
MAX_SOURCES = 3

LOW_CONFIDENCE = "low_confidence"
AMBIGUOUS = "ambiguous"
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Thresholds:
    # Defaults chosen on eval/assistant_validation.jsonl (docs/assistant.md).
    min_confidence: float = 0.6
    min_margin: float = 0.0
    out_of_scope_below: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            min_confidence=settings.assistant_min_confidence,
            min_margin=settings.assistant_min_margin,
            out_of_scope_below=settings.assistant_out_of_scope_below,
        )


@dataclass(frozen=True, slots=True)
class Source:
    slug: str
    locale: str
    title: str
    score: float

    @property
    def url(self) -> str:
        return article_url(self.locale, self.slug)


@dataclass(frozen=True, slots=True)
class AssistantAnswer:
    answer: str
    sources: list[Source]
    confidence: float
    handoff: bool
    reason: str | None
    locale: str  # the customer's language
    # The passages the answer quotes or the LLM may cite, best first.
    grounding: list[Grounding] = field(default_factory=list)
    generated: bool = False  # written by the LLM rather than quoted


@dataclass(frozen=True, slots=True)
class Decision:
    handoff: bool
    reason: str | None
    human: HumanNeeded | None


def article_url(locale: str, slug: str) -> str:
    return f"/help/{locale}/a/{slug}"


def language_of(locale: str) -> str:
    return locale.split("-")[0].lower()


def normalise_locale(locale: str | None, question: str) -> str:
    """The customer's language: the one given (zh, zh-CN → zh-Hans), else read from the text."""
    if not locale:
        return detect_locale(question)
    if language_of(locale) == "zh" and "hant" not in locale.lower():
        return "zh-Hans"
    return locale


def decide(hits: Sequence[Hit], question: str, thresholds: Thresholds) -> Decision:
    human = needs_human(question)
    if human is not None:
        return Decision(True, f"needs_human:{human.category}", human)
    if other_platform(question) is not None:
        return Decision(True, OUT_OF_SCOPE, None)
    confidence = hits[0].score if hits else 0.0
    if confidence < thresholds.out_of_scope_below:
        return Decision(True, OUT_OF_SCOPE, None)
    if confidence < thresholds.min_confidence:
        return Decision(True, LOW_CONFIDENCE, None)
    if len(hits) > 1 and confidence - hits[1].score < thresholds.min_margin:
        return Decision(True, AMBIGUOUS, None)
    return Decision(False, None, None)


_TEXTS = {
    "en": {
        "other_language": "This article is only available in {language}.",
        "read_more": "Full article: {title} — {url}",
        "handoff": "I'm passing your question to a member of our support team; "
        "they will reply here.",
        "urgent": "If you think someone else can get into your account, change your password "
        "now. We will never ask for your password, 2FA codes or seed phrase.",
        "maybe": "These articles may help while you wait:",
        "languages": {"en": "English", "zh": "Chinese"},
    },
    "zh": {
        "other_language": "这篇文章目前只有{language}版本。",
        "read_more": "完整文章：{title} — {url}",
        "handoff": "我已将您的问题转给人工客服，客服会在这里回复您。",
        "urgent": "如果您怀疑他人能登录您的账户，请立即修改密码。我们绝不会索要您的密码、"
        "二次验证码或助记词。",
        "maybe": "在等待期间，这些文章或许有帮助：",
        "languages": {"en": "英文", "zh": "中文"},
    },
}


def _texts(locale: str) -> Mapping[str, object]:
    return _TEXTS.get(language_of(locale), _TEXTS["en"])


def _text(locale: str, key: str) -> str:
    value = _texts(locale)[key]
    assert isinstance(value, str)
    return value


def _language_name(customer_locale: str, article_locale: str) -> str:
    names = _texts(customer_locale)["languages"]
    assert isinstance(names, dict)
    return str(names.get(language_of(article_locale), article_locale))


def _quote(passage: Passage) -> str:
    text = passage.text
    if len(text) > MAX_QUOTE_CHARS:
        cut = text[:MAX_QUOTE_CHARS]
        text = cut[: max(cut.rfind("\n"), cut.rfind(". "), MAX_QUOTE_CHARS // 2)].rstrip() + " …"
    return f"{passage.heading}\n{text}" if passage.heading else text


class Assistant:
    """Answers questions from one index; cheap to call, safe to share within a process."""

    def __init__(
        self,
        index: HybridIndex,
        thresholds: Thresholds | None = None,
        llm: LLMProvider | None = None,
    ) -> None:
        self.index = index
        self.thresholds = thresholds or Thresholds()
        self.llm = llm

    def version_for(self, hit: Hit, locale: str) -> int:
        """The doc index of the hit's article in the customer's language, if it has one."""
        versions = self.index.versions(hit.doc.slug)
        if locale in versions:
            return versions[locale]
        for version_locale, doc_index in versions.items():
            if language_of(version_locale) == language_of(locale):
                return doc_index
        return hit.doc_index

    def answer(self, question: str, locale: str | None = None) -> AssistantAnswer:
        """The extractive answer (no LLM): the relevant part of the best article."""
        customer_locale = normalise_locale(locale, question)
        query = self.index.query(question)
        hits = self.index.search(query, limit=max(MAX_SOURCES, 5))
        decision = decide(hits, question, self.thresholds)
        sources: list[Source] = []
        grounding: list[Grounding] = []
        chosen: list[tuple[Doc, Passage]] = []
        for hit in hits[:MAX_SOURCES]:
            doc_index = self.version_for(hit, customer_locale)
            doc = self.index.docs[doc_index]
            passage = self.index.best_passage(doc_index, query)
            sources.append(Source(doc.slug, doc.locale, doc.title, round(hit.score, 4)))
            grounding.append(Grounding(doc.title, passage.text, article_url(doc.locale, doc.slug)))
            chosen.append((doc, passage))
        confidence = round(hits[0].score, 4) if hits else 0.0
        if decision.handoff:
            text = self._handoff_text(customer_locale, decision, sources)
        else:
            text = self._answer_text(customer_locale, *chosen[0])
        return AssistantAnswer(
            answer=text,
            sources=sources,
            confidence=confidence,
            handoff=decision.handoff,
            reason=decision.reason,
            locale=customer_locale,
            grounding=grounding,
        )

    async def improve_with_llm(self, question: str, extractive: AssistantAnswer) -> AssistantAnswer:
        """The LLM's cited answer when one is configured and usable, else ``extractive``."""
        if self.llm is None or extractive.handoff or not extractive.grounding:
            return extractive
        written = await self.llm.grounded_answer(question, extractive.grounding, extractive.locale)
        if written is None:
            return extractive
        references = "\n".join(
            f"[{i}] {g.title} — {g.url}" for i, g in enumerate(extractive.grounding, start=1)
        )
        return AssistantAnswer(
            answer=f"{written}\n\n{references}",
            sources=extractive.sources,
            confidence=extractive.confidence,
            handoff=False,
            reason=None,
            locale=extractive.locale,
            grounding=extractive.grounding,
            generated=True,
        )

    def _answer_text(self, locale: str, doc: Doc, passage: Passage) -> str:
        parts: list[str] = []
        if language_of(doc.locale) != language_of(locale):
            language = _language_name(locale, doc.locale)
            parts.append(_text(locale, "other_language").format(language=language))
        parts.append(_quote(passage))
        read_more = _text(locale, "read_more")
        parts.append(read_more.format(title=doc.title, url=article_url(doc.locale, doc.slug)))
        return "\n\n".join(parts)

    def _handoff_text(self, locale: str, decision: Decision, sources: list[Source]) -> str:
        parts = [_text(locale, "handoff")]
        if decision.human is not None and decision.human.category == "account_compromised":
            parts.append(_text(locale, "urgent"))
        elif decision.human is None and decision.reason != OUT_OF_SCOPE and sources:
            lines = [f"- {source.title} — {source.url}" for source in sources[:2]]
            parts.append(_text(locale, "maybe") + "\n" + "\n".join(lines))
        return "\n\n".join(parts)


def build_assistant(
    docs: Sequence[Doc],
    settings: Settings,
    stored: Mapping[tuple[str, str], FloatArray] | None = None,
    llm: LLMProvider | None = None,
    embed_missing: bool = True,
) -> Assistant:
    """An assistant over ``docs`` configured from settings (fusion, dense on/off, thresholds)."""
    from ledgerdesk.assistant.dense import default_embedder
    from ledgerdesk.assistant.index import FusionParams

    fusion = FusionParams(
        method=settings.assistant_fusion,
        dense_weight=settings.assistant_dense_weight,
        dense_floor=settings.assistant_dense_floor,
        dense_ceiling=settings.assistant_dense_ceiling,
    )
    embedder = default_embedder() if settings.assistant_dense else None
    if embedder is not None:
        embedder.query_threads = settings.assistant_query_threads
    index = HybridIndex.build(docs, embedder, stored, fusion, embed_missing)
    return Assistant(index, Thresholds.from_settings(settings), llm)


__all__ = ["Assistant", "AssistantAnswer", "Query", "Source", "Thresholds", "build_assistant"]
