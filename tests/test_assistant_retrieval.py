"""BM25, typo tolerance, fusion and the hybrid index over the fixture help center."""

from __future__ import annotations

import numpy as np

from ledgerdesk.assistant.index import FusionParams, HybridIndex, rrf
from ledgerdesk.assistant.lexical import BM25
from tests.assistant_fixtures import dense_index, fixture_docs, lexical_index


def test_bm25_ranks_the_document_with_the_rare_word_first() -> None:
    docs = [["deposit", "network"], ["deposit", "memotag", "xrp"], ["deposit", "fee"]]
    index = BM25(docs)
    scores = index.scores(["deposit", "memotag"])
    assert int(np.argmax(scores)) == 1
    # A word in every document says little: it weighs less than a rare one.
    assert index.idf["deposit"] < index.idf["memotag"]


def test_bm25_prefers_the_shorter_document_for_the_same_matches() -> None:
    index = BM25([["staking", "reward"] + ["filler"] * 30, ["staking", "reward"]])
    scores = index.scores(["staking"])
    assert scores[1] > scores[0]


def test_an_unknown_word_is_corrected_to_the_nearest_index_word() -> None:
    index = BM25([["withdraw", "confirmation"], ["staking"]])
    assert index.correct("confirmaton") == "confirmation"
    assert index.correct("confirmmation") == "confirmation"
    assert index.correct("cnofirmation") == "confirmation"
    assert index.correct("banana") is None
    assert index.resolve(["stakign", "zzz"]) == ["staking"]


def test_reciprocal_rank_fusion_rewards_agreement_between_rankings() -> None:
    fused = rrf([[1, 2, 3], [2, 1, 4]], k=60)
    assert fused[1] == fused[2] > fused[3] == fused[4]
    assert rrf([[7]], k=0)[7] == 1.0


def test_lexical_search_finds_articles_in_both_languages() -> None:
    index = lexical_index()
    hits = index.search(index.query("forgot the memo on my XRP deposit"))
    assert hits[0].doc.slug == "missing-memo-tag"
    hits = index.search(index.query("提现手续费"))
    assert hits[0].doc.slug == "withdrawal-fees"
    # One entry per subject, whatever the number of languages it is written in.
    assert len({hit.doc.slug for hit in hits}) == len(hits)


def test_hybrid_search_finds_a_paraphrase_without_shared_words() -> None:
    index = dense_index()
    hits = index.search(index.query("my phone with the code app is broken, cannot log in"))
    assert hits[0].doc.slug == "reset-2fa"
    assert 0.0 <= hits[0].score <= 1.0


def test_a_chinese_question_finds_the_article_that_exists_only_in_english() -> None:
    index = dense_index()
    hits = index.search(index.query("质押收益什么时候发放"))
    assert hits[0].doc.slug == "staking-rewards"
    assert hits[0].doc.locale == "en"


def test_weighted_fusion_moves_with_the_dense_weight() -> None:
    base = dense_index()
    lexical_only = HybridIndex(
        base.docs, base.passages, [base.vectors_of(i) for i in range(len(base.docs))],  # type: ignore[misc]
        base.embedder, FusionParams(dense_weight=0.0),
    )  # fmt: skip
    dense_only = HybridIndex(
        base.docs, base.passages, [base.vectors_of(i) for i in range(len(base.docs))],  # type: ignore[misc]
        base.embedder, FusionParams(dense_weight=1.0),
    )  # fmt: skip
    question = "when do I get paid for staking"
    lexical_hit = lexical_only.search(lexical_only.query(question))[0]
    dense_hit = dense_only.search(dense_only.query(question))[0]
    assert lexical_hit.score == lexical_hit.lexical
    band = FusionParams()
    expected = (dense_hit.dense - band.dense_floor) / (band.dense_ceiling - band.dense_floor)
    assert abs(dense_hit.score - min(1.0, max(0.0, expected))) < 1e-5


def test_rrf_fusion_ranks_by_both_lists() -> None:
    base = dense_index()
    index = HybridIndex(
        base.docs, base.passages, [base.vectors_of(i) for i in range(len(base.docs))],  # type: ignore[misc]
        base.embedder, FusionParams(method="rrf"),
    )  # fmt: skip
    hits = index.search(index.query("lost my google authenticator"))
    assert hits[0].doc.slug == "reset-2fa"


def test_stored_vectors_are_used_instead_of_computing_them() -> None:
    class Counting:
        name = "counting"
        calls = 0

        def passages(self, texts: object) -> np.ndarray:  # type: ignore[type-arg]
            Counting.calls += 1
            raise AssertionError("must not embed what is stored")

        def query(self, text: str) -> np.ndarray:  # type: ignore[type-arg]
            return dense_index().embedder.query(text)  # type: ignore[union-attr]

    base = dense_index()
    stored = {(doc.slug, doc.locale): base.vectors_of(i) for i, doc in enumerate(base.docs)}
    index = HybridIndex.build(fixture_docs(), Counting(), stored)  # type: ignore[arg-type]
    assert Counting.calls == 0
    assert index.search(index.query("staking rewards"))[0].doc.slug == "staking-rewards"


def test_the_best_passage_is_the_section_that_matches() -> None:
    index = dense_index()
    query = index.query("how many confirmations does my deposit need")
    doc_index = index.versions("deposit-not-credited")["en"]
    assert index.best_passage(doc_index, query).heading == "Check the confirmations"
