"""The optional LLM path, against a local server speaking the OpenAI chat-completions protocol.

``tests/fake_openai.py`` stands in for OpenAI, Ollama, vLLM or llama.cpp (none can
run here): a real HTTP server on a free port, so the client's request, headers,
timeouts and error handling are exercised for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerdesk.assistant.answer import Assistant, Thresholds
from ledgerdesk.assistant.llm import Grounding, OpenAICompatibleLLM, checked_answer
from ledgerdesk.settings import load_settings
from tests.assistant_fixtures import lexical_index
from tests.fake_openai import FakeOpenAI, fake_openai_server

QUESTION = "forgot the memo for my XRP deposit"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai_server() as server:
        yield server


def _assistant(fake: FakeOpenAI, timeout: float = 10.0) -> Assistant:
    llm = OpenAICompatibleLLM(fake.url, "test-model", api_key="sk-test-key", timeout=timeout)
    return Assistant(lexical_index(), Thresholds(0.3, 0.0, 0.2), llm)


async def test_the_llm_writes_a_grounded_answer_citing_the_passages(fake: FakeOpenAI) -> None:
    assistant = _assistant(fake)
    extractive = assistant.answer(QUESTION)
    result = await assistant.improve_with_llm(QUESTION, extractive)
    assert result.generated
    assert not result.handoff
    assert "[1]" in result.answer
    assert "/help/en/a/missing-memo-tag" in result.answer  # the reference list
    assert result.sources == extractive.sources

    request = fake.requests[0]
    assert request["model"] == "test-model"
    assert request["temperature"] == 0
    system, user = request["messages"]
    assert user == {"role": "user", "content": QUESTION}
    assert "ONLY the numbered help-center passages" in system["content"]
    assert "[1] I forgot the memo or tag on my deposit" in system["content"]
    assert fake.headers[0]["authorization"] == "Bearer sk-test-key"


@pytest.mark.parametrize(
    "reply",
    ["Send the memo next time.", "See [7] for details.", "NO_ANSWER", ""],
)
async def test_an_answer_without_valid_citations_falls_back_to_the_extract(
    fake: FakeOpenAI, reply: str
) -> None:
    fake.reply = lambda _body: reply
    assistant = _assistant(fake)
    extractive = assistant.answer(QUESTION)
    result = await assistant.improve_with_llm(QUESTION, extractive)
    assert result == extractive
    assert not result.generated
    assert len(fake.requests) == 1


async def test_a_failing_server_falls_back_to_the_extract(fake: FakeOpenAI) -> None:
    fake.status = 500
    assistant = _assistant(fake)
    extractive = assistant.answer(QUESTION)
    assert await assistant.improve_with_llm(QUESTION, extractive) == extractive


async def test_a_slow_server_times_out_and_falls_back(fake: FakeOpenAI) -> None:
    fake.delay = 1.0
    assistant = _assistant(fake, timeout=0.2)
    extractive = assistant.answer(QUESTION)
    assert await assistant.improve_with_llm(QUESTION, extractive) == extractive


async def test_an_unreachable_server_falls_back(tmp_path: Path) -> None:
    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", timeout=1.0)
    assistant = Assistant(lexical_index(), Thresholds(0.3, 0.0, 0.2), llm)
    extractive = assistant.answer(QUESTION)
    assert await assistant.improve_with_llm(QUESTION, extractive) == extractive


async def test_a_hand_off_is_never_sent_to_the_llm(fake: FakeOpenAI) -> None:
    assistant = _assistant(fake)
    extractive = assistant.answer("my account was hacked")
    assert (await assistant.improve_with_llm("my account was hacked", extractive)).handoff
    assert fake.requests == []


def test_citations_must_point_at_given_passages() -> None:
    assert checked_answer("Use the memo [1][2].", 2) == "Use the memo [1][2]."
    assert checked_answer("Use the memo [3].", 2) is None
    assert checked_answer("Use the memo.", 2) is None
    assert checked_answer("[0] nothing", 2) is None


def test_no_llm_is_configured_by_default_and_the_key_may_come_from_a_file(
    tmp_path: Path,
) -> None:
    assert OpenAICompatibleLLM.from_settings(load_settings(environ={}, data_dir=tmp_path)) is None
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    settings = load_settings(
        environ={
            "LEDGERDESK_ASSISTANT_LLM_BASE_URL": "http://127.0.0.1:11434/v1",
            "LEDGERDESK_ASSISTANT_LLM_MODEL": "qwen2.5",
            "LEDGERDESK_ASSISTANT_LLM_API_KEY_FILE": str(key_file),
        },
        data_dir=tmp_path,
    )
    llm = OpenAICompatibleLLM.from_settings(settings)
    assert llm is not None
    assert llm.url == "http://127.0.0.1:11434/v1/chat/completions"
    assert "sk-from-file" not in repr(settings)
    assert Grounding("t", "x", "/help/en/a/t").url == "/help/en/a/t"
