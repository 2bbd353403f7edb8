"""What one process holds for the assistant: the cached index, its rate limiter, the LLM.

The index is built on first use from the published articles (stored vectors
where current, computed otherwise) and rebuilt on the next question after a
"knowledge.article_changed" event. While a rebuild runs, questions are answered
from the previous index rather than waiting.

Articles whose vectors are not stored yet are indexed by their words at once and
embedded in the background (stored, like the ``assistant.embed_article`` job
does); the index is rebuilt with their vectors when that is done. A fresh install
answers its first question in a second instead of after minutes of embedding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.ratelimit import RateLimits
from ledgerdesk.assistant.answer import Assistant, AssistantAnswer, build_assistant
from ledgerdesk.assistant.llm import LLMProvider, OpenAICompatibleLLM
from ledgerdesk.assistant.store import load_published
from ledgerdesk.assistant.tasks import VECTORS_STORED, embed_article
from ledgerdesk.assistant.text import warm_up
from ledgerdesk.db.engine import Database
from ledgerdesk.errors import RateLimited
from ledgerdesk.events.bus import Event
from ledgerdesk.monitoring.metrics import observe_assistant_answer
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)
KNOWLEDGE_TOPIC = "knowledge"
ARTICLE_CHANGED = "knowledge.article_changed"


class AssistantRuntime:
    def __init__(
        self,
        settings: Settings,
        llm: LLMProvider | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        self.settings = settings
        self.llm = llm if llm is not None else OpenAICompatibleLLM.from_settings(settings)
        self.limiter = (limits or RateLimits()).limiter(
            "assistant", settings.assistant_answers_per_minute, 60.0
        )
        self._assistant: Assistant | None = None
        self._stale = True
        self._lock = asyncio.Lock()
        self._embedding: asyncio.Task[None] | None = None

    def on_event(self, event: Event) -> None:
        """Bus listener: an article change, or its new vectors, make the index stale."""
        if event.kind in (ARTICLE_CHANGED, VECTORS_STORED):
            self._stale = True

    async def assistant(self, db: Database) -> Assistant:
        current = self._assistant
        if current is not None and (not self._stale or self._lock.locked()):
            return current
        async with self._lock:
            if self._assistant is not None and not self._stale:
                return self._assistant
            # Cleared before loading: a change announced during the build marks it stale again.
            self._stale = False
            missing: list[int] = []
            async with db.sessionmaker() as session:
                docs, vectors = await load_published(session, missing)
            await asyncio.to_thread(warm_up)
            self._assistant = await asyncio.to_thread(
                build_assistant, docs, self.settings, vectors, self.llm, False
            )
            if missing and self.settings.assistant_dense and self._embedding is None:
                self._embedding = asyncio.create_task(self._embed(db, missing))
            log.info("assistant index built: %d articles", len(docs))
            return self._assistant

    async def _embed(self, db: Database, article_ids: list[int]) -> None:
        try:
            for article_id in article_ids:
                await embed_article(db, article_id)
        except Exception:
            log.exception("embedding articles for the assistant failed")
        finally:
            self._embedding = None
            self._stale = True

    async def close(self) -> None:
        """Stop a background embedding (on shutdown)."""
        task, self._embedding = self._embedding, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check_rate(self, principal: Principal) -> None:
        if principal.customer_id is not None:
            key = f"customer:{principal.customer_id}"
        else:
            key = f"agent:{principal.agent_id}"
        wait = await self.limiter.hit(key)
        if wait is not None:
            unit = "second" if wait == 1 else "seconds"
            raise RateLimited(
                f"too many questions in a short time; try again in {wait} {unit}",
                retry_after=wait,
            )

    async def answer(self, db: Database, question: str, locale: str | None) -> AssistantAnswer:
        started = time.perf_counter()
        assistant = await self.assistant(db)
        # Embedding the question is CPU work (tens of ms): off the event loop.
        extractive = await asyncio.to_thread(assistant.answer, question, locale)
        result = await assistant.improve_with_llm(question, extractive)
        observe_assistant_answer(started, handoff=result.handoff)  # for /metrics
        return result
