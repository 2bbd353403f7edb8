"""The pure parts of durable jobs: backoff, error masking, kinds, settings."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerdesk.jobs.backoff import retry_delay
from ledgerdesk.jobs.errors import MAX_ERROR_CHARS, describe_error, redact
from ledgerdesk.jobs.registry import check_kind, job_handler, periodic_job, unregister
from ledgerdesk.settings import SettingsError, load_settings


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0, max_value=3600),
    cap=st.floats(min_value=0, max_value=7 * 86400),
    seed=st.integers(),
)
def test_a_retry_waits_between_half_and_all_of_the_capped_doubling_delay(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    nominal = min(cap, base * 2.0 ** min(attempt - 1, 60))

    delay = retry_delay(attempt, base=base, cap=cap, rand=random.Random(seed))

    assert nominal / 2 <= delay <= nominal


def test_the_delay_doubles_with_each_attempt_until_the_cap() -> None:
    class Top(random.Random):
        def random(self) -> float:
            return 1.0

    delays = [retry_delay(n, base=10, cap=100, rand=Top()) for n in range(1, 7)]

    assert delays == [10, 20, 40, 80, 100, 100]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(0, base=1, cap=1)


@pytest.mark.parametrize(
    ("message", "secret", "kept"),
    [
        (
            "POST https://hooks:s3cr3t-pass@example.com/x failed",
            "s3cr3t-pass",
            "https://hooks:***@",
        ),
        ("401 with Authorization: Bearer abc.def-ghi", "abc.def-ghi", "Bearer ***"),
        ("GET /hook?token=tok_9f8e7d&x=1 timed out", "tok_9f8e7d", "token=***&x=1"),
        ('bad body {"api_key": "sk-live-123"}', "sk-live-123", '"api_key": "***"'),
        ("webhook_secret=whsec_abc rejected", "whsec_abc", "webhook_secret=***"),
        ("redis://:pa55@10.0.0.1:6379/0 refused", "pa55", "redis://:***@10.0.0.1"),
    ],
)
def test_a_stored_error_masks_credentials(message: str, secret: str, kept: str) -> None:
    masked = redact(message)

    assert secret not in masked
    assert kept in masked


def test_a_stored_error_is_one_short_line_naming_the_exception() -> None:
    error = describe_error(ValueError("first line\nsecond line " + "x" * 5000))

    assert error.startswith("ValueError: first line second line x")
    assert "\n" not in error
    assert len(error) == MAX_ERROR_CHARS
    assert describe_error(TimeoutError()) == "TimeoutError"


@pytest.mark.parametrize("kind", ["webhook.deliver", "sla.warn", "email:send-2", "a"])
def test_it_accepts_dotted_lower_case_kinds(kind: str) -> None:
    assert check_kind(kind) == kind


@pytest.mark.parametrize("kind", ["", "Webhook", "webhook..deliver", "a b", ".a", "x" * 101])
def test_it_refuses_malformed_kinds(kind: str) -> None:
    with pytest.raises(ValueError, match="job kind"):
        check_kind(kind)


def test_a_kind_cannot_get_a_second_handler() -> None:
    @job_handler("test.unit-once")
    async def first(ctx: object, payload: dict[str, object]) -> None:
        return None

    try:
        with pytest.raises(ValueError, match="already has a handler"):

            @job_handler("test.unit-once")
            async def second(ctx: object, payload: dict[str, object]) -> None:
                return None

    finally:
        unregister("test.unit-once")


def test_a_periodic_job_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        periodic_job("test.unit-never", every=0)


def test_the_redis_job_queue_needs_a_redis_url() -> None:
    with pytest.raises(SettingsError, match="LEDGERDESK_JOB_QUEUE=redis needs"):
        load_settings(environ={"LEDGERDESK_JOB_QUEUE": "redis"})


def test_job_modules_are_a_comma_separated_list_of_module_names() -> None:
    settings = load_settings(environ={"LEDGERDESK_JOB_MODULES": "tests.jobs_support, acme.tasks"})

    assert settings.job_modules == ("tests.jobs_support", "acme.tasks")
    with pytest.raises(SettingsError, match="LEDGERDESK_JOB_MODULES"):
        load_settings(environ={"LEDGERDESK_JOB_MODULES": "acme/tasks.py"})
