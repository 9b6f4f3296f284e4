"""Stable identifiers: the one place that defines article ids, content hashes and run ids."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from pipeline.lib.arabic import match_key

ID_HEX = 32  # 128 bits: collision-free at archive scale, short enough for humans to paste


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:ID_HEX]


def content_hash(body: str) -> str:
    """Hash of the body in match form: equal for copies that differ only in diacritics, tatweel,
    letter variants, digits or whitespace."""
    return _digest(match_key(body))


def article_id(outlet: str, url: str, title: str, body_hash: str) -> str:
    """Stable id from where the article comes from (url, else outlet), its title and its
    `content_hash`: the same article from the same place always gets the same id, across runs."""
    origin = url.strip() or match_key(outlet)
    return _digest(origin, match_key(title), body_hash)


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time plus a random suffix (e.g. 20261125T171400Z-3f9a1c)."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def short_hash(*parts: str, length: int = 8) -> str:
    return _digest(*parts)[:length]
