"""Optional LLM: a grounded answer written from the retrieved passages, with citations.

One interface (:class:`LLMProvider`) and one implementation speaking the OpenAI
chat-completions protocol, which Ollama, vLLM, the llama.cpp server and hosted
APIs all serve. The model sees numbered passages and must cite them as [1], [2];
an answer that cites nothing, cites a passage it was not given, or fails in any
way is thrown away and the assistant keeps its extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)
_CITATION = re.compile(r"\[(\d{1,2})\]")
MAX_ANSWER_CHARS = 4000

SYSTEM_PROMPT = (
    "You are the support assistant of a cryptocurrency platform. Answer the customer's "
    "question using ONLY the numbered help-center passages below. Cite every statement "
    "with the number of its passage in square brackets, like [1] or [2]. If the passages "
    "do not answer the question, reply exactly NO_ANSWER. Never ask for passwords, 2FA "
    "codes, private keys or seed phrases. Reply in the language whose code is given."
)


@dataclass(frozen=True, slots=True)
class Grounding:
    """One numbered passage the model may cite."""

    title: str
    text: str
    url: str


class LLMProvider(Protocol):
    async def grounded_answer(
        self, question: str, passages: Sequence[Grounding], locale: str
    ) -> str | None:
        """A cited answer, or None when there is none worth showing."""


def build_messages(
    question: str, passages: Sequence[Grounding], locale: str
) -> list[dict[str, str]]:
    numbered = "\n\n".join(
        f"[{i}] {p.title} ({p.url})\n{p.text}" for i, p in enumerate(passages, start=1)
    )
    return [
        {"role": "system", "content": f"{SYSTEM_PROMPT}\n\nLanguage: {locale}\n\n{numbered}"},
        {"role": "user", "content": question},
    ]


def checked_answer(text: str, passage_count: int) -> str | None:
    """The answer if it cites only given passages and at least one; else None."""
    text = text.strip()
    if not text or "NO_ANSWER" in text or len(text) > MAX_ANSWER_CHARS:
        return None
    cited = {int(number) for number in _CITATION.findall(text)}
    if not cited or any(number < 1 or number > passage_count for number in cited):
        return None
    return text


class OpenAICompatibleLLM:
    """``POST {base_url}/chat/completions`` with a bearer key, temperature 0."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleLLM | None:
        if not settings.assistant_llm_base_url or not settings.assistant_llm_model:
            return None
        key = settings.assistant_llm_api_key
        return cls(
            settings.assistant_llm_base_url,
            settings.assistant_llm_model,
            key.get_secret_value() if key is not None else None,
            settings.assistant_llm_timeout_seconds,
        )

    async def complete(self, messages: list[dict[str, str]]) -> str:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": 600,
        }
        async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
            response = await client.post(self.url, json=payload, headers=headers)
            response.raise_for_status()
            body = response.json()
        content = body["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise ValueError("the model's reply has no text content")
        return content

    async def grounded_answer(
        self, question: str, passages: Sequence[Grounding], locale: str
    ) -> str | None:
        if not passages:
            return None
        try:
            text = await self.complete(build_messages(question, passages, locale))
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            # The key is in a header, never in the message: safe to log the error type and URL.
            log.warning("LLM at %s failed (%s); using the extractive answer", self.url, type(exc))
            return None
        answer = checked_answer(text, len(passages))
        if answer is None:
            log.info("LLM answer discarded: no valid citation; using the extractive answer")
        return answer
