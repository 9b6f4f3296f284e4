"""Language identification over all of lingua's languages, with Arabic-script text decided here.

Text whose letters are mostly not Arabic script gets lingua's answer (high-accuracy mode over every
language it models, on the same head of text lingua alone would read), so on those languages this
is lingua. Arabic-script text is decided among ar, fa, ur and the languages lingua has no model for
(Pashto, Sorani Kurdish, Sindhi, Uyghur; Dari as a reading of Persian) by a log-linear sum of:

- letter classes that tell the orthographies apart (Arabic ة/ي/ك against Persian ی/ک, Urdu ے/ں/ہ/ٹ,
  Pashto ښ/ړ/ډ/ۍ/ې, Sorani ڵ/ڕ/ێ/ە, Sindhi ڪ/ڻ/ڏ/۾, Uyghur ۇ/ۈ/ڭ/ۋ/ى, ...), counted over the WHOLE
  text so that a stray foreign-letter place name in a long body only moves the proportions a little;
- word frequencies (wordfreq's ar/fa/ur lists), which decide single words and short titles;
- common function words of each language;
- lingua's Arabic/Persian/Urdu confidences on the head of the text; and a prior.
The weights (`ArabicScriptWeights`) are tuned by pipeline/training/tune_lang.py on samples that
pipeline/training/lang_samples.py builds; lingua's own test data is only measured on
(`newspipe eval lang --lingua-testdata DIR`, docs/quality.md).

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
from typing import Any, ClassVar

from pipeline.lib.arabic import HARAKAT, clean_text, fold_letters

UNDETERMINED = "und"
# Languages this module decides from letters/words, not from lingua alone.
ARABIC_SCRIPT_CODES = ("ar", "fa", "prs", "ur", "ps", "ckb", "sd", "ug")
LINGUA_ARABIC_SCRIPT = ("ar", "fa", "ur")
# Below this many letters nothing is decided (lingua answers for any letter, so do we).
MIN_LETTERS = 1

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
FARSI_ARABIC_YEH = 0.05
_VARIANTS: dict[str, list[tuple[float, dict[str, str]]]] = {
    "ar": [(0.1, {"arabic_yeh": "farsi_yeh", "arabic_kaf": "keheh"})],
    "fa": [(FARSI_ARABIC_YEH, {"farsi_yeh": "arabic_yeh", "keheh": "arabic_kaf"})],
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

# Prior over the Arabic-script languages for an Arabic-first news pipeline: with no distinguishing
# evidence (a short title of letters every Arabic-script language shares) the likely answer is
# Arabic. The Arabic share is ArabicScriptWeights.prior_ar (tuned); these are the others'.
# fmt: off
_PRIOR: dict[str, float] = {"fa": 0.15, "ur": 0.10, "ps": 0.05, "ckb": 0.05, "sd": 0.05, "ug": 0.05}
# fmt: on
_DEFAULT_PRIOR = 0.05
# lingua's ar/fa/ur confidence enters as weight * log(max(conf, LINGUA_FLOOR)).
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
# Lexicon keys and tokens compare in this form: harakat and tatweel out. Spelling is kept as it
# is (Arabic ي/ك against Persian ی/ک): each list holds the spellings its language's writers use.
_LEXICON_FOLD = str.maketrans({"\u0640": None})


def _lexicon_form(token: str) -> str:
    return HARAKAT.sub("", token).translate(_LEXICON_FOLD)


# Word-frequency lexicons: wordfreq's "small" lists (words with frequency >= 1e-6, built by the
# wordfreq project from Wikipedia, subtitles, news, web text and more; data CC BY-SA 4.0, loaded
# from the installed package, not copied here). Same cutoff for each language, so an unknown word
# favours none of them.
LEXICON_CODES = ("ar", "fa", "ur")
LEXICON_FLOOR = 5e-7
_LOG_FLOOR = math.log(LEXICON_FLOOR)
_LEXICONS: dict[str, dict[str, float]] = {}
_LEXICON_LOCK = threading.Lock()


def _lexicon(code: str) -> dict[str, float]:
    """folded word -> log frequency, for one of LEXICON_CODES (built once per process)."""
    with _LEXICON_LOCK:
        if code not in _LEXICONS:
            import wordfreq

            merged: dict[str, float] = {}
            for word, freq in wordfreq.get_frequency_dict(code, wordlist="small").items():
                if ZWNJ in word:  # tokens are split at ZWNJ, so such keys never match
                    continue
                key = _lexicon_form(word)
                merged[key] = merged.get(key, 0.0) + freq
            _LEXICONS[code] = {word: math.log(freq) for word, freq in merged.items()}
    return _LEXICONS[code]


# Affixes tried when a word form is not listed: Arabic clitics and Persian/Urdu inflections make
# many forms that a frequency list of 20-60k words lacks. (prefixes, suffixes) per language.
_AFFIXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ar": (
        ("وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل"),
        ("هما", "كما", "ها", "هم", "هن", "كم", "نا", "ون", "ين", "ات", "ان", "ه", "ة", "ي"),
    ),
    "fa": (
        ("نمی", "می", "ب", "ن"),
        ("هایی", "های", "ها", "ترین", "تر", "ان", "ای", "ی", "ش", "م", "ت", "یم", "ید", "ند"),
    ),
    "ur": ((), ("وں", "یں", "ئیں", "ے", "ی", "ا", "یاں")),
}
_AFFIXES = {
    code: (tuple(_lexicon_form(a) for a in pre), tuple(_lexicon_form(a) for a in suf))
    for code, (pre, suf) in _AFFIXES.items()
}
# A stem found by stripping an affix counts this many nats below the stem's own frequency.
AFFIX_DISCOUNT = 2.0
# The lexicon's weight is that of at most this many words (see arabic_features).
LEXICON_TOKENS = 4
# ... estimated from the text's first this many distinct words (enough for the average).
LEXICON_SAMPLE = 40
MIN_STEM = 2


def _lexicon_value(lex: dict[str, float], form: str, code: str) -> float:
    """log(frequency / floor) of a word form in one lexicon (0 for unknown), with affix backoff."""
    value = lex.get(form)
    if value is not None:
        return value - _LOG_FLOOR
    prefixes, suffixes = _AFFIXES.get(code, ((), ()))
    best = 0.0
    for pre in ("", *prefixes):
        if pre and not form.startswith(pre):
            continue
        rest = form[len(pre) :]
        for suf in ("", *suffixes):
            if (not pre and not suf) or (suf and not rest.endswith(suf)):
                continue
            stem = rest[: len(rest) - len(suf)] if suf else rest
            if len(stem) >= MIN_STEM and stem in lex:
                best = max(best, lex[stem] - _LOG_FLOOR - AFFIX_DISCOUNT)
    return best


@dataclass(frozen=True)
class ArabicScriptWeights:
    """How the evidence for the Arabic-script languages is combined (log-linear, in nats).

    Tuned on samples built by pipeline/training/lang_samples.py (ANT, UD Persian/Urdu dev
    sets), never on lingua's test data; see docs/quality.md.
    """

    lingua: float = 1.0  # x log(lingua's ar/fa/ur confidence)
    lexicon: float = 2.0  # x sum over words of log(word frequency / floor), capped at LEXICON_TOKENS words
    letters: float = 1.0  # x log-likelihood of the letter classes
    # a language without a lexicon scores a known word as the best lexicon's frequency minus this
    no_lexicon_penalty: float = 1.0
    prior_ar: float = 0.25
    # Softmax temperature that maps the summed scores to probabilities (fitted: least log loss).
    temperature: float = 1.25


DEFAULT_WEIGHTS = ArabicScriptWeights()


def _lingua_language(code: str) -> Any:
    from lingua import IsoCode639_1, Language

    iso = getattr(IsoCode639_1, code.upper(), None)
    if iso is None:
        return None
    try:
        return Language.from_iso_code_639_1(iso)
    except ValueError:
        return None


def lingua_codes() -> tuple[str, ...]:
    """ISO 639-1 codes of every language lingua models (75 in lingua 2.x)."""
    from lingua import Language

    return tuple(sorted(lang.iso_code_639_1.name.lower() for lang in Language.all()))


_LINGUA_DETECTORS: dict[tuple[tuple[str, ...], bool], Any] = {}
_LINGUA_LOCK = threading.Lock()


def _lingua_detector(codes: tuple[str, ...], low_accuracy: bool = False) -> Any:
    """A lingua detector for these languages, shared by every LanguageDetector of this process.

    Models load lazily: a process that sees only Arabic-script text loads ar/fa/ur only.
    """
    # Imported here: only workers that detect pay for lingua.
    from lingua import LanguageDetectorBuilder

    key = (tuple(sorted(codes)), low_accuracy)
    with _LINGUA_LOCK:
        if key not in _LINGUA_DETECTORS:
            builder = LanguageDetectorBuilder.from_languages(*[_lingua_language(c) for c in key[0]])
            if low_accuracy:
                builder = builder.with_low_accuracy_mode()
            _LINGUA_DETECTORS[key] = builder.build()
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
_ARABIC_NON_LETTERS = (
    "،؛؟٪۔" + "".join(chr(0x0660 + i) for i in range(10)) + "".join(chr(0x06F0 + i) for i in range(10))
)
_LETTER = re.compile(r"[^\W\d_]")
# Arabic-script letters only: harakat, tatweel, digits and punctuation of the block are not letters.
_ARABIC_LETTER = re.compile(
    "[\u0620-\u063f\u0641-\u064a\u066e-\u066f\u0671-\u06d3\u06d5\u06ee-\u06ef\u06fa-\u06fc\u06ff"
    "\u0750-\u077f\u08a0-\u08c9\ufb50-\ufdff\ufe70-\ufefc]"
)
# The script vote reads at most this much: enough to tell the majority script.
SCRIPT_HEAD_CHARS = 2000


def _letter_stats(raw: str) -> _Stats:
    """Letter-class counts over the whole text; the script vote over its head."""
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
    # The script vote: letters of the head (harakat and digits are no letters).
    head = raw[:SCRIPT_HEAD_CHARS]
    letters = len(_LETTER.findall(head))
    arabic_head = len(_ARABIC_LETTER.findall(head))
    return _Stats(arabic_head, max(letters - arabic_head, 0), classes)


# lingua reads at most the head of a text: its cost grows with length, and every sentence of its
# own test data (<= 737 characters) fits whole, so on those it sees what lingua alone would see.
LINGUA_HEAD_CHARS = 1000
# Above this length lingua's low-accuracy mode (trigrams only) answers: on lingua's own test data it gives
# the high-accuracy answer for every one of the 5,128 sentences over 200 characters, and it needs ~115 MB
# and about a second to load instead of ~1 GB and 10-30 s. Short text (titles, words) keeps high accuracy.
LINGUA_LOW_ACCURACY_ABOVE = 200
# Exponent that turns lingua's confidence values into probabilities (see _lingua_answer).
LINGUA_SHARPEN = 2.0
# Function words and lexicon read the same head (letter statistics cover the whole text).
TOKEN_HEAD_CHARS = 1000


def _softmax(scores: dict[str, float], temperature: float = 1.0) -> dict[str, float]:
    top = max(scores.values())
    exp = {k: math.exp((v - top) / temperature) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def _cut(text: str, limit: int) -> str:
    """The first `limit` characters, ended at a space when one is near (no half word)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ", limit - 50)
    return head[:space] if space > 0 else head


class LanguageDetector:
    """Language of a text. Build it with `LanguageDetector.load()` (cached per process).

    Text whose letters are mostly Arabic script is decided among the Arabic-script candidates
    (`_decide_arabic`); any other text gets lingua's decision over all its other languages.
    """

    _cache: ClassVar[dict[tuple, LanguageDetector]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        languages: tuple[str, ...],
        min_confidence: float,
        dari_code: str,
        weights: ArabicScriptWeights = DEFAULT_WEIGHTS,
    ) -> None:
        self.languages = languages
        self.min_confidence = min_confidence
        self.dari_code = dari_code
        self.weights = weights
        self._arabic_codes = tuple(c for c in ARABIC_SCRIPT_CODES if c in languages and c != "prs")
        if "prs" in languages and "fa" not in self._arabic_codes:
            self._arabic_codes = (*self._arabic_codes, "fa")
        self._lexicon_codes = tuple(c for c in LEXICON_CODES if c in self._arabic_codes)
        arabic_lingua = tuple(c for c in LINGUA_ARABIC_SCRIPT if c in self._arabic_codes)
        # Text not mostly in Arabic script gets lingua's own answer over every language it models
        # (ar/fa/ur too: a Hindi-Urdu-English mix is lingua's to decide, as it would alone).
        other_lingua = tuple(c for c in languages if _lingua_language(c))
        self._arabic_lingua = _lingua_detector(arabic_lingua) if len(arabic_lingua) >= 2 else None
        self._other_lingua = _lingua_detector(other_lingua) if len(other_lingua) >= 2 else None
        # Longer text than LINGUA_LOW_ACCURACY_ABOVE: trigrams alone (lingua's low-accuracy mode) on
        # the head: the same answer as high accuracy on lingua's test sentences, a fraction of the memory.
        self._other_lingua_long = _lingua_detector(other_lingua, low_accuracy=True) if len(other_lingua) >= 2 else None
        self._other_single = other_lingua[0] if len(other_lingua) == 1 else None
        self._lexicons = {code: _lexicon(code) for code in self._lexicon_codes}
        log_prior = {c: math.log(_PRIOR.get(c, _DEFAULT_PRIOR)) for c in self._arabic_codes}
        if "ar" in log_prior:
            log_prior["ar"] = math.log(weights.prior_ar)
        self._log_prior = log_prior

    @classmethod
    def load(
        cls,
        languages: list[str] | tuple[str, ...] | None = None,
        min_confidence: float = 0.5,
        dari_code: str = "prs",
        weights: ArabicScriptWeights = DEFAULT_WEIGHTS,
    ) -> LanguageDetector:
        """The detector for these candidate codes, built once per process.

        languages: default every language lingua models plus the Arabic-script languages it lacks
        (ARABIC_SCRIPT_CODES). dari_code: what Dari text is reported as, "prs" (heuristic, see
        module doc) or "fa".
        """
        codes = tuple(languages) if languages else tuple(sorted({*lingua_codes(), *ARABIC_SCRIPT_CODES}))
        key = (codes, float(min_confidence), dari_code, weights)
        with cls._lock:
            detector = cls._cache.get(key)
            if detector is None:
                detector = cls(codes, float(min_confidence), dari_code, weights)
                cls._cache[key] = detector
        return detector

    # --- public API -----------------------------------------------------------------------

    def detect(self, text: str) -> LanguageGuess:
        """Language of `text` (a record's title and body; a title alone works less well)."""
        return self._finish(self.probabilities(text))

    def probabilities(self, text: str) -> dict[str, float]:
        """Candidate code -> probability ({} when there is nothing to decide from)."""
        stats = _letter_stats(text)
        head = _cut(text, LINGUA_HEAD_CHARS)
        if stats.arabic_letters + stats.other_letters < MIN_LETTERS:
            # No letters; digits of a script only one language writes (Gujarati ૧૧૦) are lingua's.
            return self._lingua_other(head) if not head.isascii() else {}
        if self._is_arabic_text(stats):
            return self._arabic_probabilities(text, stats, self._lingua_arabic(head))
        return self._lingua_other(head, long=len(text) > LINGUA_LOW_ACCURACY_ABOVE)

    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]:
        """`detect` over many texts; lingua runs on its thread pool when the batch is large enough."""
        if len(texts) < 16:
            return [self.detect(t) for t in texts]
        stats = [_letter_stats(t) for t in texts]
        heads = [_cut(t, LINGUA_HEAD_CHARS) for t in texts]
        out: list[LanguageGuess] = [LanguageGuess(UNDETERMINED, 0.0)] * len(texts)
        arabic_idx: list[int] = []
        other_idx: list[int] = []
        for i, st in enumerate(stats):
            if st.arabic_letters + st.other_letters < MIN_LETTERS:
                if not heads[i].isascii():
                    other_idx.append(i)
                continue
            (arabic_idx if self._is_arabic_text(st) else other_idx).append(i)
        if arabic_idx:
            if self._arabic_lingua is not None:
                values = self._arabic_lingua.compute_language_confidence_values_in_parallel(
                    [heads[i] for i in arabic_idx]
                )
                confs = [self._as_codes(v) for v in values]
            else:
                confs = [{} for _ in arabic_idx]
            for i, conf in zip(arabic_idx, confs):
                out[i] = self._finish(self._arabic_probabilities(texts[i], stats[i], conf))
        for long in (False, True):
            idx = [i for i in other_idx if (len(texts[i]) > LINGUA_LOW_ACCURACY_ABOVE) == long]
            if not idx:
                continue
            lingua = self._other_lingua_long if long else self._other_lingua
            if lingua is not None:
                values = lingua.compute_language_confidence_values_in_parallel([heads[i] for i in idx])
                for i, v in zip(idx, values):
                    out[i] = self._finish(self._lingua_answer(v))
            else:
                for i in idx:
                    out[i] = self._finish(self._lingua_other(heads[i], long))
        return out

    # --- internals --------------------------------------------------------------------------

    def _is_arabic_text(self, stats: _Stats) -> bool:
        # A record's language is its body's: majority script decides which model applies.
        return bool(self._arabic_codes) and stats.arabic_letters >= stats.other_letters

    @staticmethod
    def _as_codes(values: list) -> dict[str, float]:
        return {v.language.iso_code_639_1.name.lower(): v.value for v in values if v.value > 0}

    @classmethod
    def _lingua_answer(cls, values: list) -> dict[str, float]:
        """lingua's values sharpened to probabilities: p ∝ value ** LINGUA_SHARPEN.

        lingua's raw values are under-confident where they are high and over-confident where low;
        the exponent was fitted (least log loss) on UD dev sentences, words and word pairs of
        en/fr/es/pt/de/id (pipeline/training/lang_samples.py), not on lingua's test data. It keeps
        lingua's order, so the answer is lingua's.
        """
        codes = cls._as_codes(values)
        if not codes:
            return {}
        top = max(codes.values())
        weights = {code: (v / top) ** LINGUA_SHARPEN for code, v in codes.items()}
        total = sum(weights.values())
        return {code: w / total for code, w in weights.items()}

    def _lingua_arabic(self, head: str) -> dict[str, float]:
        if self._arabic_lingua is None:
            return {}
        return self._as_codes(self._arabic_lingua.compute_language_confidence_values(head))

    def _lingua_other(self, head: str, long: bool = False) -> dict[str, float]:
        lingua = self._other_lingua_long if long else self._other_lingua
        if lingua is not None:
            return self._lingua_answer(lingua.compute_language_confidence_values(head))
        if self._other_single is not None:
            return {self._other_single: 1.0}
        return {}

    def _finish(self, probs: dict[str, float]) -> LanguageGuess:
        if not probs:
            return LanguageGuess(UNDETERMINED, 0.0)
        code, conf = max(probs.items(), key=lambda kv: kv[1])
        if conf < self.min_confidence:
            return LanguageGuess(UNDETERMINED, round(conf, 4))
        return LanguageGuess(code, round(conf, 4))

    def _arabic_probabilities(self, text: str, stats: _Stats, lingua_conf: dict[str, float]) -> dict[str, float]:
        features, dari_wins = self.arabic_features(text, stats, lingua_conf)
        probs = _softmax(combine_features(features, self.weights, self._log_prior), self.weights.temperature)
        if dari_wins and "fa" in probs:
            dari, iranian = dari_wins
            # The Dari/Iranian split is a vocabulary count, so its confidence is that count's share.
            probs[self.dari_code] = probs.pop("fa") * (dari + 1) / (dari + iranian + 2)
        return probs

    def arabic_features(
        self, text: str, stats: _Stats, lingua_conf: dict[str, float]
    ) -> tuple[dict[str, tuple[float, float, float, float]], tuple[int, int] | None]:
        """Per Arabic-script candidate (letters, lexicon, function words, lingua) log-scores, and
        (Dari, Iranian) vocabulary counts when Dari's wins (report "prs" for Persian), else None."""
        penalty = self.weights.no_lexicon_penalty
        cleaned = clean_text(_cut(text, TOKEN_HEAD_CHARS).replace(ZWNJ, " "))
        token_counts = Counter(_TOKEN.findall(HARAKAT.sub("", cleaned)))
        word_hits: Counter[str] = Counter()
        lexicon_score = dict.fromkeys(self._arabic_codes, 0.0)
        looked_up = 0
        for tok, n in token_counts.items():
            for code in _FUNCTION_WORD_INDEX.get(tok, ()):
                word_hits[code] += n
            if not self._lexicons or looked_up >= LEXICON_SAMPLE or not _ARABIC_LETTER.match(tok):
                continue
            form = _lexicon_form(tok)
            best = 0.0
            for code, lex in self._lexicons.items():
                value = _lexicon_value(lex, form, code)
                lexicon_score[code] += n * value
                best = max(best, value)
            # A language without a lexicon shares the others' vocabulary (loanwords), at a cost.
            unlisted = n * max(best - penalty, 0.0)
            for code in self._arabic_codes:
                if code not in self._lexicons:
                    lexicon_score[code] += unlisted
            looked_up += n
        if looked_up > LEXICON_TOKENS:
            # Word frequencies decide short text; on longer text letters and lingua grow with the
            # length while the lexicon's say stays that of LEXICON_TOKENS words.
            lexicon_score = {code: v * LEXICON_TOKENS / looked_up for code, v in lexicon_score.items()}
        dari = iranian = 0
        if "prs" in self.languages and self.dari_code != "fa":
            # One translate call folds every distinct token (ي/ی, ك/ک spellings of the lexicons).
            folded = fold_letters("\n".join(token_counts)).split("\n")
            for tok, n in zip(folded, token_counts.values()):
                if tok in _DARI_WORDS:
                    dari += n
                elif tok in _IRANIAN_WORDS:
                    iranian += n
        lingua_best = max(lingua_conf.values()) if lingua_conf else 1.0
        features = {}
        for code in self._arabic_codes:
            # Languages lingua does not model are neutral: they get lingua's best value.
            conf = lingua_conf.get(code, lingua_best) if lingua_conf else 1.0
            features[code] = (
                _letter_loglik(code, stats.class_counts),
                lexicon_score[code],
                FUNCTION_WORD_NATS * word_hits[code],
                math.log(max(conf, LINGUA_FLOOR)),
            )
        return features, ((dari, iranian) if dari > iranian else None)


def combine_features(
    features: dict[str, tuple[float, float, float, float]], w: ArabicScriptWeights, log_prior: dict[str, float]
) -> dict[str, float]:
    """The weighted sum of `LanguageDetector.arabic_features` plus the log prior, per code."""
    return {
        code: w.letters * letters + w.lexicon * lexicon + words + w.lingua * lingua + log_prior[code]
        for code, (letters, lexicon, words, lingua) in features.items()
    }
