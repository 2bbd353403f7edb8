"""BIP-39 seed phrases: every wordlist language, odd separators, checksums, Chinese prose."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from ledgerdesk.safety.mnemonic import LANGUAGES, checksum_ok, find_mnemonics, wordlist


def phrase(language: str, words: int = 12, label: str = "") -> list[str]:
    """A checksum-valid phrase from fixed entropy, built by the reference library."""
    entropy = hashlib.sha256(f"{language}{words}{label}".encode()).digest()[: words * 4 // 3]
    return Mnemonic(language).to_mnemonic(entropy).split(Mnemonic(language).delimiter)


def only_finding(text: str) -> tuple[int, int, bool | None, str]:
    found = find_mnemonics(text)
    assert len(found) == 1, found
    f = found[0]
    return f.start, f.end, f.valid, f.detail["language"]


def test_the_package_ships_the_languages_we_cover() -> None:
    assert {"english", "chinese_simplified", "chinese_traditional", "japanese", "korean"} <= set(
        LANGUAGES
    )
    assert len(LANGUAGES) == len(Mnemonic.list_languages())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("length", [12, 24])
def test_it_finds_a_valid_phrase_in_every_wordlist_language(language: str, length: int) -> None:
    words = phrase(language, length)
    body = Mnemonic(language).delimiter.join(words)
    text = f"hello support, my wallet words are: {body} please help"
    start, end, valid, _ = only_finding(text)
    assert valid is True
    assert text[start:end] == body


@pytest.mark.parametrize("length", [12, 15, 18, 21, 24])
def test_it_finds_every_phrase_length(length: int) -> None:
    body = " ".join(phrase("english", length))
    start, end, valid, _ = only_finding(f"seed {body}")
    assert valid is True and end - start == len(body)


@pytest.mark.parametrize(
    "join",
    [
        lambda ws: ", ".join(ws),
        lambda ws: "\n".join(f"{i}. {w}" for i, w in enumerate(ws, 1)),
        lambda ws: " ".join(f"({i}) {w}" for i, w in enumerate(ws, 1)),
        lambda ws: "\u3000".join(ws),
        lambda ws: " - ".join(ws),
        lambda ws: "\n".join(ws).upper(),
    ],
    ids=["commas", "numbered-lines", "parenthesised", "ideographic-space", "dashes", "upper"],
)
def test_it_reads_phrases_through_odd_separators(join: object) -> None:
    words = phrase("english", 12)
    text = "I copied it like this:\n" + join(words)  # type: ignore[operator]
    start, end, valid, _ = only_finding(text)
    assert valid is True
    assert text[start:end].lower().startswith(words[0])
    assert text[start:end].lower().endswith(words[-1])


def test_chinese_phrases_are_found_with_separators_between_characters() -> None:
    for join in (" ", "，", "、", "\u3000", "\n"):
        words = phrase("chinese_simplified", 12, join)
        text = "我的钱包：" + join.join(words)
        start, end, valid, language = only_finding(text)
        assert valid is True and language.startswith("chinese")
        assert text[start:end] == join.join(words)


def test_the_context_word_before_a_separated_chinese_phrase_is_never_part_of_it() -> None:
    """词 is a wordlist word: with a colon after 助记词 it could start a checksum-valid
    window of its own (about one phrase in ten), and the redaction ate "词：". Sixty-four
    fixed phrases hold several such cases."""
    for label in range(64):
        body = " ".join(phrase("chinese_simplified", 24, str(label)))
        text = f"这是我的助记词：{body}"
        start, end, valid, _ = only_finding(text)
        assert valid is True and text[start:end] == body, label


def test_an_unseparated_chinese_phrase_is_found_next_to_a_context_word() -> None:
    body = "".join(phrase("chinese_simplified", 12))
    for text in (f"我的助记词是{body}", f"助记词：{body}，请帮我看看", f"seed phrase: {body}"):
        start, end, valid, _ = only_finding(text)
        assert valid is True and text[start:end] == body


def test_an_unseparated_chinese_phrase_without_context_is_left_alone() -> None:
    body = "".join(phrase("chinese_simplified", 12))
    assert find_mnemonics(f"我的情况是{body}") == []


CHINESE_PROSE = [
    "您好，我昨天晚上在平台上提现了一笔钱，但是到现在还没有到账，请问是什么原因？",
    "我的账户被冻结了，客服说需要等待审核，我已经等了三天了，能不能帮我加快一下处理进度。",
    "请问充值到账一般需要多长时间？我用的是波场网络，交易已经确认了，但是余额没有变化。",
    "你们的手续费太高了，我想知道有没有办法降低一些，另外我想了解一下会员等级的规则。",
    "我不小心把币转到了错误的地址，这个地址是我自己的另一个钱包，请问能不能找回来？",
    "谢谢你们的帮助，问题已经解决了，我对你们的服务非常满意，以后还会继续使用这个平台。",
]


def test_ordinary_chinese_prose_raises_no_alarm() -> None:
    for text in CHINESE_PROSE:
        assert find_mnemonics(text) == []
    # Even when it talks about seed phrases.
    assert find_mnemonics("我的助记词好像被别人看到了，我现在应该怎么办，要不要把资产转走？") == []
    assert find_mnemonics("".join(CHINESE_PROSE)) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(wordlist("chinese_simplified")), min_size=12, max_size=80))
def test_runs_of_wordlist_characters_without_separators_never_alarm(chars: list[str]) -> None:
    assert find_mnemonics("".join(chars)) == []


def test_a_phrase_with_a_bad_checksum_is_still_removed_as_probable() -> None:
    words = phrase("english", 12)
    english = wordlist("english")
    for replacement in english:
        broken = [*words[:-1], replacement]
        if not Mnemonic("english").check(" ".join(broken)):
            break
    text = "my words " + " ".join(broken)
    found = find_mnemonics(text)
    assert len(found) == 1
    assert found[0].valid is False and found[0].reason == "checksum_failed"
    assert text[found[0].start : found[0].end] == " ".join(broken)


def test_a_phrase_with_a_mistyped_word_is_still_removed() -> None:
    words = phrase("english", 12)
    words[5] = "zzqx" + words[5]  # not a word in any list
    found = find_mnemonics(" ".join(words))
    assert len(found) == 1 and found[0].valid is False


def test_shortened_words_and_missing_accents_still_count() -> None:
    short = [w[:4] for w in phrase("english", 12)]
    assert only_finding(" ".join(short))[2] is True
    spanish = phrase("spanish", 12)
    bare = [Mnemonic.normalize_string(w).encode("ascii", "ignore").decode() for w in spanish]
    assert only_finding(" ".join(bare))[2] is True


def test_eleven_words_are_not_a_phrase() -> None:
    assert find_mnemonics(" ".join(phrase("english", 12)[:11])) == []


def test_english_prose_raises_no_alarm() -> None:
    texts = [
        "Hello, I withdrew some USDT yesterday to my wallet but it has not arrived yet. "
        "Could you please check what is going on with the transfer? Thanks a lot.",
        "I want to close my account and move all my funds to a new wallet before the end "
        "of the month, what is the process and how long will it take?",
        "Never share your seed phrase or private key with anyone, including our support team.",
    ]
    for text in texts:
        assert find_mnemonics(text) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=32).filter(lambda b: len(b) % 4 == 0))
def test_our_checksum_agrees_with_the_reference_library(entropy: bytes) -> None:
    words = Mnemonic("english").to_mnemonic(entropy).split()
    english = wordlist("english")
    indices = [english.index(w) for w in words]
    assert checksum_ok(indices)
    flipped = [*indices[:-1], indices[-1] ^ 1]
    flipped_words = " ".join(english[i] for i in flipped)
    assert checksum_ok(flipped) == Mnemonic("english").check(flipped_words)


def test_a_chinese_phrase_with_a_bad_checksum_needs_numbering_or_context() -> None:
    words = phrase("chinese_simplified", 12, "bad")
    chinese = wordlist("chinese_simplified")
    broken = next(
        [*words[:-1], w]
        for w in chinese
        if not Mnemonic("chinese_simplified").check(" ".join([*words[:-1], w]))
    )
    # Segmented prose looks like this too: no alarm without more evidence.
    assert find_mnemonics("看 " + " ".join(broken)) == []
    for text in (
        "助记词 " + " ".join(broken),
        "\n".join(f"{i}. {w}" for i, w in enumerate(broken, 1)),
    ):
        (found,) = find_mnemonics(text)
        assert found.valid is False


@pytest.mark.parametrize(
    "text",
    [
        "Hola, ayer retiré mis fondos a mi billetera pero todavía no han llegado, por favor "
        "revisen qué pasa con la transferencia, gracias por la ayuda y saludos desde Madrid",
        "Bonjour, j'ai fait un retrait hier vers mon portefeuille mais les fonds ne sont "
        "toujours pas arrivés, pouvez-vous vérifier ce qui se passe avec le transfert, merci",
        "Olá, ontem fiz um saque para minha carteira mas ainda não chegou, por favor "
        "verifiquem o que aconteceu com a transferência, obrigado pela ajuda",
        "Ciao, ieri ho prelevato i miei fondi sul mio portafoglio ma non sono ancora arrivati, "
        "potete controllare cosa succede con il trasferimento, grazie mille",
        "Dobrý den, včera jsem vybral peníze do své peněženky, ale ještě nedorazily, můžete "
        "prosím zkontrolovat, co se děje s převodem, děkuji moc za pomoc",
        "안녕하세요 어제 지갑으로 출금했는데 아직 도착하지 않았습니다 확인 부탁드립니다 "
        "감사합니다 거래 해시는 아래와 같습니다 빠른 답변 부탁드립니다",
        "こんにちは、昨日ウォレットに出金しましたが、まだ届いていません。確認をお願いします。",
        "Merhaba, dün cüzdanıma para çektim ama hala gelmedi, lütfen transferde ne olduğunu "
        "kontrol edin, yardımınız için çok teşekkürler",
        "Здравствуйте, вчера я вывел средства на свой кошелек, но они до сих пор не пришли, "
        "пожалуйста проверьте что происходит с переводом, спасибо за помощь",
    ],
    ids=["es", "fr", "pt", "it", "cs", "ko", "ja", "tr", "ru"],
)
def test_prose_in_the_other_wordlist_languages_raises_no_alarm(text: str) -> None:
    assert find_mnemonics(text) == []


def test_a_russian_phrase_with_the_packages_damaged_word_is_found() -> None:
    russian = Mnemonic("russian").wordlist
    damaged = next(w for w in russian if "\ufffd" in w)
    words = [*phrase("russian", 12)[:10], damaged]
    indices = [russian.index(w) for w in words]
    # The library's own check() cannot judge this list (it NFKD-normalises the phrase
    # but not the words), so the last word comes from the checksum computed here.
    last = next(i for i in range(2048) if checksum_ok([*indices, i]))
    body = " ".join([*words, russian[last]])
    start, end, valid, language = only_finding(f"мои слова: {body}")
    assert (valid, language) == (True, "russian") and end - start == len(body)
