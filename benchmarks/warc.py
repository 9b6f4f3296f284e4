"""WARC benchmark: pages/s per core of `newspipe run` on a synthetic crawl, with and without the
prefilters, next to a bare warcio + trafilatura loop and the WARC readers alone, all in this one run.

The crawl (gzip per record, a request record before every response, like a crawler writes it):
10% Arabic news pages (benchmarks/synth.py articles as HTML pages with site chrome), 5% Arabic
non-news pages (section indexes), 40% non-Arabic news-like pages (English, French, German, Spanish),
30% non-HTML responses (JPEG, JSON, CSS, PDF) and 15% redirects and 404s. "Pages" are response records.

    python benchmarks/warc.py -n 5000 [--json benchmarks/results/<date>-warc.json]

Every mode runs in a fresh subprocess (one core: the in-process runner); CPU seconds are user+sys.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = {
    "en": ("the government said on tuesday that new measures would be announced after talks with unions and "
           "business leaders about prices energy wages and the budget for next year while the opposition "
           "called for an inquiry into the delays reported by hospitals schools and local councils").split(),
    "fr": ("le gouvernement a annoncé mardi de nouvelles mesures après des discussions avec les syndicats et "
           "les entreprises sur les prix de l'énergie les salaires et le budget de l'année prochaine tandis que "
           "l'opposition réclame une enquête sur les retards signalés par les hôpitaux").split(),
    "de": ("die regierung hat am dienstag neue maßnahmen angekündigt nachdem gespräche mit gewerkschaften und "
           "unternehmen über preise energie löhne und den haushalt für das nächste jahr geführt wurden während "
           "die opposition eine untersuchung der verzögerungen forderte").split(),
    "es": ("el gobierno anunció el martes nuevas medidas después de conversaciones con los sindicatos y las "
           "empresas sobre los precios de la energía los salarios y el presupuesto del próximo año mientras la "
           "oposición pidió una investigación sobre los retrasos").split(),
}
_SYLLABLES = ["ka", "ri", "mon", "tel", "sa", "vor", "en", "de", "lu", "pra", "ti", "ber", "ns", "o", "gal", "ste"]
# What a news site wraps around an article: analytics and ad scripts, inline CSS, JSON-LD, menus,
# "most read" lists and a footer of links. Real news pages weigh ~50-150 KB of HTML for ~5 KB of text;
# these come to ~40-70 KB, so extraction costs what it costs on a crawl.
_SCRIPT = "".join(f"var m{i}=function(a,b){{return a*{i}+b.length}};window.q{i}=[{i},{i * 7},'s{i}'];"
                  for i in range(220))
_CSS = "".join(f".c{i}{{margin:{i % 9}px;padding:{i % 5}px;color:#{i:06x}}}" for i in range(260))


def _nav(links: list[str], base: str = "/") -> str:
    return "<nav><ul>" + "".join(f'<li><a href="{base}{i}">{html.escape(t)}</a></li>' for i, t in enumerate(links)) + "</ul></nav>"


def page_html(title: str, paragraphs: list[str], lang: str, site: str, nav: list[str], related: list[str]) -> str:
    direction = "rtl" if lang == "ar" else "ltr"
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    json_ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
                          "publisher": {"@type": "Organization", "name": site}}, ensure_ascii=False)
    menu = [f"{item} {k}" for k in range(8) for item in nav]
    return (f'<!DOCTYPE html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
            f'<title>{html.escape(title)} - {html.escape(site)}</title><meta property="og:site_name" '
            f'content="{html.escape(site)}"><style>{_CSS}</style><script>{_SCRIPT}</script>'
            f'<script type="application/ld+json">{json_ld}</script></head><body><header>{_nav(menu)}</header>'
            f'<main><article><h1>{html.escape(title)}</h1>{body}</article>'
            f'<section class="most-read"><h2>…</h2>{_nav(related, "/news/")}</section></main>'
            f"<aside>{_nav(related[::-1], '/more/')}</aside><footer>{_nav(menu[::-1], '/f/')}"
            f"<p>© {html.escape(site)}</p></footer><script>{_SCRIPT[:3000]}</script></body></html>")


def build_crawl(path: Path, n: int, seed: int = 11) -> dict[str, int]:
    """Write the synthetic crawl; returns how many responses of each kind it holds."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from benchmarks.synth import make_corpus

    rng = random.Random(seed)
    n_ar, n_index, n_other = n // 10, n // 20, (n * 4) // 10
    n_binary = (n * 3) // 10
    n_redirect = n - n_ar - n_index - n_other - n_binary
    arabic = make_corpus(n_ar, seed)
    ar_nav = ["الرئيسية", "سياسة", "اقتصاد", "رياضة", "ثقافة", "منوعات"]
    kinds = ["ar"] * n_ar + ["index"] * n_index + ["other"] * n_other + ["binary"] * n_binary + ["redirect"] * n_redirect
    rng.shuffle(kinds)
    counts: dict[str, int] = {}
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        ar_iter = iter(arabic)
        for i, kind in enumerate(kinds):
            counts[kind] = counts.get(kind, 0) + 1
            status, ctype, body = "200 OK", "text/html; charset=utf-8", b""
            host = f"site{i % 97}.example"
            if kind == "ar":
                a = next(ar_iter)
                host = f"ar{i % 16}.example"
                related = [r["title"] for r in rng.sample(arabic, min(20, len(arabic)))]
                body = page_html(a["title"], [p for p in a["body"].split("\n") if p], "ar", a["outlet"], ar_nav,
                                 related).encode()
            elif kind == "index":
                host = f"ar{i % 16}.example"
                links = [a["title"] for a in rng.sample(arabic, min(30, len(arabic)))]
                body = page_html("آخر الأخبار", [], "ar", "موقع", ar_nav, links).encode()
            elif kind == "other":
                lang = rng.choice(list(WORDS))
                words = WORDS[lang]
                # Function words of the language plus page-specific content words, so that pages are not
                # near-duplicates of each other (a 40-word vocabulary would make dedupe and stories see
                # 2,000 copies of one story).
                content = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randrange(2, 5))) for _ in range(60)]
                paragraphs = [" ".join(rng.choice(words) if rng.random() < 0.5 else rng.choice(content)
                                       for _ in range(rng.randrange(25, 60))).capitalize() + "."
                              for _ in range(rng.randrange(4, 12))]
                titles = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(20)]
                body = page_html(" ".join(paragraphs[0].split()[:8]), paragraphs, lang, host,
                                 ["home", "news", "sport", "business", "culture", "opinion"], titles).encode()
            elif kind == "binary":
                ctype, body = rng.choice([
                    ("image/jpeg", b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randrange(2000, 30000))),
                    ("application/json", json.dumps({"items": list(range(rng.randrange(10, 500)))}).encode()),
                    ("text/css", b"body{margin:0}" * rng.randrange(10, 400)),
                    ("application/pdf", b"%PDF-1.4\n" + rng.randbytes(rng.randrange(2000, 20000))),
                ])
            else:
                status = rng.choice(["301 Moved Permanently", "302 Found", "404 Not Found"])
                body = b"<html><body>moved or missing</body></html>"
            url = f"https://{host}/{kind}/{i}"
            request = writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(f"GET /{kind}/{i} HTTP/1.1", [("Host", host)], is_http_request=True))
            writer.write_record(request)
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return counts


def _mean_html_bytes(warc: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    sizes = []
    with open(warc, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response" and (record.http_headers.get_header("Content-Type") or "").startswith("text/html"):
                sizes.append(len(record.content_stream().read()))
    return int(sum(sizes) / max(1, len(sizes)))


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def run_mode(mode: str, warc: Path, out: Path) -> dict:
    t0, c0 = time.perf_counter(), _cpu()
    result: dict = {"mode": mode}
    if mode in ("read_warcio", "bare", "bare_text"):
        # The bare loop: warcio + trafilatura over every 200 text/html response. "bare" makes the call the
        # pipeline makes (pipeline/lib/pages.py extract_html: text + title/date/site metadata); "bare_text"
        # the cheapest one (text only).
        from warcio.archiveiterator import ArchiveIterator

        extracted = pages = 0
        if mode != "read_warcio":
            import trafilatura
        with open(warc, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                pages += 1
                body = record.content_stream().read()
                if mode != "read_warcio" and record.http_headers.get_statuscode() == "200" and \
                        (record.http_headers.get_header("Content-Type") or "").startswith("text/html"):
                    page = body.decode("utf-8", "replace")
                    if mode == "bare":
                        doc = trafilatura.bare_extraction(page, url=record.rec_headers.get_header("WARC-Target-URI"),
                                                          with_metadata=True, include_comments=False,
                                                          include_tables=False)
                    else:
                        doc = trafilatura.extract(page)
                    extracted += doc is not None
        result.update(pages=pages, extracted=extracted)
    elif mode == "read_fastwarc":
        from fastwarc.warc import ArchiveIterator, WarcRecordType

        pages = 0
        with open(warc, "rb") as fh:
            for record in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                record.reader.read()
                pages += 1
        result.update(pages=pages)
    elif mode in ("read_newspipe", "read_newspipe_prefilter"):
        from pipeline.config import WarcConfig
        from pipeline.io.ranges import ByteWindow
        from pipeline.io.warc import Page, Skipped, WarcPages
        from pipeline.lib.crawl import LanguagePrefilter
        from pipeline.lib.language import ARABIC_SCRIPT_CODES, LanguageDetector

        prefilter = None
        if mode.endswith("prefilter"):
            prefilter = LanguagePrefilter(("ar",), LanguageDetector.load().detect, ARABIC_SCRIPT_CODES)
        counts: dict[str, int] = {}
        with open(warc, "rb") as fh:
            for item in WarcPages(str(warc), WarcConfig(), prefilter).read(ByteWindow(fh, 0), 0, warc.stat().st_size):
                key = item.counter if isinstance(item, Skipped) else ("docs" if isinstance(item, Page) else "dead")
                counts[key] = counts.get(key, 0) + 1
        result.update(pages=counts.get("records.response", 0), docs=counts.get("docs", 0))
    else:
        from pipeline.config import Config, WarcConfig
        from pipeline.run import run_batch

        cfg = Config(warc=WarcConfig(languages=("ar",))) if mode == "newspipe_prefilter" else Config()
        summary = run_batch([str(warc)], str(out), cfg)
        warc_counts = {k[5:]: v for k, v in summary.counters.items() if k.startswith("warc.")}
        result.update(pages=warc_counts.get("records.response", 0), articles=summary.articles,
                      dead_letters=summary.dead_letters, warc=warc_counts)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    result.update(seconds=round(seconds, 2), cpu_seconds=round(cpu, 2),
                  pages_per_s=round(result["pages"] / seconds, 1),
                  pages_per_cpu_s=round(result["pages"] / cpu, 1))
    return result


MODES = ["read_warcio", "read_fastwarc", "read_newspipe", "read_newspipe_prefilter", "bare_text", "bare",
         "newspipe_prefilter", "newspipe"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="response records in the crawl")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--_mode", help=argparse.SUPPRESS)
    ap.add_argument("--_warc", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._mode:
        print(json.dumps(run_mode(args._mode, args._warc, args._out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        warc = Path(tmp) / "crawl.warc.gz"
        t0 = time.perf_counter()
        counts = build_crawl(warc, args.n)
        warc_size = warc.stat().st_size
        html_mean = _mean_html_bytes(warc)
        print(f"crawl: {args.n} responses {counts}, {warc.stat().st_size / 1e6:.1f} MB, built in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        results = []
        for mode in args.modes.split(","):
            proc = subprocess.run([sys.executable, __file__, "--_mode", mode, "--_warc", str(warc),
                                   "--_out", str(Path(tmp) / f"out-{mode}")], capture_output=True, text=True)
            if proc.returncode:  # recorded, and the other modes still run
                results.append({"mode": mode, "failed": proc.returncode, "stderr": proc.stderr[-2000:]})
            else:
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    by_mode = {r["mode"]: r for r in results if "failed" not in r}
    summary = {"responses": args.n, "kinds": counts, "warc_bytes": warc_size, "html_bytes_mean": html_mean,
               "load_average_1min_at_end": round(__import__("os").getloadavg()[0], 1), "results": results}
    for mode in ("newspipe_prefilter", "newspipe"):
        if "bare" in by_mode and mode in by_mode:
            for unit in ("seconds", "cpu_seconds"):
                summary[f"{mode}_vs_bare_{unit}"] = round(by_mode[mode][unit] / by_mode["bare"][unit], 2)
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
