"""Plain data types that pipeline/lib functions return; transforms turn them into protos."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EntityMention:
    surface: str  # exactly text[start:end]
    type: str  # PER | LOC | ORG | MISC
    start: int
    end: int
    canonical: str = ""  # English canonical name where linked, else ""
    wikidata_id: str = ""  # "Q..." only where certain, else ""


@dataclass(frozen=True)
class TopicScore:
    code: str  # IPTC Media Topic code, e.g. "11000000"
    label: str
    score: float


@dataclass(frozen=True)
class RelatedItem:
    headline: str
    summary: str = ""
    byline: str = ""


@dataclass
class ParsedArticle:
    """One article cut out of a page, before enrichment."""

    title: str
    body: str  # paragraphs joined with "\n\n", original characters
    paragraphs: list[str]
    page_format: str  # asharq | aggregator | html | jsonl | feed | generic
    role: str = "main"  # main | secondary
    image_captions: list[str] = field(default_factory=list)
    published_raw: str = ""  # the date text as found on the page, parsed later by lib.dates
    outlet: str = ""
    keywords_raw: str = ""
    url: str = ""
    language_hint: str = ""
    related: list[RelatedItem] = field(default_factory=list)
