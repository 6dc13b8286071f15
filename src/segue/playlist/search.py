"""Finding tracks by what a person types: search as you type, and fuzzy matching of seeds.

Both read the same folded fields of each catalogue row — title, artist, album and the file
name without its extension — folded by :func:`~segue.playlist.catalog.fold_text` (case and
accents ignored) and built once per catalogue.

:func:`type_ahead` (the web player's search box): every word typed must occur in the track's
fields; a word at the start of a field counts more than one inside it, and the title and artist
count more than the album. A plain scan over precomputed strings: about 10 ms at 100k tracks,
and no index to keep in step with a running scan.

:func:`fuzzy_matches` (seed text such as ``"artist - title"``): the text and the fields are cut
into word tokens. Candidates share at least one token with the text (an inverted index keeps
this fast at 1M tracks); each gets ``score = 0.5 * token recall + 0.5 * difflib ratio``, where
token recall is the share of the text's tokens found in the track (prefix matches count 0.8)
and the ratio compares the text with ``artist - title`` (or artist and title separately when
the text has the ``A - T`` form). Both halves must agree for a confident match: a shared word
alone ("-5" finding "Ambient 2.5") or a right artist with a wrong title ("Kenta Cho - Gravity"
finding another Kenta Cho track) scores below :data:`MIN_SCORE`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections import defaultdict

import numpy as np

from segue.playlist.catalog import Catalog, fold_text

#: A fuzzy match below this score is not taken as the track a person meant.
MIN_SCORE = 0.7
#: At most this many candidates are scored (both searches).
MAX_SCORED = 3000
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_WEIGHTS = (3.0, 2.0, 1.0, 0.5)  # title, artist, album, file name


def _file_stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path or ""))[0]


def folded_fields(catalog: Catalog) -> list[tuple[str, str, str, str]]:
    """(title, artist, album, file name) of every row, folded; built once per catalogue."""
    return catalog.cached("search_fields", lambda: [
        (fold_text(catalog.title[i]), fold_text(catalog.artist[i]), fold_text(catalog.album[i]),
         fold_text(_file_stem(catalog.path[i])))
        for i in range(len(catalog))
    ])  # fmt: skip


# -- search as you type ------------------------------------------------------------------------


def _type_ahead_table(catalog: Catalog) -> tuple[list[str], list[int]]:
    def build() -> tuple[list[str], list[int]]:
        fields = folded_fields(catalog)
        # a leading space so " word" finds a word start in any field, first ones included
        blobs = [" " + " \x00 ".join(f) for f in fields]
        # what an empty box lists (focusing the box sends one): artist, album, title
        order = sorted(range(len(fields)), key=lambda i: (fields[i][1], fields[i][2], fields[i][0]))
        return blobs, order

    return catalog.cached("type_ahead", build)


def type_ahead(catalog: Catalog, text: str, limit: int = 50) -> list[int]:
    """Rows whose fields contain every word of ``text``, best first; an empty text lists the
    library by artist, album, title."""
    fields = folded_fields(catalog)
    blobs, order = _type_ahead_table(catalog)
    words = fold_text(text).split()
    if not words:
        return order[:limit]
    hits = [i for i, b in enumerate(blobs) if all(w in b for w in words)]
    if len(hits) > MAX_SCORED:
        # a short word matches most of a big library: score only tracks where every word starts
        # a word (what a person typing means), keeping the per-keystroke cost bounded
        starts = [" " + w for w in words]
        hits = [i for i in hits if all(s in blobs[i] for s in starts)][:MAX_SCORED] or hits[:MAX_SCORED]
    whole = " ".join(words)
    scores = np.zeros(len(hits))
    for n, i in enumerate(hits):
        s = 0.0
        for f, w in zip(fields[i], _WEIGHTS, strict=True):
            if f == whole:
                s += 10 * w
            for word in words:
                if f.startswith(word):
                    s += 2 * w
                elif f" {word}" in f:
                    s += 1.5 * w
                elif word in f:
                    s += w
        scores[n] = s
    best = np.argsort(-scores, kind="stable")[:limit]
    return [hits[j] for j in best]


# -- fuzzy matching of seed text ---------------------------------------------------------------


def _tokens(s: str) -> list[str]:
    return _TOKEN_RE.findall(fold_text(s))


def _token_index(catalog: Catalog) -> tuple[dict[str, list[int]], list[str]]:
    """Inverted index token -> rows, and the sorted vocabulary (for prefix matches)."""

    def build() -> tuple[dict[str, list[int]], list[str]]:
        tmp: dict[str, set[int]] = defaultdict(set)
        for i, (title, artist, album, stem) in enumerate(folded_fields(catalog)):
            for t in _TOKEN_RE.findall(f"{artist} {title} {album}" + ("" if title else f" {stem}")):
                tmp[t].add(i)
        inv = {k: sorted(v) for k, v in tmp.items()}
        return inv, sorted(inv)

    return catalog.cached("search_tokens", build)


def fuzzy_matches(catalog: Catalog, text: str, limit: int = 5) -> list[tuple[int, float]]:
    """Best fuzzy matches for ``text`` as ``(row, score in [0, 1])``, best first."""
    q_tokens = _tokens(text)
    if not q_tokens:
        return []
    inv, vocab = _token_index(catalog)
    weight: dict[int, float] = defaultdict(float)
    for t in set(q_tokens):
        best: dict[int, float] = {}
        # prefix matches ("beat" for "beatles") count 0.8, only for tokens of 3+ characters
        if len(t) >= 3:
            lo = int(np.searchsorted(vocab, t))
            for w in vocab[lo : lo + 50]:
                if not w.startswith(t):
                    break
                for i in inv[w]:
                    best[i] = 0.8
        for i in inv.get(t, ()):
            best[i] = 1.0
        for i, w in best.items():
            weight[i] += w
    if not weight:
        # nothing shares a word: fall back to difflib over the whole library (small ones only)
        if len(catalog) > 20000:
            return []
        cand = list(range(len(catalog)))
    else:
        cand = sorted(weight, key=lambda i: -weight[i])[:MAX_SCORED]
    fields = folded_fields(catalog)
    n_q = len(set(q_tokens))
    folded = fold_text(text)
    parts = [p.strip() for p in folded.split(" - ", 1)] if " - " in folded else None
    scored = []
    for i in cand:
        title, artist, _album, stem = fields[i]
        title = title or stem
        full = f"{artist} - {title}" if artist else title
        recall = min(weight.get(i, 0.0) / n_q, 1.0)
        ratio = difflib.SequenceMatcher(None, folded, full).ratio()
        if parts is not None:
            both = 0.5 * (difflib.SequenceMatcher(None, parts[0], artist).ratio()
                          + difflib.SequenceMatcher(None, parts[1], title).ratio())  # fmt: skip
            ratio = max(ratio, both)
        else:
            ratio = max(ratio, difflib.SequenceMatcher(None, folded, title).ratio())
        scored.append((0.5 * recall + 0.5 * ratio, i))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(i, float(s)) for s, i in scored[:limit]]
