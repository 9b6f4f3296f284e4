"""Cut a decoded news page into articles: layout detection, per-layout splitters, HTML extraction.

Two plain-text layouts are known. "asharq": title, photo captions, a `TT` line, the title and
captions again, the body, then a `مقالات ذات صلة` block of teasers, and possibly more full articles
built the same way. "aggregator": title, `تاريخ النشر:` line, body, `المصدر:` / `كلمات دلالية:`
lines, then `إقرأ أيضاً:` and more articles, whose lines may start with a teaser (headline +
summary) glued on with no separator. Anything else is one "generic" article. Only the layouts'
fixed marker lines are matched literally; everything else is decided from line shape, and the
glued-teaser cut uses a corpus-derived list of lede-opening words (pipeline/resources/lede_words).
Inline related-article lines inside a body ("للمزيد: <headline>", "قد يهمك: <headline>") go to
`related` in every layout; their openers are mined from ANT (pipeline/resources/teaser_openers),
and an unlisted opener made of listed cue words ("شاهدوا أيضا:") counts too. On an aggregator page
the main article runs to its first `إقرأ أيضاً:`; only after it may articles follow unmarked.
Titles and bodies are the page's own text; only match forms (match_key) fold spelling.
"""

from __future__ import annotations

import functools
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.lib.arabic import match_key
from pipeline.lib.model import ParsedArticle, RelatedItem

_RESOURCES = pathlib.Path(__file__).resolve().parents[1] / "resources"
_LEDE_WORDS_PATH = _RESOURCES / "lede_words" / "lede_words.tsv"
_TEASER_OPENERS_PATH = _RESOURCES / "teaser_openers" / "teaser_openers.tsv"

# Marker keys are in match_key form, so hamza/alef and tanween spelling variants compare equal.
_RELATED_KEYS = frozenset({match_key("مقالات ذات صلة"), match_key("مواضيع ذات صلة"), match_key("أخبار ذات صلة")})
_READ_MORE_KEYS = frozenset(
    {match_key("إقرأ أيضاً"), match_key("اقرأ أيضا"), match_key("إقرأ أيضا"), match_key("اقرأ كذلك")}
)
_DATE_KEY = match_key("تاريخ النشر")
_OUTLET_KEY = match_key("المصدر")
_KEYWORDS_KEY = match_key("كلمات دلالية")

_SENTENCE_END = frozenset(".!?؟…:؛")
_CLOSERS = frozenset("\"'»”’)]")
# A sentence end glued to the next word: "أوكرانيا.وأضاف". The word before must have 3+ letters
# and the one after too, so abbreviations ("أ.ف.ب", "U.S.") and domains ("العربية.نت") do not count.
_GLUE = re.compile(r"[^\W\d_]{3}[.!؟]([\"»”]?)(?=[^\W\d_]{3})")
_INNER_SENTENCE_END = re.compile(r"[.!?؟]\S*\s")
# Particles that cannot end a headline: a "headline" ending in one is really a sentence going on.
_OPEN_ENDED = frozenset(
    match_key(word)
    for word in [
        "الذي",
        "التي",
        "الذين",
        "اللذين",
        "اللتين",
        "اللواتي",
        "اللاتي",
        "قد",
        "لقد",
        "أن",
        "إن",
        "بأن",
        "لأن",
        "كي",
        "لكي",
        "حتى",
        "لن",
        "لم",
        "لا",
        "ما",
        "إذا",
        "لو",
        "عن",
        "من",
        "في",
        "على",
        "إلى",
        "مع",
        "أو",
        "ثم",
        "بل",
        "لكن",
        "كان",
        "كانت",
        "بعد",
        "قبل",
        "منذ",
    ]
)
_WORD = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"\S+")
MAX_GLUED_TEASERS_PER_LINE = 20
_PAREN_TAIL = re.compile(r"\(([^()]{1,40})\)$")


# --------------------------------------------------------------------------- line helpers


def _lines(text: str) -> list[str]:
    """Split into whitespace-stripped lines; BOM and CR/CRLF line endings are normalised away."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in text.split("\n")]


def _key(line: str) -> str:
    return match_key(line).rstrip(":：").strip()


def _prefixed_value(line: str, marker_key: str) -> str | None:
    """Text after `marker:` when the line starts with that marker (spelling variants allowed)."""
    head, sep, tail = line.partition(":")
    if not sep or len(head) > 40:
        return None
    return tail.strip() if match_key(head) == marker_key else None


def _ends_sentence(line: str) -> bool:
    """True when the line ends in sentence-final punctuation, looking through closing quotes."""
    stripped = line.rstrip()
    while stripped and stripped[-1] in _CLOSERS:
        stripped = stripped[:-1].rstrip()
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def _word_count(line: str) -> int:
    return len(line.split())


def _is_title_like(line: str) -> bool:
    """A headline: a few words, not too long, no sentence-final punctuation except a short
    headline's "!" or "؟" ("وداعا لمعجون الأسنان !")."""
    words = _word_count(line)
    if not (4 <= words <= 22 and len(line) <= 160):
        return False
    exclaims = line.rstrip("\"'»”) ").endswith(("!", "؟", "?")) and not line.rstrip().endswith(("..", "…"))
    return not _ends_sentence(line) or (exclaims and words <= 15)


def _is_body_like(line: str) -> bool:
    return _word_count(line) >= 8 or (_ends_sentence(line) and _word_count(line) >= 4)


def _is_byline(line: str) -> bool:
    """Teaser byline: an outlet or author and a place, e.g. «الوكالة» (المدينة) or 'Name (City)'."""
    tail = _PAREN_TAIL.search(line)
    if tail is None:
        return len(line) <= 40 and line.startswith("«") and line.endswith("»")
    before = line[: tail.start()].strip()
    return (
        0 < _word_count(before) <= 5
        and _word_count(tail.group(1)) <= 3
        and not any(ch in _SENTENCE_END for ch in before if ch != ":")
    )


def _ends_with_credit(line: str) -> bool:
    """Photo caption shape: ends with a short parenthesised credit such as (رويترز)."""
    return _PAREN_TAIL.search(line) is not None and _word_count(line) >= 4


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _article(title: str, paragraphs: list[str], page_format: str, **kwargs: object) -> ParsedArticle:
    return ParsedArticle(
        title=title,
        body="\n\n".join(paragraphs),
        paragraphs=paragraphs,
        page_format=page_format,
        **kwargs,  # type: ignore[arg-type]
    )


def _with_roles(articles: list[ParsedArticle]) -> list[ParsedArticle]:
    for index, article in enumerate(articles):
        article.role = "main" if index == 0 else "secondary"
    return articles


# --------------------------------------------------------------------------- inline teasers

# What separates an opener from its headline: colon, two or more dots, ellipsis, or a dash/bar.
_TEASER_SEPARATOR = re.compile(r"\s*(?::|\.{2,}|…|\s[-–—|]\s|[–—|])\s*")
_TEASER_MAX_LINE = 300
_TEASER_MAX_PREFIX_WORDS = 5


@functools.lru_cache(maxsize=1)
def _opener_rows() -> dict[str, frozenset[str]]:
    """Resource rows by kind: "mined"/"curated" teaser openers and "speech" verbs, match_key form."""
    kinds: dict[str, set[str]] = {}
    for row in _TEASER_OPENERS_PATH.read_text(encoding="utf-8").splitlines():
        if row and not row.startswith("#"):
            phrase, kind = row.split("\t")[:2]
            kinds.setdefault(kind, set()).add(phrase)
    return {kind: frozenset(phrases) for kind, phrases in kinds.items()}


def teaser_openers() -> frozenset[str]:
    """Phrases (match_key form) that open an inline related-article line: "للمزيد", "قد يهمك", ..."""
    rows = _opener_rows()
    return rows.get("mined", frozenset()) | rows.get("curated", frozenset())


# Function words carry no teaser cue of their own ("قد يهمك" is cued by "يهمك", not by "قد").
_CUE_STOPWORDS = frozenset({"قد", "من", "لك", "لكم", "على", "عن", "في", "ما", "ربما", "ذات", "ذو", "الى", "مع"})
# One-letter clitics only: "ال" stays, so a name such as "الشاهد" is not the verb "شاهد".
_CUE_PREFIXES = ("و", "ف", "ب", "ل")
_CUE_SUFFIXES = ("كم", "وا", "ات", "ك")


def _cue_stem(word: str) -> str:
    """A light stem for cue matching: clitics and 2nd-person/plural endings off ("اقرأوا" -> "اقرا")."""
    for prefix in _CUE_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    for suffix in _CUE_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@functools.lru_cache(maxsize=1)
def _cue_words() -> frozenset[str]:
    """Stems of the content words of the listed openers, minus the words of speech verbs."""
    speech = {_cue_stem(word) for phrase in _opener_rows().get("speech", ()) for word in phrase.split()}
    words = {_cue_stem(word) for phrase in teaser_openers() for word in phrase.split() if word not in _CUE_STOPWORDS}
    return frozenset(words - speech)


def _cued_prefix(prefix: list[str]) -> bool:
    """An unlisted opener made of listed cue words ("مقال ذو صلة", "شاهدوا أيضا"): at most four
    words, and cue words are at least half of its content words."""
    content = [word for word in prefix if word not in _CUE_STOPWORDS]
    if not content or len(prefix) > 4:
        return False
    cues = _cue_words()
    return 2 * sum(1 for word in content if _cue_stem(word) in cues) >= len(content)


def _teaser_opener_end(line: str, listed_only: bool = False) -> int | None:
    """Index where the headline starts when `line` opens with a teaser opener, else None.

    One-word openers ("للمزيد", "أيضاً") need a separator after them; longer ones ("اقرأ أيضا",
    "قد يهمك") may also be followed by the headline directly.
    """
    openers = teaser_openers()
    found = _TEASER_SEPARATOR.search(line, 0, min(len(line), 60))
    if found is not None and found.start() > 0:
        words = line[: found.start()].split()
        prefix = [key for word in words for key in _word_key(word).split()]
        # The opener may carry a few more words before the separator: "اقرأ أيضاً على موقعنا:".
        if len(prefix) <= _TEASER_MAX_PREFIX_WORDS and (
            any(" ".join(prefix[:count]) in openers for count in range(min(len(prefix), 4), 0, -1))
            or (not listed_only and _cued_prefix(prefix))
        ):
            return found.end()
    tokens = list(_TOKEN.finditer(line, 0, min(len(line), 60)))[:5]
    if len(tokens) < 3 or _word_key(tokens[0].group()) not in _opener_first_words():
        return None
    keys = [_word_key(token.group()) for token in tokens]
    for count in (4, 3, 2):
        if len(tokens) > count and " ".join(keys[:count]) in openers:
            return tokens[count].start()
    return None


@functools.lru_cache(maxsize=1 << 16)
def _word_key(word: str) -> str:
    """match_key of one word, cached: body lines repeat the same few opening words."""
    return match_key(word)


@functools.lru_cache(maxsize=1)
def _opener_first_words() -> frozenset[str]:
    return frozenset(phrase.split()[0] for phrase in teaser_openers() if phrase)


def _headline_shaped(text: str) -> bool:
    """A headline after a teaser opener: short, not ending like a sentence or a lead-in.

    Headlines may hold "..", "!" or "؟" anywhere ("رهن.. الـ ONAS !"), but not end in one full stop.
    """
    stripped = text.rstrip("\"'»”)").rstrip()
    single_stop = stripped.endswith(".") and not stripped.endswith("..")
    return (
        1 <= _word_count(text) <= 30
        and len(text) <= 250
        and not single_stop
        and not stripped.endswith(("،", ","))
    )


def inline_teaser(line: str) -> RelatedItem | None:
    """The related item of a body line "<opener> <sep> <headline>", or None for any other line.

    Repeated openers ("للمزيد - للمزيد : ...") are all stripped; the headline is the original text.
    """
    if not line or len(line) > _TEASER_MAX_LINE:
        return None
    start = _teaser_opener_end(line)
    if start is None:
        return None
    headline = line[start:].strip()
    for _ in range(2):  # only listed openers repeat; a cue-word match here would eat the headline
        again = _teaser_opener_end(headline, listed_only=True)
        if again is None:
            break
        headline = headline[again:].strip()
    if not headline or not _headline_shaped(headline):
        return None
    return RelatedItem(headline=headline)


def is_teaser_header(line: str) -> bool:
    """A line that is only a teaser opener ("اقرأ أيضاً:"): the next lines are related headlines."""
    if not line or len(line) > 60:
        return False
    return _key(line).rstrip(".…-–—| ").strip() in teaser_openers()


def strip_inline_teasers(paragraphs: list[str]) -> tuple[list[str], list[RelatedItem]]:
    """Body paragraphs without their inline related-article lines, and those lines as items.

    A bare opener line ("اقرأ أيضاً:") takes the headline-shaped line after it as a teaser, and
    up to four more short headlines right after that (a list of links).
    """
    kept: list[str] = []
    related: list[RelatedItem] = []
    taken = -1  # headlines taken since the last bare opener line; -1: none open
    for paragraph in paragraphs:
        teaser = inline_teaser(paragraph)
        if teaser is not None:
            related.append(teaser)
            taken = -1
        elif is_teaser_header(paragraph):
            taken = 0
        elif taken == 0 and _headline_shaped(paragraph) or (
            0 < taken < 5 and _headline_shaped(paragraph) and _is_title_like(paragraph) and _word_count(paragraph) <= 15
        ):
            related.append(RelatedItem(headline=paragraph))
            taken += 1
        else:
            taken = -1
            kept.append(paragraph)
    return kept, related


# --------------------------------------------------------------------------- format detection


def _marker_kinds(lines: list[str]) -> set[str]:
    kinds: set[str] = set()
    for line in lines:
        if not line or len(line) > 300:
            continue
        if line == "TT":
            kinds.add("tt")
            continue
        key = _key(line)
        if key in _RELATED_KEYS:
            kinds.add("related")
        elif key in _READ_MORE_KEYS:
            kinds.add("read_more")
        elif _prefixed_value(line, _DATE_KEY) is not None:
            kinds.add("date")
        elif _prefixed_value(line, _OUTLET_KEY) is not None:
            kinds.add("outlet")
        elif _prefixed_value(line, _KEYWORDS_KEY) is not None:
            kinds.add("keywords")
    return kinds


def _format_of(lines: list[str]) -> str:
    kinds = _marker_kinds(lines)
    if "tt" in kinds:
        return "asharq"
    if kinds & {"date", "outlet", "keywords", "read_more"}:
        return "aggregator"
    if "related" in kinds:
        return "asharq"
    return "generic"


def detect_format(text: str) -> str:
    """Layout of a decoded plain-text page: "asharq", "aggregator" or "generic"."""
    return _format_of(_lines(text))


# --------------------------------------------------------------------------- asharq layout


def _parse_teasers(block: list[str]) -> list[RelatedItem]:
    """Teasers of a related block: [section+caption] headline summary [byline], in any mix.

    A ')'-ending line right after a headline is its summary unless the headline repeats next
    (the first teaser shows its headline both before and after its caption).
    """
    items: list[RelatedItem] = []
    headline = summary = ""

    def close(byline: str = "") -> None:
        nonlocal headline, summary
        if headline:
            items.append(RelatedItem(headline=headline, summary=summary, byline=byline))
        headline = summary = ""

    for index, line in enumerate(block):
        following = block[index + 1] if index + 1 < len(block) else ""
        if headline and _is_byline(line):
            close(line)
        elif not headline:
            if _ends_with_credit(line) and following and not _is_byline(following):
                continue  # section + caption line opening a teaser
            headline = line
        elif not summary:
            if line == headline:
                continue
            if _ends_with_credit(line) and following == headline:
                continue  # the caption between a headline and its repetition
            summary = line
        else:  # headline and summary seen, no byline: this line opens the next teaser
            close()
            if not (_ends_with_credit(line) and following and not _is_byline(following)):
                headline = line
    close()
    unique: dict[str, RelatedItem] = {}
    for item in items:
        unique.setdefault(item.headline, item)
    return list(unique.values())


@dataclass
class _AsharqStart:
    start: int  # first line of the article's header (first title occurrence)
    title: str
    captions: list[str]
    body_start: int


def _asharq_start(lines: list[str], tt: int, floor: int) -> _AsharqStart | None:
    after = next((i for i in range(tt + 1, len(lines)) if lines[i]), None)
    if after is None:
        return None
    title = lines[after]
    title_key = _key(title)
    start, pre_captions = tt, []
    # Look back (at most a dozen lines) for the first showing of the title; lines between are captions.
    for i in range(tt - 1, max(floor, tt - 13) - 1, -1):
        if lines[i] and _key(lines[i]) == title_key:
            start = i
            pre_captions = [line for line in lines[i + 1 : tt] if line]
            break
    caption_set = set(pre_captions)
    captions = list(pre_captions)
    body_start = after + 1
    while body_start < len(lines):
        line = lines[body_start]
        nxt = lines[body_start + 1] if body_start + 1 < len(lines) else ""
        if not line or line == title:
            body_start += 1
        elif line in caption_set or line == nxt:  # captions are shown twice in a row
            captions.append(line)
            caption_set.add(line)
            body_start += 1
        else:
            break
    return _AsharqStart(start=start, title=title, captions=_dedupe(captions), body_start=body_start)


def _split_asharq(lines: list[str]) -> list[ParsedArticle]:
    starts: list[_AsharqStart] = []
    floor = 0
    for index, line in enumerate(lines):
        if line == "TT" and index >= floor:
            found = _asharq_start(lines, index, floor)
            if found is not None:
                starts.append(found)
                floor = found.body_start
    if not starts:  # related marker but no TT: first line is the title
        first = next((i for i, line in enumerate(lines) if line), None)
        if first is None:
            return []
        starts.append(_AsharqStart(start=first, title=lines[first], captions=[], body_start=first + 1))

    articles: list[ParsedArticle] = []
    for number, head in enumerate(starts):
        end = starts[number + 1].start if number + 1 < len(starts) else len(lines)
        # The related block is the last "مقالات ذات صلة" of the article: an earlier one inside the
        # body heads an inline teaser ("مواضيع ذات صلة:" + one headline, then the story goes on).
        related_at = next(
            (i for i in range(end - 1, head.body_start - 1, -1) if lines[i] and len(lines[i]) <= 40
             and _key(lines[i]) in _RELATED_KEYS),
            end,
        )
        boiler = set(head.captions) | {"TT", head.title}
        paragraphs = [line for line in lines[head.body_start : related_at] if line and line not in boiler]
        paragraphs, related = strip_inline_teasers(paragraphs)
        related += _parse_teasers([line for line in lines[related_at + 1 : end] if line])
        if not paragraphs:
            continue
        articles.append(_article(head.title, paragraphs, "asharq", image_captions=head.captions, related=related))
    return _with_roles(articles)


# --------------------------------------------------------------------------- aggregator layout


@functools.lru_cache(maxsize=1)
def lede_words() -> frozenset[str]:
    """Words (match_key form) that open news ledes far more often than they occur in headlines."""
    words = []
    for row in _LEDE_WORDS_PATH.read_text(encoding="utf-8").splitlines():
        if row and not row.startswith("#"):
            words.append(row.split("\t", 1)[0])
    return frozenset(words)


def cut_glued_teaser(line: str) -> tuple[RelatedItem | None, str]:
    """Split `headline summary.Body...` into the teaser and the body rest; (None, line) if not glued.

    Evidence needed, all of it: a sentence end glued to the next word with no space, one sentence
    before it, a lede-opening word at least four words in (where the headline stops), no comma in
    the headline nor a "و/ف + lede verb" opening it, and a body rest of two words or more.
    """
    glue = _GLUE.search(line, 0, min(len(line), 1500))
    if glue is None:
        return None, line
    cut = glue.start(1) + len(glue.group(1))
    fragment, rest = line[:cut].strip(), line[cut:].strip()
    if _word_count(rest) < 2 or _INNER_SENTENCE_END.search(fragment):
        return None, line  # the teaser is one headline and one summary sentence
    spans = [match.span() for match in _TOKEN.finditer(fragment, 0, 1500)]
    lede = lede_words()
    opener = _WORD.findall(match_key(fragment[slice(*spans[0])])) if spans else []
    if not opener or opener[0] in lede or (opener[0][:1] in "وف" and opener[0][1:] in lede):
        return None, line  # "قال ..."/"وقال ..." opens a story sentence, not a headline
    for index in range(1, min(len(spans) - 4, 26)):
        previous = fragment[slice(*spans[index - 1])]
        if any(ch in "،,.!؟" for ch in previous):
            return None, line  # headlines carry no comma or sentence end
        if index < 4:
            continue
        token = _WORD.findall(match_key(fragment[slice(*spans[index])]))
        last = _WORD.findall(match_key(previous))
        if token and token[0] in lede and not (last and last[-1] in _OPEN_ENDED):
            headline = fragment[: spans[index][0]].strip()
            summary = fragment[spans[index][0] :].strip()
            return RelatedItem(headline=headline, summary=summary), rest
    return None, line


_NUMBERED_ITEM = re.compile(r"^\d{1,2}(?::\d{2})?\s*[:.)-]")


def _is_date_line(line: str) -> bool:
    from pipeline.lib.dates import parse_published

    return parse_published(line) is not None


def _may_open_headline(line: str) -> bool:
    """False for lines no headline starts like: list items ("* ...", "- ...", "18: ..."), a date
    line, and story sentences that open with a lede verb or "و/ف + lede verb" ("وقال ...")."""
    if not line[:1].isalnum() and line[:1] not in "\"'«“(":
        return False
    if _NUMBERED_ITEM.match(line) or _continues_story(line) or (_word_count(line) <= 6 and _is_date_line(line)):
        return False  # "14:30 : الترجي - اتحاد تطاوين", "18: ...", "الأربعاء 15 فيفري 2017"
    opener = _WORD.findall(match_key(line.split(maxsplit=1)[0]))
    lede = lede_words()
    return not (opener and (opener[0] in lede or (opener[0][:1] in "وف" and opener[0][1:] in lede)))


# Words that open a paragraph continuing a story, besides "و/ف + lede verb" ("وأضاف", "فقال").
_CONTINUATION_OPENERS = frozenset(
    match_key(phrase)
    for phrase in ["كما", "يذكر", "وكان", "وكانت", "وفي", "وقد", "من جهته", "من جهتها", "من جانبه", "من جانبها", "في المقابل"]
)


def _continues_story(line: str) -> bool:
    """True for a paragraph that goes on with a story ("وأضاف ...", "كما ..."), which no story opens
    with: on ANT, 0.12 % of first paragraphs and 51 % of later ones start like this."""
    words = _WORD.findall(match_key(line[:40]))[:2]
    if not words:
        return False
    first = words[0]
    if first in _CONTINUATION_OPENERS or " ".join(words) in _CONTINUATION_OPENERS:
        return True
    return first[:1] in "وف" and first[1:] in lede_words()


def _content_words(text: str) -> set[str]:
    return {word for word in _WORD.findall(match_key(text)) if len(word) >= 3 and word not in _OPEN_ENDED}


SUBHEADING_OVERLAP = 0.5


def _continues(draft: _Draft, line: str) -> bool:
    """A headline-shaped line that shares half its words with the article's title is one of its
    subheadings ("برنامج مقابلات اليوم" under "...: برنامج مقابلات اليوم"), not a new article."""
    words = _content_words(line)
    if not words:
        return False
    seen = _content_words(draft.title) | _content_words(" ".join(draft.paragraphs))
    return len(words & seen) >= SUBHEADING_OVERLAP * len(words)


@dataclass
class _Draft:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    published_raw: str = ""
    outlet: str = ""
    keywords_raw: str = ""
    related: list[RelatedItem] = field(default_factory=list)
    closed: bool = False  # a source/keywords line ended its body


def _split_aggregator(lines: list[str]) -> list[ParsedArticle]:
    content = [line for line in lines if line]
    drafts: list[_Draft] = []
    current: _Draft | None = None
    expect_title = True
    # On a page that marks its next article with "إقرأ أيضاً:", the main article runs up to that
    # marker: a headline-shaped line inside it (a subheading, a list, a teaser) is no new article.
    # After the marker, several articles may follow one another unmarked.
    before_marker = any(_key(line) in _READ_MORE_KEYS for line in content if len(line) <= 40)
    # The main article ends at its source/keywords lines: a read-more marker above them heads an
    # inline teaser ("إقرأ أيضا:" then one headline, then the story goes on), not the next article.
    closing_at = next(
        (
            index
            for index, line in enumerate(content)
            if _prefixed_value(line, _OUTLET_KEY) is not None or _prefixed_value(line, _KEYWORDS_KEY) is not None
        ),
        -1,
    )
    teaser_header_open = False  # the previous line was a bare opener such as "قد يهمك:"
    for index, line in enumerate(content):
        key = _key(line) if len(line) <= 300 else ""
        if key in _READ_MORE_KEYS:
            if current is not None and len(drafts) == 1 and not current.closed and index < closing_at:
                teaser_header_open = True
                continue
            expect_title = True
            before_marker = False
            continue
        if (value := _prefixed_value(line, _DATE_KEY)) is not None:
            if current is not None and not current.published_raw:
                current.published_raw = value
            continue
        if (value := _prefixed_value(line, _OUTLET_KEY)) is not None:
            if current is not None:
                current.outlet = current.outlet or value
                current.closed = True
            continue
        if (value := _prefixed_value(line, _KEYWORDS_KEY)) is not None:
            if current is not None:
                current.keywords_raw = current.keywords_raw or value
                current.closed = True
            continue
        if current is not None:
            teaser = inline_teaser(line)
            if teaser is None and teaser_header_open and _headline_shaped(line):
                teaser = RelatedItem(headline=line)
            teaser_header_open = is_teaser_header(line)
            if teaser is not None:
                current.related.append(teaser)
                continue
            if teaser_header_open:
                continue
        following = content[index + 1] if index + 1 < len(content) else ""
        if current is not None and expect_title and _headline_shaped(line) and _continues_story(following):
            # "إقرأ أيضاً:" + a headline, then the same story goes on: the headline is a teaser.
            current.related.append(RelatedItem(headline=line))
            expect_title = False
            continue
        starts_article = (
            current is None
            or current.closed
            or expect_title
            or (
                not before_marker
                and bool(current.paragraphs)
                and _is_title_like(line)
                and _may_open_headline(line)
                and not _continues(current, line)
                and not _continues_story(following)
                and (_prefixed_value(following, _DATE_KEY) is not None or _is_body_like(following))
                and _ends_sentence(current.paragraphs[-1])
            )
        )
        if starts_article:
            current = _Draft(title=line)
            drafts.append(current)
            expect_title = False
            continue
        assert current is not None
        rest = line
        # A line may carry more than one glued teaser. Each cut copies the rest of the line, so a
        # bound keeps a pathological megabyte line of teaser-shaped sentences linear.
        for _ in range(MAX_GLUED_TEASERS_PER_LINE):
            teaser, rest = cut_glued_teaser(rest)
            if teaser is None:
                break
            current.related.append(teaser)
        current.paragraphs.append(rest)

    articles: list[ParsedArticle] = []
    for draft in drafts:
        if not draft.paragraphs:
            # A headline with no body ("إقرأ أيضاً:" + one line) is a teaser of the article before.
            if articles:
                articles[-1].related.append(RelatedItem(headline=draft.title))
                articles[-1].related.extend(draft.related)
            continue
        articles.append(
            _article(
                draft.title,
                draft.paragraphs,
                "aggregator",
                published_raw=draft.published_raw,
                outlet=draft.outlet,
                keywords_raw=draft.keywords_raw,
                related=draft.related,
            )
        )
    return _with_roles(articles)


# --------------------------------------------------------------------------- entry points


def _split_generic(lines: list[str]) -> list[ParsedArticle]:
    content = [line for line in lines if line]
    if not content:
        return []
    paragraphs, related = strip_inline_teasers(content[1:])
    return [_article(content[0], paragraphs, "generic", related=related)]


def article_from_fields(title: str, body: str, page_format: str = "jsonl") -> ParsedArticle:
    """One article whose producer already separated title and body (JSONL, feeds)."""
    return _article(title.strip(), [line for line in _lines(body) if line], page_format)


def split_page(text: str) -> list[ParsedArticle]:
    """Every full article of a plain-text page in order; [0] is "main", the rest "secondary".

    Never raises on odd input: an unknown layout is one generic article, blank text is [].
    """
    lines = _lines(text)
    page_format = _format_of(lines)
    if page_format == "asharq":
        articles = _split_asharq(lines)
    elif page_format == "aggregator":
        articles = _split_aggregator(lines)
    else:
        articles = []
    # A recognised layout that yields no article with a body still deserves its text kept.
    return articles or _split_generic(lines)


@dataclass
class HtmlMetadata:
    """What an HTML page says about itself: canonical URL, outlet and publication date (raw)."""

    url: str = ""
    outlet: str = ""
    published_raw: str = ""


_DATE_LINE_MAX = 80  # a visible date line ("نشر في ١٤ سبتمبر ٢٠٢٣"), not a sentence that names a date


def _attribute(tree: Any, xpath: str) -> str:
    for value in tree.xpath(xpath):
        value = " ".join(str(value).split())
        if value:
            return value
    return ""


def _absolute_url(value: str, base: str) -> str:
    if not value:
        return ""
    joined = urljoin(base, value) if base else value
    return joined if urlsplit(joined).scheme in ("http", "https") and urlsplit(joined).netloc else ""


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    return host.removeprefix("www.")


def html_metadata(tree: Any, url: str = "") -> HtmlMetadata:
    """URL from <link rel=canonical>, else og:url, else `url`; outlet from og:site_name (may be
    empty); date from the page's own metadata via htmldate (article:published_time, JSON-LD
    datePublished, <time datetime>, ...), the original publication date before any update."""
    from htmldate import find_date  # heavy import, only needed for HTML input

    canonical = _attribute(
        tree, "//link[contains(concat(' ', translate(@rel, 'CANOICL', 'canoicl'), ' '), ' canonical ')]/@href"
    )
    og_url = _attribute(tree, "//meta[@property='og:url' or @name='og:url']/@content")
    page_url = _absolute_url(canonical, url) or _absolute_url(og_url, url) or url
    outlet = _attribute(tree, "//meta[@property='og:site_name' or @name='og:site_name']/@content")
    published = _published_timestamp(tree)
    if not published:
        try:
            published = find_date(
                tree, url=page_url or None, extensive_search=False, original_date=True,
                outputformat="%Y-%m-%dT%H:%M:%S%z",
            ) or ""
        except (ValueError, TypeError):  # htmldate on odd markup: no metadata date
            published = ""
    return HtmlMetadata(url=page_url, outlet=outlet, published_raw=published or _dated_element(tree))


# Elements whose class or id says they hold the date ("post-date", "article__time", "publish-info").
_DATED_ELEMENT_XPATH = (
    "//*[not(self::script or self::style)][contains(translate(@class, 'DATEIMPUBLS', 'dateimpubls'), 'date')"
    " or contains(translate(@class, 'DATEIMPUBLS', 'dateimpubls'), 'time')"
    " or contains(translate(@class, 'DATEIMPUBLS', 'dateimpubls'), 'publish')"
    " or contains(translate(@id, 'DATEIMPUBLS', 'dateimpubls'), 'date')]"
)


def _dated_element(tree: Any) -> str:
    """The text of a short date-classed element that parses as a date: htmldate reads no Arabic
    month names, so "الخميس 14 سبتمبر 2023 - 10:30" in <span class="date"> is read here."""
    from pipeline.lib.dates import parse_published

    for element in tree.xpath(_DATED_ELEMENT_XPATH)[:20]:
        text = " ".join(element.text_content().split())
        if text and len(text) <= _DATE_LINE_MAX and parse_published(text) is not None:
            return text
    return ""


# Publication timestamps as the standard tags write them, most specific first. htmldate reads these
# too but keeps only the day for some (article:published_time "…T23:30:00+03:00" -> "…T00:00:00"),
# which puts a late-evening story on the wrong UTC day; so they are read here with time and zone.
_PUBLISHED_XPATHS = (
    "//meta[@property='article:published_time' or @name='article:published_time']/@content",
    "//meta[@property='og:article:published_time' or @property='og:published_time']/@content",
    "//*[@itemprop='datePublished']/@content",
    "//*[@itemprop='datePublished']/@datetime",
    "//meta[@name='pubdate' or @name='publishdate' or @name='parsely-pub-date' or @name='sailthru.date']/@content",
    "//meta[translate(@name, 'DCTERMSISUEDAT', 'dctermsisuedat')='dc.date.issued' or @name='dcterms.issued']/@content",
)
_JSONLD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')


def _published_timestamp(tree: Any) -> str:
    """The first ISO-8601 publication timestamp in the page's metadata tags or JSON-LD, or ""."""
    from pipeline.lib.dates import parse_published

    candidates = [_attribute(tree, xpath) for xpath in _PUBLISHED_XPATHS]
    for script in tree.xpath("//script[@type='application/ld+json']/text()"):
        candidates += _JSONLD_PUBLISHED.findall(str(script))
    for value in candidates:
        if value and value[:4].isdigit() and parse_published(value) is not None:
            return value
    return ""


def _text_date(paragraphs: list[str]) -> str:
    """A short visible line near the top that parses as a date: the fallback when metadata has none."""
    from pipeline.lib.dates import parse_published

    for line in paragraphs[:5]:  # a date line sits under the headline, not deep in the story
        if len(line) <= _DATE_LINE_MAX and parse_published(line) is not None:
            return line
    return ""


def extract_html(html: str, url: str = "") -> list[ParsedArticle]:
    """Articles of an HTML page via trafilatura, with the page's url, outlet and date metadata.

    When the extracted text itself carries asharq/aggregator markers it goes through split_page
    and keeps that layout's page_format; otherwise one article with page_format "html". Title and
    body keep the page's text; inline related-article lines go to `related`.
    """
    import trafilatura  # heavy import, only needed for HTML input
    from trafilatura.utils import load_html

    tree = load_html(html) if html.strip() else None
    if tree is None:
        return []
    head = html_metadata(tree, url)  # before extraction, which prunes the tree
    document = trafilatura.bare_extraction(
        tree, url=url or None, with_metadata=True, include_comments=False, include_tables=False
    )
    if document is None:
        return []
    meta = document if isinstance(document, dict) else document.as_dict()
    text = meta.get("text") or ""
    title = " ".join((meta.get("title") or "").split())
    outlet = head.outlet or " ".join((meta.get("sitename") or "").split()) or _host(head.url)
    if _format_of(_lines(text)) != "generic":
        articles = split_page(text)
        for article in articles:
            article.url = head.url
        if articles:
            main = articles[0]
            main.published_raw = main.published_raw or head.published_raw
            main.outlet = main.outlet or outlet
        return articles
    paragraphs = [line for line in _lines(text) if line]
    if paragraphs and title and _key(paragraphs[0]) == _key(title):
        paragraphs = paragraphs[1:]  # some extractions repeat the headline as the first line
    if not title:
        if not paragraphs:
            return []
        title, paragraphs = paragraphs[0], paragraphs[1:]
    published = head.published_raw
    if not published and (published := _text_date(paragraphs)):
        paragraphs = [line for line in paragraphs if line != published]  # a date line is no body
    paragraphs, related = strip_inline_teasers(paragraphs)
    return [
        _article(
            title, paragraphs, "html", published_raw=published, outlet=outlet, url=head.url, role="main",
            related=related,
        )
    ]
