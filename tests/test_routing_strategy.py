"""Routing decisions without a database: fairness, capacity and skills, as properties."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from ledgerdesk.routing.strategy import Candidate, Need, Strategy, choose, fits

LANGUAGES = ["en", "zh-Hans", "de"]


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    ids = draw(st.lists(st.integers(1, 500), min_size=1, max_size=12, unique=True))
    return [
        Candidate(
            agent_id=agent_id,
            load=draw(st.integers(0, 12)),
            capacity=draw(st.integers(1, 10)),
            online=draw(st.booleans()),
            languages=frozenset(draw(st.lists(st.sampled_from(LANGUAGES), max_size=2))),
            tiers=frozenset(draw(st.lists(st.sampled_from(["vip", "standard"]), max_size=1))),
        )
        for agent_id in ids
    ]


@given(st.integers(2, 9), st.integers(1, 200))
def test_round_robin_spreads_work_evenly(agents: int, conversations: int) -> None:
    pool = [Candidate(agent_id=i * 7, load=0, capacity=10_000) for i in range(1, agents + 1)]
    cursor = None
    given_to: Counter[int] = Counter()
    for _ in range(conversations):
        chosen = choose(Strategy.ROUND_ROBIN, pool, cursor=cursor)
        assert chosen is not None
        given_to[chosen] += 1
        cursor = chosen
    counts = [given_to[c.agent_id] for c in pool]
    assert max(counts) - min(counts) <= 1
    assert sum(counts) == conversations


@given(candidates(), st.sampled_from(list(Strategy)), st.integers(0, 600))
def test_only_an_available_agent_below_capacity_is_chosen(
    pool: list[Candidate], strategy: Strategy, cursor: int
) -> None:
    chosen = choose(strategy, pool, cursor=cursor)
    available = [c for c in pool if c.online and c.load < c.capacity]
    if strategy == Strategy.MANUAL or not available:
        assert chosen is None
    else:
        assert chosen in {c.agent_id for c in available}


@given(candidates(), st.integers(1, 60))
def test_least_loaded_never_fills_anyone_past_capacity(pool: list[Candidate], n: int) -> None:
    loads = {c.agent_id: c.load for c in pool}
    for _ in range(n):
        current = [Candidate(c.agent_id, loads[c.agent_id], c.capacity, c.online) for c in pool]
        chosen = choose(Strategy.LEAST_LOADED, current)
        if chosen is None:
            assert all(not c.available for c in current)
            break
        before = {c.agent_id: c for c in current}[chosen]
        # The lowest share of capacity in use among the available ones.
        assert all(
            before.load / before.capacity <= c.load / c.capacity for c in current if c.available
        )
        loads[chosen] += 1
        assert loads[chosen] <= before.capacity


@given(
    candidates(),
    st.sampled_from([*LANGUAGES, None]),
    st.sampled_from(["vip", "standard", None]),
    st.sampled_from(list(Strategy)[1:]),
)
def test_with_skills_the_chosen_agent_fits_and_a_fitting_one_is_found(
    pool: list[Candidate], language: str | None, tier: str | None, strategy: Strategy
) -> None:
    need = Need(language=language, tier=tier)
    chosen = choose(strategy, pool, need=need)
    fitting = [c for c in pool if c.available and fits(c, need)]
    if not fitting:
        assert chosen is None
    else:
        assert chosen in {c.agent_id for c in fitting}


def test_language_skills_match_by_primary_language() -> None:
    speaker = Candidate(1, 0, 5, languages=frozenset({"zh-Hans"}))
    assert fits(speaker, Need(language="zh-Hans"))
    assert fits(speaker, Need(language="zh"))
    assert not fits(speaker, Need(language="en"))
    assert fits(Candidate(2, 0, 5), Need(language="de", tier="vip", category="kyc"))
    kyc = Candidate(3, 0, 5, categories=frozenset({"KYC"}))
    assert fits(kyc, Need(category="kyc")) and not fits(kyc, Need(category="deposit"))
