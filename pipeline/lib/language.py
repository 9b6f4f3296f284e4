"""Language identification that tells apart the languages written in Arabic script.

lingua decides between scripts and among the languages it models (Arabic, Persian, Urdu, English,
French, ...). It has no model for Pashto, Sorani Kurdish, Sindhi or Uyghur and confuses them with
Persian and Urdu, so Arabic-script text goes through a letter-and-word model here instead: each
language gets a multinomial profile over the letters that tell these orthographies apart (Arabic
ة/ي/ك against Persian ی/ک, Urdu ے/ں/ہ/ٹ, Pashto ښ/ړ/ډ/ۍ/ې, Sorani ڵ/ڕ/ێ/ە, Sindhi ڪ/ڻ/ڏ/۾,
Uyghur ۇ/ۈ/ڭ/ۋ/ى, ...), counted over the WHOLE text so that a stray foreign-letter place name
in a long body only moves the proportions a little; common function words add evidence on short
text; lingua's Arabic/Persian/Urdu confidences on the first ~1000 characters break ties.

Dari is a variety of Persian with the same alphabet. It is reported as "prs" only when Afghan
vocabulary (استند, ولسوالی, شاروالی, پوهنتون, ...) outweighs Iranian vocabulary (هستند, استان,
شهرداری, دانشگاه, ...); otherwise Persian-language text is "fa". Pass dari_code="fa" to `load`
to fold Dari into Persian (the ISO 639-1 macrolanguage) instead.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from pipeline.lib.arabic import HARAKAT, clean_text, fold_letters

UNDETERMINED = "und"
# Languages this module decides from letters/words, not from lingua alone.
ARABIC_SCRIPT_CODES = ("ar", "fa", "prs", "ur", "ps", "ckb", "sd", "ug")
DEFAULT_LANGUAGES = (*ARABIC_SCRIPT_CODES, "en", "fr", "de", "es", "it", "tr", "ru", "he")
LINGUA_ARABIC_SCRIPT = ("ar", "fa", "ur")
# lingua sees only the head of the text: its cost grows linearly with length, and ~100 words
# decide between the languages it models (letter statistics cover the rest of the text).
LINGUA_HEAD_CHARS = 600
# Below this many letters nothing is decided.
MIN_LETTERS = 3

ZWNJ = "\u200c"

# Letter classes that separate the Arabic-script orthographies. Everything else is "other".
_LETTER_CLASSES: dict[str, str] = {
    "teh_marbuta": "ة",
    "arabic_yeh": "ي",
    "arabic_kaf": "ك",
    "alef_maksura": "ى",
    "hamza_alef": "أإ",
    "farsi_yeh": "ی",
    "keheh": "ک",
    "gaf": "گ",
    "pe_che_zhe": "پچژ",
    "urdu_retroflex": "ٹڈڑ",
    "noon_ghunna": "ں",
    "yeh_barree": "ےۓ",
    "heh_goal": "ہۂۃ",
    "heh_doachashmee": "ھ",
    "pashto": "ټډړږښګڼځڅ",
    "pashto_yeh": "ۍ",
    "e_yeh": "ې",
    "sorani": "ڵڕێ",
    "oe": "ۆ",
    "ae": "ە",
    "sindhi": "ڄڃڇڏڙڦڻٺٽڀٻڊڍڌڳڱٿ",
    "swash_kaf": "ڪ",
    "sindhi_signs": "۾۽",
    "uyghur": "ۈۇڭۋ",
    "yeh_hamza": "ئ",
    "heh": "ه",
    "zwnj": ZWNJ,
}
_CLASS_OF: dict[str, str] = {ch: name for name, chars in _LETTER_CLASSES.items() for ch in chars}

# Approximate share of each class among Arabic-script letters in news text of each language.
# Written from the orthographies (which letters a language uses, roughly how often), not fitted
# to any evaluation file. Small values are "seen only in foreign names / typos" floors; they keep
# one stray letter from being decisive while many of them are.
# fmt: off
_P: dict[str, dict[str, float]] = {
    "ar": {
        "teh_marbuta": 0.025, "arabic_yeh": 0.055, "arabic_kaf": 0.015, "alef_maksura": 0.008,
        "hamza_alef": 0.025, "farsi_yeh": 0.0003, "keheh": 0.0003, "gaf": 0.0003,
        "pe_che_zhe": 0.0005, "urdu_retroflex": 0.00005, "noon_ghunna": 0.00005,
        "yeh_barree": 0.00005, "heh_goal": 0.00005, "heh_doachashmee": 0.0001, "pashto": 0.00005,
        "pashto_yeh": 0.00002, "e_yeh": 0.00002, "sorani": 0.00002, "oe": 0.00002, "ae": 0.00002,
        "sindhi": 0.00005, "swash_kaf": 0.00002, "sindhi_signs": 0.00002, "uyghur": 0.00002,
        "yeh_hamza": 0.004, "heh": 0.035, "zwnj": 0.0005,
    },
    "fa": {
        "teh_marbuta": 0.0005, "arabic_yeh": 0.001, "arabic_kaf": 0.0005, "alef_maksura": 0.0003,
        "hamza_alef": 0.002, "farsi_yeh": 0.085, "keheh": 0.025, "gaf": 0.01,
        "pe_che_zhe": 0.012, "urdu_retroflex": 0.00005, "noon_ghunna": 0.00005,
        "yeh_barree": 0.0001, "heh_goal": 0.0001, "heh_doachashmee": 0.0002, "pashto": 0.0001,
        "pashto_yeh": 0.00002, "e_yeh": 0.00002, "sorani": 0.00002, "oe": 0.00002, "ae": 0.00005,
        "sindhi": 0.00005, "swash_kaf": 0.00002, "sindhi_signs": 0.00002, "uyghur": 0.00002,
        "yeh_hamza": 0.002, "heh": 0.06, "zwnj": 0.02,
    },
    "ur": {
        "teh_marbuta": 0.0003, "arabic_yeh": 0.001, "arabic_kaf": 0.0005, "alef_maksura": 0.0002,
        "hamza_alef": 0.0005, "farsi_yeh": 0.06, "keheh": 0.04, "gaf": 0.01,
        "pe_che_zhe": 0.01, "urdu_retroflex": 0.012, "noon_ghunna": 0.012,
        "yeh_barree": 0.035, "heh_goal": 0.035, "heh_doachashmee": 0.015, "pashto": 0.0001,
        "pashto_yeh": 0.00002, "e_yeh": 0.00002, "sorani": 0.00002, "oe": 0.00002, "ae": 0.00005,
        "sindhi": 0.0001, "swash_kaf": 0.00002, "sindhi_signs": 0.00002, "uyghur": 0.00002,
        "yeh_hamza": 0.006, "heh": 0.003, "zwnj": 0.003,
    },
    "ps": {
        "teh_marbuta": 0.0003, "arabic_yeh": 0.01, "arabic_kaf": 0.001, "alef_maksura": 0.0005,
        "hamza_alef": 0.001, "farsi_yeh": 0.05, "keheh": 0.02, "gaf": 0.002,
        "pe_che_zhe": 0.008, "urdu_retroflex": 0.0003, "noon_ghunna": 0.0002,
        "yeh_barree": 0.0002, "heh_goal": 0.0002, "heh_doachashmee": 0.0005, "pashto": 0.04,
        "pashto_yeh": 0.006, "e_yeh": 0.02, "sorani": 0.00003, "oe": 0.00003, "ae": 0.0002,
        "sindhi": 0.0002, "swash_kaf": 0.00002, "sindhi_signs": 0.00002, "uyghur": 0.00002,
        "yeh_hamza": 0.005, "heh": 0.04, "zwnj": 0.003,
    },
    "ckb": {
        "teh_marbuta": 0.0002, "arabic_yeh": 0.001, "arabic_kaf": 0.0005, "alef_maksura": 0.0002,
        "hamza_alef": 0.0005, "farsi_yeh": 0.07, "keheh": 0.03, "gaf": 0.008,
        "pe_che_zhe": 0.012, "urdu_retroflex": 0.00005, "noon_ghunna": 0.00005,
        "yeh_barree": 0.00005, "heh_goal": 0.0001, "heh_doachashmee": 0.01, "pashto": 0.00005,
        "pashto_yeh": 0.00002, "e_yeh": 0.0002, "sorani": 0.035, "oe": 0.015, "ae": 0.10,
        "sindhi": 0.00005, "swash_kaf": 0.00002, "sindhi_signs": 0.00002, "uyghur": 0.0002,
        "yeh_hamza": 0.03, "heh": 0.02, "zwnj": 0.001,
    },
    "sd": {
        "teh_marbuta": 0.0005, "arabic_yeh": 0.07, "arabic_kaf": 0.002, "alef_maksura": 0.001,
        "hamza_alef": 0.003, "farsi_yeh": 0.002, "keheh": 0.008, "gaf": 0.005,
        "pe_che_zhe": 0.008, "urdu_retroflex": 0.0005, "noon_ghunna": 0.0005,
        "yeh_barree": 0.0002, "heh_goal": 0.0005, "heh_doachashmee": 0.015, "pashto": 0.0005,
        "pashto_yeh": 0.00002, "e_yeh": 0.00002, "sorani": 0.00002, "oe": 0.00002, "ae": 0.00005,
        "sindhi": 0.045, "swash_kaf": 0.025, "sindhi_signs": 0.006, "uyghur": 0.00002,
        "yeh_hamza": 0.006, "heh": 0.04, "zwnj": 0.0005,
    },
    "ug": {
        "teh_marbuta": 0.0001, "arabic_yeh": 0.04, "arabic_kaf": 0.025, "alef_maksura": 0.07,
        "hamza_alef": 0.0005, "farsi_yeh": 0.001, "keheh": 0.0005, "gaf": 0.01,
        "pe_che_zhe": 0.005, "urdu_retroflex": 0.00002, "noon_ghunna": 0.00002,
        "yeh_barree": 0.00002, "heh_goal": 0.00002, "heh_doachashmee": 0.02, "pashto": 0.00005,
        "pashto_yeh": 0.00002, "e_yeh": 0.025, "sorani": 0.0001, "oe": 0.008, "ae": 0.09,
        "sindhi": 0.00005, "swash_kaf": 0.00002, "sindhi_signs": 0.00002, "uyghur": 0.07,
        "yeh_hamza": 0.05, "heh": 0.0005, "zwnj": 0.0001,
    },
}
# fmt: on
# Orthographic variants seen in real web text: (share of texts, {class: class it is written as}).
# Many Persian and Afghan sites type Arabic ي/ك; some Urdu sites use ه/ي for ہ/ی; older Sorani
# writes ە as ه; Pashto without its own keyboard falls back to گ/ی; Arabic from Persian keyboards
# (Iranian outlets, stray names) has ی/ک. A language scores as its best-fitting variant.
_VARIANTS: dict[str, list[tuple[float, dict[str, str]]]] = {
    "ar": [(0.1, {"arabic_yeh": "farsi_yeh", "arabic_kaf": "keheh"})],
    "fa": [(0.2, {"farsi_yeh": "arabic_yeh", "keheh": "arabic_kaf"})],
    "ur": [(0.2, {"heh_goal": "heh", "farsi_yeh": "arabic_yeh"})],
    "ps": [(0.2, {"farsi_yeh": "arabic_yeh", "keheh": "arabic_kaf"}), (0.2, {"e_yeh": "farsi_yeh"})],
    "ckb": [(0.1, {"ae": "heh"})],
    "sd": [(0.1, {"swash_kaf": "keheh"})],
    "ug": [],
}


def _log_profile(profile: dict[str, float]) -> dict[str, float]:
    # Per class, the probability is spread evenly over the class's characters.
    other = 1.0 - sum(profile.values())
    logp = {name: math.log(p / len(_LETTER_CLASSES[name])) for name, p in profile.items()}
    logp["other"] = math.log(other / 28)  # ~28 common letters share the rest
    return logp


def _moved(profile: dict[str, float], moves: dict[str, str]) -> dict[str, float]:
    out = dict(profile)
    for src, dst in moves.items():
        # The written-as class takes the mass; the source keeps only a typo-level floor.
        out[dst] = out[dst] + out[src] - 0.0005
        out[src] = 0.0005
    return out


# code -> [(log mixture weight, log profile)]
_LOGP: dict[str, list[tuple[float, dict[str, float]]]] = {}
for _code, _profile in _P.items():
    _variants = _VARIANTS.get(_code, [])
    _base_weight = 1.0 - sum(w for w, _ in _variants)
    _LOGP[_code] = [(math.log(_base_weight), _log_profile(_profile))] + [
        (math.log(w), _log_profile(_moved(_profile, moves))) for w, moves in _variants
    ]


def _letter_loglik(code: str, counts: Counter[str]) -> float:
    """log P(letter classes | language), mixing over the language's orthographic variants."""
    values = [w + sum(n * logp[cls] for cls, n in counts.items()) for w, logp in _LOGP[code]]
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent short words of each language (news register). A hit adds FUNCTION_WORD_NATS.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "ar": _words(
        "في من على إلى الى أن إن عن مع التي الذي الذين هذا هذه ذلك كان كانت قد لم لن لا ما بين "
        "بعد قبل حتى أو ثم كما وقال قال وفي ومن خلال منذ حيث أيضا أيضاً ضد لدى عند وأن وكان "
        "فيما إنه أنه وهو وهي هو هي يوم اليوم"
    ),
    "fa": _words(
        "در به از که این را با است برای می شد کرد آن یک هم تا بر نیز شده های ها بود خود اما "
        "شود کند دارد گفت پس وی او چه هر نمی باید کنند کرده شده‌است شده است؛ خواهد"
    ),
    "ur": _words(
        "کے کی کا میں ہے ہیں نے کو سے پر اور یہ کہ ایک گیا تھا تھی تھے بھی نہیں جو اس ان وہ "
        "کر کیا گئی ہو رہا رہے لیے کرنے والے ہوئے"
    ),
    "ps": _words(
        "د په او چې ته دا له سره کې وو شوي دي څخه کړي یې دې ده وي شو کوي نه ورته باندې لپاره ترمنځ وايي ويلي دغه هغه"
    ),
    "ckb": _words(
        "لە بە کە ئەم بۆ لەگەڵ دەکات کرد ئەو هەروەها لەسەر دوای نێوان بەڵام یان دەڵێت "
        "هەیە ئێستا ناو وەک زۆر ئەوە کردووە دەبێت"
    ),
    "sd": _words("جي جو جا ۾ ته کي سان هن آهي آهن ۽ تي ڪري پڻ مان هو هئي ويو وئي لاءِ ڪيو ڪئي اهو اها انهن هئا ٿي ٿو"),
    "ug": _words("ۋە بىلەن ئۈچۈن بۇ ھەم دەپ قىلدى بولۇپ يەنە ئۇ بار ھەمدە بويىچە قىلىش دېدى ئىدى ئەمەس كېيىن ئۇنىڭ"),
}
# Same normalisation as the tokens they are compared with (harakat out: لاءِ -> لاء).
_FUNCTION_WORDS = {code: frozenset(HARAKAT.sub("", w) for w in words) for code, words in _FUNCTION_WORDS.items()}
FUNCTION_WORD_NATS = 2.5
# word -> languages whose function-word list has it (one dict lookup per token).
_FUNCTION_WORD_INDEX: dict[str, tuple[str, ...]] = {}
for _code, _code_words in _FUNCTION_WORDS.items():
    for _word in _code_words:
        _FUNCTION_WORD_INDEX[_word] = (*_FUNCTION_WORD_INDEX.get(_word, ()), _code)

# Prior over languages for an Arabic-first news pipeline: with no distinguishing evidence (a short
# title of letters every Arabic-script language shares) the likely answer is Arabic, and among
# Latin-script texts from Middle-East/North-Africa outlets, English then French. One distinctive
# letter (~6 nats) or two function words outweigh these log-prior gaps (<= 2.4 nats).
# fmt: off
_PRIOR: dict[str, float] = {
    "ar": 0.55, "fa": 0.15, "ur": 0.10, "ps": 0.05, "ckb": 0.05, "sd": 0.05, "ug": 0.05,
    "en": 0.40, "fr": 0.30,
}
# fmt: on
_DEFAULT_PRIOR = 0.05
# lingua's ar/fa/ur confidence enters as LINGUA_WEIGHT * log(max(conf, LINGUA_FLOOR)).
LINGUA_WEIGHT = 1.0
LINGUA_FLOOR = 0.01

# Dari vs Iranian Persian: lexical choices that differ between the two standards.
_DARI_WORDS = _words(
    "استند ميباشد میباشد ولسوالی ولسوالي ولسوالی‌ها شاروالی شاروال پوهنتون پوهنتون‌ها شفاخانه "
    "شفاخانه‌ها پولیس داکتر ملیون معارف قوماندان قوماندانی امنیه جرگه ولسی مشرانو طیاره موتر "
    "موترها تذکره سارنوال سارنوالی څارنوالی اردوی ریاست ولایت ولایات ولسمشر زون "
    "افغانی بیجاشدگان والی سرک سرکها سرک‌ها صنف صنف‌ها مکتب مکاتب محصلان محصلین باشندگان "
    "مسوولان مسوولین دالر شاهراه"
)
_IRANIAN_WORDS = _words(
    "هستند هست استان استانداری شهرداری دانشگاه بیمارستان پلیس دکتر میلیون آموزش ارتش "
    "هواپیما خودرو دادستان دادستانی مجلس شورای جمهوری اسلامی تهران نفر "
    "فرودگاه دانشجویان مدرسه مدارس کلاس خیابان بزرگراه دلار مسئولان استاندار"
)

# Lexicons compare letter-folded (fold_letters): Afghan and Iranian sites alike may type ي/ك.
_DARI_WORDS = frozenset(fold_letters(w) for w in _DARI_WORDS)
_IRANIAN_WORDS = frozenset(fold_letters(w) for w in _IRANIAN_WORDS)

_TOKEN = re.compile(r"[^\W\d_]+|[۾۽]")


def _lingua_language(code: str) -> object | None:
    from lingua import IsoCode639_1, Language

    iso = getattr(IsoCode639_1, code.upper(), None)
    if iso is None:
        return None
    try:
        return Language.from_iso_code_639_1(iso)
    except ValueError:
        return None


_LINGUA_DETECTORS: dict[tuple[str, ...], object] = {}


def _lingua_detector(codes: tuple[str, ...]) -> object:
    """A lingua detector with preloaded models, shared by every LanguageDetector of this process."""
    # Imported here: lingua's models take seconds and memory; only workers that detect pay.
    from lingua import LanguageDetectorBuilder

    key = tuple(sorted(codes))
    if key not in _LINGUA_DETECTORS:
        languages = [_lingua_language(c) for c in key]
        _LINGUA_DETECTORS[key] = (
            LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
        )
    return _LINGUA_DETECTORS[key]


@dataclass(frozen=True)
class LanguageGuess:
    """A detected language: ISO 639-1 where one exists, else ISO 639-3 (ckb, prs); "und" when unsure."""

    code: str
    confidence: float


@dataclass
class _Stats:
    arabic_letters: int
    other_letters: int
    class_counts: Counter[str]


# UTF-8 lead bytes of U+0600..U+077F (Arabic, Arabic Supplement): counting bytes is ~15x faster
# than iterating characters, which matters at 5 KB per record.
_ARABIC_LEAD_BYTES = (b"\xd8", b"\xd9", b"\xda", b"\xdb", b"\xdd")
# Frequent non-letters inside those blocks (punctuation, Arabic-Indic digits).
_ARABIC_NON_LETTERS = "،؛؟٪" + "".join(chr(0x0660 + i) for i in range(10)) + "".join(chr(0x06F0 + i) for i in range(10))
# Letters of the other scripts the candidate set covers (Latin, Greek, Cyrillic, Hebrew, Armenian).
_OTHER_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u0531-\u0587\u05d0-\u05ea]")


def _letter_stats(raw: str) -> _Stats:
    """Letter-class counts over the whole text (not just the head lingua sees)."""
    encoded = raw.encode("utf-8", "replace")
    in_block = sum(encoded.count(b) for b in _ARABIC_LEAD_BYTES)
    present = set(raw)
    classes: Counter[str] = Counter()
    marked = non_letters = 0
    for ch in present:
        cls = _CLASS_OF.get(ch)
        if cls is not None:
            n = raw.count(ch)
            classes[cls] += n
            if ch != ZWNJ:
                marked += n
        elif ch in _ARABIC_NON_LETTERS:
            non_letters += raw.count(ch)
    # Harakat and tatweel also sit in the block and land in "other": a small, even dilution.
    arabic = in_block - non_letters
    classes["other"] = max(arabic - marked, 0)
    return _Stats(arabic, len(_OTHER_LETTER.findall(raw)), classes)


# Only the head is cleaned and tokenised: lingua reads LINGUA_HEAD_CHARS and function words need
# no more than that to count; letter statistics cover the whole text.
TOKEN_HEAD_CHARS = 1000


def _clean_for_detection(text: str) -> str:
    # ZWNJ joins Persian/Urdu morphemes (می‌شود); a space keeps them separate words for the
    # function-word lists, where clean_text would glue them.
    return clean_text(text.replace(ZWNJ, " "))


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    exp = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


class LanguageDetector:
    """Language of a text. Build it with `LanguageDetector.load()` (cached per process)."""

    _cache: ClassVar[dict[tuple[tuple[str, ...], float, str], LanguageDetector]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, languages: tuple[str, ...], min_confidence: float, dari_code: str) -> None:
        self.languages = languages
        self.min_confidence = min_confidence
        self.dari_code = dari_code
        self._arabic_codes = tuple(c for c in ARABIC_SCRIPT_CODES if c in languages and c != "prs")
        if "prs" in languages and "fa" not in self._arabic_codes:
            self._arabic_codes = (*self._arabic_codes, "fa")
        arabic_lingua = tuple(c for c in LINGUA_ARABIC_SCRIPT if c in self._arabic_codes)
        other_lingua = tuple(c for c in languages if c not in ARABIC_SCRIPT_CODES and _lingua_language(c))
        self._arabic_lingua = _lingua_detector(arabic_lingua) if len(arabic_lingua) >= 2 else None
        self._other_lingua = _lingua_detector(other_lingua) if len(other_lingua) >= 2 else None
        self._other_single = other_lingua[0] if len(other_lingua) == 1 else None

    @classmethod
    def load(
        cls,
        languages: list[str] | None = None,
        min_confidence: float = 0.5,
        dari_code: str = "prs",
    ) -> LanguageDetector:
        """The detector for these candidate codes (default: DEFAULT_LANGUAGES), built once per process.

        dari_code: what Dari text is reported as, "prs" (heuristic, see module doc) or "fa".
        """
        key = (tuple(languages or DEFAULT_LANGUAGES), float(min_confidence), dari_code)
        with cls._lock:
            detector = cls._cache.get(key)
            if detector is None:
                detector = cls(key[0], key[1], dari_code)
                cls._cache[key] = detector
        return detector

    # --- public API -----------------------------------------------------------------------

    def detect(self, text: str) -> LanguageGuess:
        """Language of `text` (a record's body; the title alone works less well)."""
        cleaned = _clean_for_detection(text[:TOKEN_HEAD_CHARS])
        stats = _letter_stats(text)
        if stats.arabic_letters + stats.other_letters < MIN_LETTERS:
            return LanguageGuess(UNDETERMINED, 0.0)
        head = cleaned[:LINGUA_HEAD_CHARS]
        if self._is_arabic_text(stats):
            lingua_conf = self._lingua_arabic(head)
            return self._decide_arabic(cleaned, stats, lingua_conf)
        return self._finish(self._with_prior(self._lingua_other(head)))

    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]:
        """`detect` over many texts; lingua runs on its thread pool when the batch is large enough."""
        if len(texts) < 16:
            return [self.detect(t) for t in texts]
        cleaned = [_clean_for_detection(t[:TOKEN_HEAD_CHARS]) for t in texts]
        stats = [_letter_stats(t) for t in texts]
        out: list[LanguageGuess | None] = [None] * len(texts)
        arabic_idx: list[int] = []
        other_idx: list[int] = []
        for i, st in enumerate(stats):
            if st.arabic_letters + st.other_letters < MIN_LETTERS:
                out[i] = LanguageGuess(UNDETERMINED, 0.0)
            elif self._is_arabic_text(st):
                arabic_idx.append(i)
            else:
                other_idx.append(i)
        if arabic_idx:
            heads = [cleaned[i][:LINGUA_HEAD_CHARS] for i in arabic_idx]
            if self._arabic_lingua is not None:
                values = self._arabic_lingua.compute_language_confidence_values_in_parallel(heads)
                confs = [self._as_codes(v) for v in values]
            else:
                confs = [{} for _ in heads]
            for i, conf in zip(arabic_idx, confs):
                out[i] = self._decide_arabic(cleaned[i], stats[i], conf)
        if other_idx:
            heads = [cleaned[i][:LINGUA_HEAD_CHARS] for i in other_idx]
            if self._other_lingua is not None:
                values = self._other_lingua.compute_language_confidence_values_in_parallel(heads)
                for i, v in zip(other_idx, values):
                    out[i] = self._finish(self._with_prior(self._as_codes(v)))
            else:
                for i, head in zip(other_idx, heads):
                    out[i] = self._finish(self._with_prior(self._lingua_other(head)))
        return [g if g is not None else LanguageGuess(UNDETERMINED, 0.0) for g in out]

    # --- internals --------------------------------------------------------------------------

    def _is_arabic_text(self, stats: _Stats) -> bool:
        # A record's language is its body's: majority script decides which model applies.
        return bool(self._arabic_codes) and stats.arabic_letters >= stats.other_letters

    @staticmethod
    def _as_codes(values: list) -> dict[str, float]:
        return {v.language.iso_code_639_1.name.lower(): v.value for v in values}

    def _lingua_arabic(self, head: str) -> dict[str, float]:
        if self._arabic_lingua is None:
            return {}
        return self._as_codes(self._arabic_lingua.compute_language_confidence_values(head))

    def _lingua_other(self, head: str) -> dict[str, float]:
        if self._other_lingua is not None:
            return self._as_codes(self._other_lingua.compute_language_confidence_values(head))
        if self._other_single is not None:
            return {self._other_single: 1.0}
        return {}

    @staticmethod
    def _with_prior(probs: dict[str, float]) -> dict[str, float]:
        weighted = {code: p * _PRIOR.get(code, _DEFAULT_PRIOR) for code, p in probs.items()}
        total = sum(weighted.values())
        return {code: p / total for code, p in weighted.items()} if total > 0 else probs

    def _finish(self, probs: dict[str, float]) -> LanguageGuess:
        if not probs:
            return LanguageGuess(UNDETERMINED, 0.0)
        code, conf = max(probs.items(), key=lambda kv: kv[1])
        if conf < self.min_confidence:
            return LanguageGuess(UNDETERMINED, round(conf, 4))
        return LanguageGuess(code, round(conf, 4))

    def _decide_arabic(self, cleaned: str, stats: _Stats, lingua_conf: dict[str, float]) -> LanguageGuess:
        counts = stats.class_counts
        token_counts = Counter(_TOKEN.findall(HARAKAT.sub("", cleaned)))
        word_hits: Counter[str] = Counter()
        for tok, n in token_counts.items():
            for code in _FUNCTION_WORD_INDEX.get(tok, ()):
                word_hits[code] += n
        # One translate call folds every distinct token (ي/ی, ك/ک spellings of the lexicons).
        folded = fold_letters("\n".join(token_counts)).split("\n")
        dari = iranian = 0
        for tok, n in zip(folded, token_counts.values()):
            if tok in _DARI_WORDS:
                dari += n
            elif tok in _IRANIAN_WORDS:
                iranian += n
        scores: dict[str, float] = {}
        lingua_best = max(lingua_conf.values()) if lingua_conf else 1.0
        for code in self._arabic_codes:
            score = _letter_loglik(code, counts)
            score += FUNCTION_WORD_NATS * word_hits[code]
            if code == "fa":
                # Dari and Iranian vocabulary are both Persian: evidence for Persian either way.
                score += FUNCTION_WORD_NATS * (dari + iranian)
            if lingua_conf:
                # Languages lingua does not model are neutral: they get lingua's best value.
                conf = lingua_conf.get(code, lingua_best)
                score += LINGUA_WEIGHT * math.log(max(conf, LINGUA_FLOOR))
            scores[code] = score + math.log(_PRIOR.get(code, _DEFAULT_PRIOR))
        probs = _softmax(scores)
        guess = self._finish(probs)
        if guess.code == "fa" and self.dari_code != "fa" and "prs" in self.languages and dari > iranian:
            return LanguageGuess(self.dari_code, guess.confidence)
        return guess
