"""Arabic-aware text normalisation: the one place that cleans Arabic text.

Two forms exist. `clean_text` is for text features and lookups (tokens, topics, dates, training
text; it only removes noise: tatweel, zero-width and bidi controls, presentation forms,
Arabic-Indic digits, odd whitespace). Stored titles and bodies are never passed through it: they
keep the page's characters ("لـCNN", "الـ 92", tanween), see pipeline/transforms/clean.py.
`match_form` additionally folds letter variants (alef, yeh, teh marbuta, Persian letters) so that
spellings of one name compare equal; entity matching and dedupe use it. `match_form_with_offsets`
maps every character of the match form back to its index in the original text, so spans found in
the match form are spans of the original.
"""

from __future__ import annotations

import re
import unicodedata

TATWEEL = "\u0640"
# Zero-width and bidirectional control characters that carry no text.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u00ad"),
    None,
)
_INVISIBLE[ord(TATWEEL)] = None
# Arabic-Indic (U+0660..) and Extended/Persian (U+06F0..) digits to ASCII.
_DIGITS = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}
_DIGITS[ord("\u066b")] = "."  # Arabic decimal separator
_DIGITS[ord("\u066c")] = ","  # Arabic thousands separator
_CLEAN_TABLE = _INVISIBLE | _DIGITS
# Regex passes are C-speed scans; str.translate with a dict is a slow per-character loop, so it runs
# only on text that has digits to map.
_INVISIBLE_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _INVISIBLE) + "]+")
_DIGITS_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _DIGITS) + "]")

_WS = re.compile(r"[^\S\n]{2,}|[^\S \n]")  # runs of spaces, or any odd whitespace (tab, NBSP...)
_BLANKS = re.compile(r"\n{3,}")
_PRESENTATION = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")

# Harakat (short vowels, shadda, sukun, superscript alef) are dropped in the match form.
HARAKAT = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")

# Letter folding for matching. One character in, one character out, to keep offsets aligned.
_FOLD = str.maketrans(
    {
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
        "ى": "ي", "ی": "ي", "ې": "ي", "ۍ": "ي", "ئ": "ي",
        "ة": "ه", "ۀ": "ه", "ە": "ه", "ھ": "ه", "ہ": "ه",
        "ک": "ك", "ڪ": "ك",
        "گ": "ج",  # Persian gaf: Egyptian/Persian spellings of g
        "ؤ": "و",
        "پ": "ب",
        "چ": "ج",
        "ژ": "ز",
        "ڤ": "ف", "ۋ": "و",
    }
)


def _nfkc_presentation(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group(0))


def clean_text(text: str) -> str:
    """Cleaned display form: invisible controls and tatweel out, digits ASCII, spaces collapsed.

    Line breaks are kept (paragraph structure matters downstream); runs of 3+ newlines fold to 2.
    """
    text = _PRESENTATION.sub(_nfkc_presentation, text)
    text = _INVISIBLE_RE.sub("", text)
    if _DIGITS_RE.search(text):
        text = text.translate(_DIGITS)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _WS.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


def clean_line(text: str) -> str:
    """`clean_text` for a single line: newlines become spaces."""
    return clean_text(text.replace("\n", " ").replace("\r", " "))


# The same folding as str.replace passes: translate() with a dict is a per-character loop (~60 ns a
# character on Arabic text, 0.36 ms on a 5 KB article), one replace() per variant letter is a C scan
# (~4 µs for all of them). Same result: every variant maps to one letter that is not itself a variant.
_FOLD_PAIRS = tuple((chr(src), dst) for src, dst in _FOLD.items())
assert not {dst for _, dst in _FOLD_PAIRS} & {src for src, _ in _FOLD_PAIRS}
_FOLD_BY_REPLACE = 12  # from this length on, replace() passes beat translate()


def fold_letters(text: str) -> str:
    """Fold letter variants one-for-one (no length change): the core of the match form."""
    if len(text) < _FOLD_BY_REPLACE:
        return text.translate(_FOLD)
    for src, dst in _FOLD_PAIRS:
        text = text.replace(src, dst)
    return text


def match_form(text: str) -> str:
    """Matching form: harakat, tatweel and invisible controls dropped, letters folded, lower-cased."""
    return fold_letters(HARAKAT.sub("", _INVISIBLE_RE.sub("", text))).lower()


# What match_form does to the length of a text, one character at a time (tests check every code
# point): it drops the invisible controls, tatweel and harakat, and grows only 'İ' (lower() gives
# 'i' + a combining dot); every other character stays one character. Scanners that map match-form
# positions back to the text find these with one regex pass instead of asking per character.
MATCH_DROPPED = re.compile(_INVISIBLE_RE.pattern.removesuffix("+") + "|" + HARAKAT.pattern)
MATCH_GROWS = re.compile("\u0130")


def match_form_with_offsets(text: str) -> tuple[str, list[int]]:
    """`match_form` plus, for each of its characters, the index of that character in `text`.

    Scanners search the match form and map hits back to spans of the original text with it.
    """
    kept = [i for i, ch in enumerate(text) if not HARAKAT.match(ch) and ord(ch) not in _INVISIBLE]
    folded = fold_letters("".join(text[i] for i in kept)).lower()
    # lower() can change length only for a few non-Arabic characters (e.g. 'İ'); keep alignment.
    if len(folded) != len(kept):
        folded = "".join(fold_letters(text[i]).lower()[:1] or " " for i in kept)
    return folded, kept


def match_key(text: str) -> str:
    """Canonical lookup key for a name: cleaned, harakat dropped, letters folded, spaces single."""
    text = HARAKAT.sub("", clean_line(text))
    return " ".join(fold_letters(text).lower().split())


_ARABIC_CHAR = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def arabic_ratio(text: str) -> float:
    """Share of letters in `text` that are Arabic-script letters (0.0 when there are no letters)."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for c in letters if _ARABIC_CHAR.match(c)) / len(letters)
