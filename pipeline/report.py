"""One self-contained HTML page describing a newspipe output (or one run of it), for `newspipe report`.

Everything the page needs is inside it: CSS inline, charts as hand-built inline SVG, no scripts, and a
Content-Security-Policy that forbids any network fetch at view time. Charts are built by hand rather
than with matplotlib because the browser shapes Arabic labels correctly in SVG <text>, which
matplotlib cannot. Titles, outlets and entity names are untrusted input: every string goes through
html.escape, and Arabic text sits in elements with dir="rtl" lang="ar".
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import duckdb

from pipeline import __version__
from pipeline.config import S3Settings
from pipeline.io import duck

TOP_N = 15
MAX_STORIES = 25
LATEST_N = 20
_QID = re.compile(r"^Q[1-9][0-9]*$")
_RTL_CHAR = re.compile(r"[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]")
_LTR_CHAR = re.compile(r"[A-Za-z\u00C0-\u024F\u0400-\u04FF]")
_RTL_LANGS = {"ar", "fa", "ur", "he", "ps", "ckb", "yi", "dv", "sd", "ug"}
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")
_PALETTE = ["#2b6cb0", "#2f855a", "#c05621", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568"]

# CSP: no network and no script at view time, even if some escape were ever missed.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, "Segoe UI", "Noto Sans", "Noto Naskh Arabic", "DejaVu Sans", sans-serif;
       margin: 0; background: #f7f8fa; color: #1a202c; font-size: 14px; line-height: 1.45; }
header { background: #1a365d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { opacity: .85; font-size: 12px; word-break: break-all; }
main { padding: 18px 28px 40px; display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr));
       gap: 18px; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 14px 18px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 16px; margin: 0 0 10px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; }
.kpi { background: #edf2f7; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.kpi b { display: block; font-size: 20px; }
.kpi span { font-size: 12px; color: #4a5568; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: start; padding: 4px 8px; border-bottom: 1px solid #edf2f7; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; }
td.num, th.num { text-align: end; font-variant-numeric: tabular-nums; }
svg.chart { max-width: 100%; height: auto; display: block; }
svg.chart text { font-size: 12px; fill: #2d3748; }
svg.chart text.value { fill: #4a5568; font-size: 11px; }
.empty { color: #718096; font-style: italic; }
.story { border-top: 1px solid #e2e8f0; padding: 8px 0; }
.story:first-of-type { border-top: 0; }
.story ul { margin: 4px 0 0; padding-inline-start: 20px; }
.muted { color: #718096; font-size: 12px; }
.ar { font-size: 15px; }
a { color: #2b6cb0; }
code { font-size: 12px; }
"""


# ---------------------------------------------------------------------------------------------
# Escaping and direction.


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def is_rtl(text: str) -> bool:
    """True when right-to-left letters (Arabic, Hebrew script) outnumber Latin/Cyrillic ones."""
    return len(_RTL_CHAR.findall(text or "")) > len(_LTR_CHAR.findall(text or ""))


def text_el(text: Any, language: str | None = None, tag: str = "span") -> str:
    """`text` escaped in an element carrying its direction and language, so the browser shapes it right."""
    s = "" if text is None else str(text)
    lang = language if language and _LANG_CODE.match(language) else ""
    if is_rtl(s):
        lang = lang if lang in _RTL_LANGS else "ar"
        return f'<{tag} dir="rtl" lang="{lang}" class="ar">{esc(s)}</{tag}>'
    lang_attr = f' lang="{lang}"' if lang and lang not in _RTL_LANGS else ""
    return f'<{tag} dir="auto"{lang_attr}>{esc(s)}</{tag}>'


def entity_link(name: str, qid: str | None) -> str:
    label = text_el(name)
    if qid and _QID.match(qid):
        return f'<a href="https://www.wikidata.org/wiki/{qid}" rel="noopener noreferrer">{label}</a> ' \
               f'<span class="muted">{qid}</span>'
    return label


# ---------------------------------------------------------------------------------------------
# Charts: plain SVG, sized by width/height attributes (scaled down by CSS on narrow screens).


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _fmt_num(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def _svg_open(width: float, height: float, title: str) -> str:
    return (f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{esc(title)}</title>')


def hbar_chart(items: Sequence[tuple[str, float]], title: str, unit: str = "") -> str:
    """Horizontal bars, one per (label, value); labels may be Arabic (SVG text is shaped by the browser)."""
    if not items:
        return '<p class="empty">No data.</p>'
    labels = [_short(label) for label, _ in items]
    # Server-side we cannot measure text; 7 px a character is DejaVu Sans at 12 px, the widest fallback.
    label_w = min(300, max(80, 7 * max(len(x) for x in labels) + 12))
    bar_max, row_h, pad = 300, 22, 8
    width = label_w + bar_max + 70
    peak = max(v for _, v in items) or 1
    height = pad * 2 + row_h * len(items)
    parts = [
        _svg_open(width, height, title)
    ]
    for i, ((label, value), short) in enumerate(zip(items, labels)):
        y = pad + i * row_h
        w = max(1.0, bar_max * value / peak)
        color = _PALETTE[i % len(_PALETTE)]
        direction = ' direction="rtl"' if is_rtl(label) else ""
        # For RTL labels the anchor is mirrored: "start" of an RTL run is its right edge.
        anchor = "start" if direction else "end"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h * 0.68:.1f}" text-anchor="{anchor}"{direction}>'
            f'<title>{esc(label)}</title>{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" rx="2" fill="{color}"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + row_h * 0.68:.1f}">{esc(_fmt_num(value))}'
            f'{esc(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def vbar_chart(items: Sequence[tuple[str, float]], title: str) -> str:
    """Vertical bars over an ordered axis (days); every k-th label so they never overlap."""
    if not items:
        return '<p class="empty">No data.</p>'
    left, bottom, top = 64, 72, 14  # room for the rotated day labels
    slot = max(8, min(48, 900 // len(items)))
    width = left + slot * len(items) + 10
    height = 220
    plot_h = height - bottom - top
    peak = max(v for _, v in items) or 1
    every = max(1, len(items) // 12)
    parts = [
        _svg_open(width, height, title),
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 5}" y2="{top + plot_h}" stroke="#a0aec0"/>',
        f'<text class="value" x="{left - 6}" y="{top + 10}" text-anchor="end">{esc(_fmt_num(peak))}</text>',
        f'<text class="value" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (label, value) in enumerate(items):
        h = max(1.0, plot_h * value / peak)
        x = left + i * slot
        parts.append(
            f'<rect x="{x + 2}" y="{top + plot_h - h:.1f}" width="{slot - 4}" height="{h:.1f}" fill="#2b6cb0">'
            f'<title>{esc(label)}: {esc(_fmt_num(value))}</title></rect>'
        )
        if i % every == 0:
            cx, cy = x + slot / 2, top + plot_h + 12
            parts.append(
                f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="end" transform="rotate(-35 {cx:.1f} {cy:.1f})">'
                f"{esc(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Data.


@dataclass
class ReportData:
    output: str
    run_id: str | None
    summary: dict[str, Any]
    languages: list[tuple[str, int]]
    topics: list[tuple[str, str, int, float]]
    entities: list[tuple[str, str, str, int, int, list[str]]]
    pairs: list[tuple[str, str, str, str, int]]
    stories: list[tuple[str, int, list[dict[str, Any]]]]
    story_count: int
    dead_letters: list[tuple[str, str, int]]
    latest: list[tuple[str, str, str, str, list[str], int]]
    manifests: list[dict[str, Any]]
    stories_by_day: list[tuple[str, int]] = field(default_factory=list)  # new stories per first-published day
    top_stories: list[tuple] = field(default_factory=list)  # from the `stories` table


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def collect(con: duckdb.DuckDBPyConnection, output: str, run_id: str | None,
            manifests: list[dict[str, Any]]) -> ReportData:
    """Everything the page shows, as plain Python values (queries over the duck.connect views)."""
    name = "coalesce(nullif(canonical, ''), surface)"
    stories_sql = """
        FROM articles WHERE coalesce(story_id, '') <> '' GROUP BY story_id HAVING count(*) > 1"""
    return ReportData(
        output=output,
        run_id=run_id,
        summary=duck.summary(con, top=TOP_N),
        languages=_rows(con, "SELECT coalesce(lang, 'und'), count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"),
        topics=_rows(con, """
            SELECT coalesce(nullif(label, ''), code), coalesce(code, ''), count(DISTINCT article_id), avg(score)
            FROM topics GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT ?""", [TOP_N]),
        entities=_rows(con, f"""
            SELECT {name} AS name, coalesce(wikidata_id, '') AS qid, mode(type), count(DISTINCT article_id) AS n,
                   count(*) AS mentions, list_sort(list(DISTINCT surface))[1:4]
            FROM entities GROUP BY name, qid ORDER BY n DESC, mentions DESC, name LIMIT ?""", [TOP_N]),
        pairs=_rows(con, f"""
            WITH e AS (
                SELECT article_id, coalesce(nullif(wikidata_id, ''), 'name:' || {name}) AS key,
                       any_value({name}) AS name, any_value(coalesce(wikidata_id, '')) AS qid
                FROM entities GROUP BY 1, 2)
            SELECT any_value(a.name), any_value(a.qid), any_value(b.name), any_value(b.qid), count(*) AS n
            FROM e AS a JOIN e AS b ON a.article_id = b.article_id AND a.key < b.key
            GROUP BY a.key, b.key ORDER BY n DESC, 1, 3 LIMIT ?""", [TOP_N]),
        stories=[
            (sid, int(n), list(members))
            for sid, n, members in _rows(con, f"""
                SELECT story_id, count(*) AS n,
                       list({{'title': title, 'outlet': outlet, 'language': language, 'day': CAST(dt AS VARCHAR),
                              'duplicate_of': duplicate_of}} ORDER BY published_at NULLS LAST, title)
                {stories_sql} ORDER BY n DESC, story_id LIMIT ?""", [MAX_STORIES])
        ],
        story_count=int(_rows(con, f"SELECT count(*) FROM (SELECT story_id {stories_sql})")[0][0]),
        dead_letters=_rows(con, """
            SELECT coalesce(stage, '?'), coalesce(reason, '?'), count(*) FROM dead_letters
            GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"""),
        latest=_rows(con, """
            SELECT title, language, outlet, coalesce(strftime(published_at, '%Y-%m-%d %H:%M'), CAST(dt AS VARCHAR)),
                   [t.label FOR t IN topics], len(entities)
            FROM articles ORDER BY published_at DESC NULLS LAST, title LIMIT ?""", [LATEST_N]),
        manifests=manifests,
        stories_by_day=_rows(con, """
            SELECT strftime(first_published, '%Y-%m-%d') AS day, count(*) FROM stories
            WHERE merged_into IS NULL AND first_published IS NOT NULL GROUP BY 1 ORDER BY 1"""),
        top_stories=_rows(con, """
            SELECT title, article_count, strftime(first_published, '%Y-%m-%d'), strftime(last_published, '%Y-%m-%d'),
                   outlets, [e.name || CASE WHEN coalesce(e.wikidata_id, '') <> '' THEN ' (' || e.wikidata_id || ')'
                             ELSE '' END FOR e IN top_entities][1:3]
            FROM stories WHERE merged_into IS NULL
            ORDER BY article_count DESC, first_published NULLS LAST, story_id LIMIT ?""", [TOP_N]),
    )


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for key, value in d.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((f"{prefix}{key}", float(value)))
    return out


# ---------------------------------------------------------------------------------------------
# HTML.


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """Cells are already-escaped HTML fragments; headers are escaped here."""
    if not rows:
        return '<p class="empty">None.</p>'
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, body: str, wide: bool = False, ident: str = "") -> str:
    cls = ' class="wide"' if wide else ""
    id_attr = f' id="{esc(ident)}"' if ident else ""
    return f"<section{cls}{id_attr}><h2>{esc(title)}</h2>{body}</section>"


def render_html(data: ReportData) -> str:
    s = data.summary
    total = s["articles"] or 1
    kpis = [
        (s["articles"], "articles"), (len(s["by_outlet"]), "outlets"), (len(s["by_language"]), "languages"),
        (len(s["by_day"]), "days"), (data.story_count, "multi-article stories"), (s["dead_letters"], "dead letters"),
        (len(data.manifests), "runs"),
    ]
    sections = [
        _section("Overview", '<div class="kpis">' + "".join(
            f'<div class="kpi"><b>{esc(f"{v:,}")}</b><span>{esc(k)}</span></div>' for v, k in kpis) + "</div>",
            wide=True, ident="overview"),
        _section("Articles per day", vbar_chart(list(s["by_day"].items()), "Articles per day (dt partition)"),
                 ident="per-day"),
        _section("Articles per outlet", hbar_chart(list(s["by_outlet"].items())[:TOP_N], "Articles per outlet"),
                 ident="per-outlet"),
        _section("Language mix", hbar_chart(
            [(f"{lang} ({100 * n / total:.0f}%)", n) for lang, n in data.languages], "Articles per language"),
            ident="languages"),
        _section("Topics (IPTC Media Topics)", hbar_chart(
            [(f"{label} ({code})" if code and code != label else label, n) for label, code, n, _ in data.topics],
            "Articles per IPTC topic"), ident="topics"),
    ]

    entity_rows = [
        [entity_link(name, qid), esc(etype), str(n), str(mentions),
         text_el("، ".join(surfaces or []))]  # one run of text, so the Arabic comma list reads right to left
        for name, qid, etype, n, mentions, surfaces in data.entities
    ]
    sections.append(_section("Top entities", _table(
        ["Entity", "Type", "Articles", "Mentions", "Surface forms"], entity_rows, numeric=(2, 3)), ident="entities"))
    pair_rows = [[entity_link(a, qa), entity_link(b, qb), str(n)] for a, qa, b, qb, n in data.pairs]
    sections.append(_section("Entity co-occurrence (same article)", _table(
        ["Entity", "Entity", "Articles"], pair_rows, numeric=(2,)), ident="cooccurrence"))

    latest_rows = [
        [text_el(title or "(untitled)", lang), text_el(outlet or "—"), esc(when or "—"), esc(lang or "und"),
         esc(", ".join(labels or [])), str(n_ents)]
        for title, lang, outlet, when, labels, n_ents in data.latest
    ]
    sections.append(_section(f"Latest articles (up to {LATEST_N})", _table(
        ["Title", "Outlet", "Published", "Lang", "Topics", "Entities"], latest_rows, numeric=(5,)),
        wide=True, ident="latest"))

    story_html = []
    for sid, n, members in data.stories:
        items = "".join(
            "<li>" + text_el(m.get("title") or "(untitled)", m.get("language"))
            # The outlet is its own direction-isolated element, so an Arabic outlet name cannot reorder the date.
            + f' <span class="muted">— {text_el(m.get("outlet") or "?")}, {esc(m.get("day") or "?")}'
            + (" (duplicate)" if m.get("duplicate_of") else "") + "</span></li>"
            for m in members
        )
        story_html.append(f'<div class="story"><b>{n} articles</b> <code>{esc(sid)}</code><ul>{items}</ul></div>')
    more = data.story_count - len(data.stories)
    if more > 0:
        story_html.append(f'<p class="muted">… and {more} more.</p>')
    sections.append(_section("Story clusters (story_id with more than one article)",
                             "".join(story_html) or '<p class="empty">None.</p>', wide=True, ident="stories"))

    top_rows = [
        [text_el(title or "(untitled)"), str(n), esc(first or "—") + " → " + esc(last or "—"),
         esc(", ".join(outlets or [])), esc(", ".join(who or []))]
        for title, n, first, last, outlets, who in data.top_stories
    ]
    sections.append(_section("Stories over time (the stories table)", vbar_chart(
        data.stories_by_day, "New stories per day (first published)") + _table(
        ["Story", "Articles", "Published", "Outlets", "Top entities"], top_rows, numeric=(1,)),
        wide=True, ident="stories-over-time"))

    sections.append(_section("Dead letters by stage and reason", hbar_chart(
        [(f"{stage} / {reason}", n) for stage, reason, n in data.dead_letters], "Dead letters by stage and reason"),
        ident="dead-letters"))

    timing_items: list[tuple[str, float]] = []
    stage_rows: list[list[str]] = []
    for m in data.manifests[-10:]:  # the latest runs: a long history would drown the chart
        rid = str(m.get("run_id", "?"))
        # Several runs: tag each bar with the run id's random suffix, short enough to fit a label.
        prefix = f"{rid.rsplit('-', 1)[-1]} · " if len(data.manifests) > 1 else ""
        timing_items += [(prefix + k, v) for k, v in _flatten(m.get("timings") or {})]
        per_stage = ((m.get("counts") or {}).get("per_stage") or {})
        stage_rows += [[esc(rid), esc(k), esc(f"{int(v):,}")] for k, v in _flatten(per_stage)]
    sections.append(_section("Timings (from the run manifests)", hbar_chart(timing_items, "Seconds", " s"),
                             ident="timings"))
    sections.append(_section("Counts per stage (from the run manifests)", _table(
        ["Run", "Counter", "Value"], stage_rows, numeric=(2,)), wide=True, ident="per-stage"))

    scope = f"run {data.run_id}" if data.run_id else "all runs"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en" dir="ltr"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>newspipe report — {esc(data.output)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>newspipe report</h1><div class=\"meta\">{esc(data.output)} · {esc(scope)} · "
        f"generated {esc(generated)} by newspipe {esc(__version__)}</div></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


def build_report(output: str, settings: S3Settings | None, run_id: str | None = None) -> str:
    """The HTML report of `output` (local path or s3://), or of one run in it when `run_id` is given.

    Raises StorageError when there is no newspipe output at `output`, ValueError for an unknown run id.
    """
    con = duck.connect(output, settings)
    manifests = duck.load_manifests(output, settings)
    if run_id:
        known = {str(m.get("run_id")) for m in manifests}
        known |= {r[0] for r in con.execute("SELECT DISTINCT run_id FROM articles").fetchall()}
        if run_id not in known:
            raise ValueError(f"{output}: no run {run_id!r} here (runs: {', '.join(sorted(known)) or 'none'})")
        duck.restrict_to_run(con, run_id)
        manifests = [m for m in manifests if str(m.get("run_id")) == run_id]
    return render_html(collect(con, output.rstrip("/"), run_id, manifests))
