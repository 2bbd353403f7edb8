"""BIP-39 seed phrases in every wordlist the ``mnemonic`` package ships.

How a phrase is found:

1. Words are cut out of the text (letters of any script; each Han character is a word
   of its own) and looked up in one table built once from every wordlist. A word may
   also match by its first four letters (BIP-39 words are unique by them in the Latin
   lists, and wallets accept the short form) or without accents (Spanish, French...).
2. A *run* is a sequence of words of one language separated only by separator
   characters (spaces, commas, newlines, numbering such as ``1.`` or ``(2)``,
   ideographic spaces). One unknown word may sit inside a run (a typo).
3. In a run, windows of 24, 21, 18, 15 and 12 words whose BIP-39 checksum holds are
   mnemonics (``valid=True``). What is left of a run, when 12 words or more in a row,
   is a *probable* mnemonic (``valid=False``, reason ``checksum_failed``): a phrase
   with a typo is still the customer's seed, and redacting twelve wordlist words
   that were not one costs far less than storing one that was.

Chinese needs care: nearly every common character is in the Chinese wordlists, so
ordinary prose is a long "run". Chinese words therefore count only when each is
separated from the next (``的 一 是`` or ``的，一，是``), which prose never is. A phrase
written without separators is caught only next to a context word (助记词, seed
phrase...) and only when the characters after it form exactly a checksum-valid phrase.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from mnemonic import Mnemonic

from ledgerdesk.safety import Finding

PHRASE_LENGTHS: Final = (24, 21, 18, 15, 12)
MIN_WORDS: Final = 12
LANGUAGES: Final = tuple(sorted(Mnemonic.list_languages()))
_CHINESE: Final = frozenset({"chinese_simplified", "chinese_traditional"})
# Languages whose words are unique by their first four letters and often shortened.
_PREFIX_LANGUAGES: Final = frozenset(
    {"english", "spanish", "french", "italian", "czech", "portuguese", "turkish"}
)

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A word: letters of any script except Han, plus combining marks (decomposed input)
# and U+FFFD: mnemonic 0.21's Russian list has one word, "сно\ufffd\ufffdа", whose "в" was
# lost to a bad encoding; a phrase that library generated must still be found.
_WORD_RE: Final = re.compile(rf"(?:[^\W\d_{_HAN}]|[\u0300-\u036f\u3099-\u309c\ufffd])+")
# What may stand between two words of a phrase.
_SEP_CHARS = r"\s\d.,;:!?、，；：。·•|/\\()\[\]（）【】「」『』<>\"'“”‘’`\-–—_*#+=~"
_GAP_RE: Final = re.compile(rf"[{_SEP_CHARS}]{{0,24}}")
# Twelve or more Han characters, each separated from the next.
_HAN_SEPARATED_RE: Final = re.compile(rf"[{_HAN}](?:[{_SEP_CHARS}]{{1,12}}[{_HAN}]){{11,}}")
_HAN_RUN_RE: Final = re.compile(rf"[{_HAN}]{{12,}}")
_CONTEXT_RE: Final = re.compile(
    r"助记词|助記詞|记忆词|恢复短语|恢復短語|种子短语|種子短語|种子词|钱包短语|备份短语|"
    r"seed\s*phrase|seed\s*words?|mnemonic|recovery\s*phrase|secret\s*phrase|backup\s*phrase",
    re.IGNORECASE,
)
# After a context word: "助记词是…", "助记词：…".
_CONTEXT_TAIL: Final = frozenset("是为為:：")


@dataclass(frozen=True, slots=True)
class _Entry:
    language: int
    index: int
    exact: bool


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _build_tables() -> tuple[dict[str, tuple[_Entry, ...]], list[list[str]]]:
    table: dict[str, list[_Entry]] = {}
    wordlists: list[list[str]] = []
    for lang_id, language in enumerate(LANGUAGES):
        words = [unicodedata.normalize("NFC", w).lower() for w in Mnemonic(language).wordlist]
        wordlists.append(words)
        forms: dict[str, tuple[int, bool]] = {}
        for index, word in enumerate(words):
            forms[word] = (index, True)
        for index, word in enumerate(words):
            bare = _strip_accents(word)
            if bare != word and bare not in forms:
                forms[bare] = (index, True)
        if language in _PREFIX_LANGUAGES:
            prefixes: dict[str, int | None] = {}
            for index, word in enumerate(words):
                for form in {word, _strip_accents(word)}:
                    if len(form) > 4:
                        key = form[:4]
                        prefixes[key] = index if prefixes.get(key, index) == index else None
            for key, maybe_index in prefixes.items():
                if maybe_index is not None and key not in forms:
                    forms["\0" + key] = (maybe_index, False)
        for form, (index, exact) in forms.items():
            table.setdefault(form, []).append(_Entry(lang_id, index, exact))
    return {k: tuple(v) for k, v in table.items()}, wordlists


_TABLE, _WORDLISTS = _build_tables()
_CHINESE_IDS: Final = frozenset(i for i, lang in enumerate(LANGUAGES) if lang in _CHINESE)


def _lookup(token: str) -> tuple[_Entry, ...]:
    word = token.lower()
    if not word.isascii():
        word = unicodedata.normalize("NFC", word)
    found = _TABLE.get(word)
    if found is not None:
        return found
    # A shortened or mistyped word: its first four letters, if unique in a language.
    if 4 <= len(word) <= 12:
        found = _TABLE.get("\0" + word[:4], ())
        if not found and not word.isascii():
            found = _TABLE.get("\0" + _strip_accents(word)[:4], ())
        return found
    return ()


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    entries: tuple[_Entry, ...]


def checksum_ok(indices: list[int]) -> bool:
    """True if the 11-bit word indices carry a correct BIP-39 checksum."""
    n = len(indices)
    if n not in PHRASE_LENGTHS:
        return False
    bits = 0
    for index in indices:
        bits = (bits << 11) | index
    checksum_bits = n // 3
    entropy_bits = n * 11 - checksum_bits
    entropy = (bits >> checksum_bits).to_bytes(entropy_bits // 8, "big")
    digest = hashlib.sha256(entropy).digest()[0]
    return digest >> (8 - checksum_bits) == bits & ((1 << checksum_bits) - 1)


_Run = tuple[int, list[int | None], list[bool], list[_Token]]


def _closed(language: int, run: list[tuple[int | None, bool, _Token]]) -> list[_Run]:
    """The run as a result if it still has 12 words once a trailing unknown word is cut."""
    while run and run[-1][0] is None:
        run.pop()
    if len(run) < MIN_WORDS:
        return []
    return [(language, [r[0] for r in run], [r[1] for r in run], [r[2] for r in run])]


def _runs(tokens: list[_Token], gaps_ok: list[bool]) -> Iterator[_Run]:
    """Yield (language, indices, exact flags, tokens) for every run of 12+ words.

    ``gaps_ok[i]`` says whether tokens i-1 and i are separated only by separators.
    An index of None is an unknown word tolerated inside the run (a typo).
    """
    languages = {e.language for t in tokens for e in t.entries}
    for language in languages:
        run: list[tuple[int | None, bool, _Token]] = []
        holes = 0
        for i, token in enumerate(tokens):
            entry = next((e for e in token.entries if e.language == language), None)
            connected = bool(run) and gaps_ok[i]
            if entry is not None and connected:
                run.append((entry.index, entry.exact, token))
            elif entry is None and connected and holes == 0 and run[-1][0] is not None:
                run.append((None, False, token))
                holes = 1
            else:
                yield from _closed(language, run)
                run = [(entry.index, entry.exact, token)] if entry is not None else []
                holes = 0
        yield from _closed(language, run)


def _phrases_in_run(
    indices: list[int | None], exact: list[bool]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Checksum-valid stretches, then leftover stretches of 12+ words, as (first, last+1).

    Every checksum-valid window counts, and overlapping ones are merged: a word before
    the phrase that happens to be in the wordlist can form a valid window shifted by
    one (1 in 16 for 12 words), and choosing that window alone would leave the
    phrase's last word in the stored text.
    """
    n = len(indices)
    taken = [False] * n
    windows: list[tuple[int, int]] = []
    for length in PHRASE_LENGTHS:
        for offset in range(n - length + 1):
            window = indices[offset : offset + length]
            known = [i for i in window if i is not None]
            if len(known) == length and checksum_ok(known):
                windows.append((offset, offset + length))
    valid: list[tuple[int, int]] = []
    for first, stop in sorted(windows):
        if valid and first <= valid[-1][1]:
            valid[-1] = (valid[-1][0], max(stop, valid[-1][1]))
        else:
            valid.append((first, stop))
    for first, stop in valid:
        for k in range(first, stop):
            taken[k] = True
    probable: list[tuple[int, int]] = []
    k = 0
    while k < n:
        if taken[k]:
            k += 1
            continue
        stop = k
        while stop < n and not taken[stop]:
            stop += 1
        inexact = sum(1 for j in range(k, stop) if not exact[j])
        if stop - k >= MIN_WORDS and inexact <= 2:
            probable.append((k, stop))
        k = stop
    return valid, probable


def _tokens_and_gaps(text: str, matches: list[tuple[int, int]]) -> tuple[list[_Token], list[bool]]:
    tokens: list[_Token] = []
    gaps: list[bool] = []
    previous_end = -1
    for start, end in matches:
        tokens.append(_Token(start, end, _lookup(text[start:end])))
        gaps.append(previous_end >= 0 and _GAP_RE.fullmatch(text, previous_end, start) is not None)
        previous_end = end
    return tokens, gaps


def _findings_for(text: str, tokens: list[_Token], gaps: list[bool]) -> list[Finding]:
    found: list[Finding] = []
    for language, indices, exact, run in _runs(tokens, gaps):
        valid, probable = _phrases_in_run(indices, exact)
        for first, stop, ok in [(a, b, True) for a, b in valid] + [
            (a, b, False) for a, b in probable
        ]:
            found.append(
                Finding(
                    kind="mnemonic",
                    start=run[first].start,
                    end=run[stop - 1].end,
                    valid=ok,
                    reason=None if ok else "checksum_failed",
                    detail={"language": LANGUAGES[language], "words": str(stop - first)},
                )
            )
    return found


def _chinese_unseparated(text: str) -> list[Finding]:
    """A phrase typed without separators, accepted only right after a context word."""
    found: list[Finding] = []
    context_ends = [m.end() for m in _CONTEXT_RE.finditer(text)]
    if not context_ends:
        return found
    for run in _HAN_RUN_RE.finditer(text):
        starts = {run.start()}
        for end in context_ends:
            position = end
            while position < run.end() and text[position] in _CONTEXT_TAIL:
                position += 1
            if run.start() < position < run.end():
                starts.add(position)
        for start in sorted(starts):
            if run.end() - start > PHRASE_LENGTHS[0]:
                continue  # longer than any phrase (and bounds the work on huge runs)
            chars = text[start : run.end()]
            for lang_id in _CHINESE_IDS:
                indices: list[int] = []
                for char in chars:
                    entry = next((e for e in _TABLE.get(char, ()) if e.language == lang_id), None)
                    if entry is None:
                        break
                    indices.append(entry.index)
                if len(indices) == len(chars) and checksum_ok(indices):
                    found.append(
                        Finding(
                            kind="mnemonic",
                            start=start,
                            end=run.end(),
                            valid=True,
                            detail={"language": LANGUAGES[lang_id], "words": str(len(chars))},
                        )
                    )
                    break
            else:
                continue
            break
    return found


# Exact words and four-letter prefixes, for the cheap pre-check.
_WORDS: Final = frozenset(k for k in _TABLE if not k.startswith("\0"))
_PREFIXES: Final = frozenset(k[1:] for k in _TABLE if k.startswith("\0"))


def _may_hold_run(text: str) -> bool:
    """Cheap necessary condition: 12 wordlist words in a row (one unknown allowed)."""
    lowered = text.lower()
    if not lowered.isascii():
        lowered = unicodedata.normalize("NFC", lowered)
    streak = 0
    hole = False
    for word in _WORD_RE.findall(lowered):
        if (
            word in _WORDS
            or (word[:4] in _PREFIXES and len(word) >= 4)
            or (not word.isascii() and _lookup(word))
        ):
            streak += 1
            if streak >= MIN_WORDS:
                return True
        elif streak and not hole:
            hole = True
            streak += 1
        else:
            streak = 0
            hole = False
    return False


def find_mnemonics(text: str) -> list[Finding]:
    """Every seed phrase (valid or probable) in ``text``, as ``mnemonic`` findings."""
    found: list[Finding] = []
    if _may_hold_run(text):
        spans = [m.span() for m in _WORD_RE.finditer(text)]
        tokens, gaps = _tokens_and_gaps(text, spans)
        found.extend(_findings_for(text, tokens, gaps))
    context: bool | None = None
    in_context_word: set[int] | None = None
    for match in _HAN_SEPARATED_RE.finditer(text):
        if in_context_word is None:
            in_context_word = _context_word_positions(text)
        # The characters of "助记词" are wordlist words too; they never belong to the
        # phrase that follows them, and counting them would redact the context word.
        chars = [
            (i, i + 1)
            for i in range(match.start(), match.end())
            if _is_han(text[i]) and i not in in_context_word
        ]
        tokens, gaps = _tokens_and_gaps(text, chars)
        for finding in _findings_for(text, tokens, gaps):
            if not finding.valid:
                # Word-segmented Chinese ("我 的 钱 在 哪") can hold twelve one-character
                # words in a row: without a checksum, a Chinese phrase needs a numbered
                # list or a context word to count.
                if context is None:
                    context = _has_context_hint(text) and bool(_CONTEXT_RE.search(text))
                numbered = sum(c.isdigit() for c in text[finding.start : finding.end]) >= 6
                if not (context or numbered):
                    continue
            found.append(finding)
    if _HAN_RUN_RE.search(text) and _has_context_hint(text):
        found.extend(_chinese_unseparated(text))
    return _deduplicate(found) if len(found) > 1 else found


_CONTEXT_HINTS: Final = ("助记", "助記", "记忆词", "恢复", "恢復", "种子", "種子", "短语", "短語")


def _has_context_hint(text: str) -> bool:
    """A cheap test before the context regex: most Chinese prose has none of these."""
    if any(hint in text for hint in _CONTEXT_HINTS):
        return True
    lower = text.lower()
    return "seed" in lower or "mnemonic" in lower or "phrase" in lower


def _context_word_positions(text: str) -> set[int]:
    """Positions of the characters of every context word (助记词, seed phrase...)."""
    if not _has_context_hint(text):
        return set()
    return {i for m in _CONTEXT_RE.finditer(text) for i in range(m.start(), m.end())}


def _is_han(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF


def _deduplicate(found: list[Finding]) -> list[Finding]:
    """Keep one finding per stretch of text: valid before probable, longer before shorter.

    The same words are often in two lists (Chinese simplified and traditional share
    most characters; English and French share some words).
    """
    ranked = sorted(found, key=lambda f: (not f.valid, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for finding in ranked:
        if not any(k.overlaps(finding.start, finding.end) for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def wordlist(language: str) -> list[str]:
    """The 2048 words of one language (NFC, lower case), for tests and the benchmark."""
    return list(_WORDLISTS[LANGUAGES.index(language)])
