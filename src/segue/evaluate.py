"""Offline quality of the embedding space and the playlist engine, with no listeners needed.

:func:`evaluate` reports (see anchors §7.1 for the protocols):

- ``genre_precision``: style precision@k — for each query track, the share of its k nearest
  labelled tracks with the query's genre, **the query's artist removed from the candidates**
  (MIREX / Flexer & Schnitzer artist filter: otherwise the same artist's album trivially
  matches).  ``genre_precision_album_filtered`` removes only the query's album;
  ``genre_precision_artist_album_filtered`` removes the query's artist AND every track of an
  album with the query's album title, whoever the artist (a soundtrack by ten composers is one
  album: the honest number for a space learned from albums).  Each comes with
  ``chance`` — the precision a random ranking would get on the same queries and candidate sets —
  so a number is only good if it is well above its chance level;
- ``same_artist_share`` / ``same_album_share`` @k with no filter (high = less exploratory);
- ``hubness``: k-occurrence (how often each track appears in others' top-k, k=10) skewness,
  the share of tracks never in anyone's top-k ("antihubs"), and the share of all top-k slots
  taken by the top 1 % of tracks; computed over all tracks, or over a random subset of
  ``hub_sample`` tracks for larger libraries;
- ``journeys``: for random start/end pairs, the mean cosine distance between consecutive tracks
  of the journey vs. the same tracks shuffled (ratio < 1 = smoother than random order), and the
  monotonicity: ``-Spearman(position, distance to destination)`` (1 = steadily approaching).

Every random choice comes from ``seed``: same inputs, same numbers.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import skew, spearmanr

from segue.errors import UserError
from segue.index import Index
from segue.playlist.catalog import Catalog, fold_text
from segue.playlist.journey import journey
from segue.playlist.rules import Rules


@dataclass
class Labels:
    """Ground-truth labels per file path (from a CSV or the catalogue's own tags)."""

    path: list[str]
    artist: list[str]
    album: list[str]
    genre: list[str]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> Labels:
        return cls(list(catalog.path), list(catalog.artist), list(catalog.album), list(catalog.genre))

    def match(self, catalog: Catalog) -> np.ndarray:
        """Label row for each catalogue track (-1 if none): the same absolute path, else the
        label path sharing the longest tail of path components (same file name at least),
        if that best match is unique."""
        def norm(p: str) -> str:
            return os.path.normcase(os.path.normpath(p)) if p else ""

        exact: dict[str, int] = {}
        by_name: dict[str, list[int]] = defaultdict(list)
        parts: list[list[str]] = []
        for j, p in enumerate(self.path):
            q = norm(p)
            exact.setdefault(q, j)
            comps = q.replace("\\", "/").split("/")
            parts.append(comps)
            by_name[comps[-1]].append(j)
        out = np.full(len(catalog), -1, dtype=np.int64)
        for i, p in enumerate(catalog.path):
            q = norm(p)
            if not q:
                continue
            if q in exact:
                out[i] = exact[q]
                continue
            comps = q.replace("\\", "/").split("/")
            cands = by_name.get(comps[-1], [])
            if not cands:
                continue
            best, best_len, tie = -1, -1, False
            for j in cands:
                lc = 0
                for a, b in zip(reversed(comps), reversed(parts[j]), strict=False):
                    if a != b:
                        break
                    lc += 1
                if lc > best_len:
                    best, best_len, tie = j, lc, False
                elif lc == best_len:
                    tie = True
            if not tie:
                out[i] = best
        return out


def load_labels(csv_path: str | os.PathLike[str]) -> Labels:
    """Read a labels CSV with a header: ``path`` (required), ``artist``, ``album``, ``genre``
    (column names case-insensitive; relative paths are relative to the CSV's folder)."""
    p = os.fspath(csv_path)
    if not os.path.isfile(p):
        raise UserError(f"no such labels file: {p}")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None:
                raise UserError(f"{p} is empty; expected a header with path, artist, album, genre")
            cols = {c.strip().lower(): c for c in reader.fieldnames if c}
            if "path" not in cols:
                raise UserError(f"{p} has no 'path' column (found: {', '.join(cols) or 'none'})")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise UserError(f"{p} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except (csv.Error, OSError) as exc:
        raise UserError(f"cannot read the labels {p}: {exc}") from None

    def col(name: str) -> list[str]:
        c = cols.get(name)
        return [(r.get(c) or "").strip() if c else "" for r in rows]

    base = os.path.dirname(os.path.abspath(p))
    paths = [
        os.path.normpath(os.path.join(base, os.path.expanduser(x))) if x and not os.path.isabs(
            os.path.expanduser(x)) else os.path.expanduser(x)
        for x in col("path")
    ]
    return Labels(paths, col("artist"), col("album"), col("genre"))


def _codes(values: Sequence[str]) -> np.ndarray:
    table: dict[str, int] = {}
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        f = fold_text(v)
        out[i] = -1 if not f else table.setdefault(f, len(table))
    return out


def _aligned(
    catalog: Catalog, labels: Labels | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(artist, album, genre, album title) integer codes per catalogue track; -1 = unknown.
    ``album`` is per (artist, album title); ``album title`` ignores the artist."""
    if labels is None:
        labels = Labels.from_catalog(catalog)
        rows = np.arange(len(catalog))
    else:
        rows = labels.match(catalog)
    def pick(vals: list[str]) -> list[str]:
        return [vals[r] if r >= 0 else "" for r in rows]
    artist = pick(labels.artist)
    album = [f"{a}\x00{b}" if b else "" for a, b in zip(artist, pick(labels.album), strict=True)]
    return _codes(artist), _codes(album), _codes(pick(labels.genre)), _codes(pick(labels.album))


def evaluate(
    catalog: Catalog,
    labels: Labels | None = None,
    k: int = 10,
    *,
    n_queries: int = 1000,
    seed: int = 0,
    index: Index | None = None,
    hub_reduction: str = "none",
    hub_sample: int = 20000,
    n_journeys: int = 30,
    journey_steps: int = 8,
) -> dict[str, Any]:
    """Quality metrics as a JSON-ready dict; see the module docstring.  ``labels=None`` uses the
    catalogue's own artist/album/genre tags."""
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}")
    n = len(catalog)
    if n < k + 2:
        raise UserError(f"the library has {n} tracks; evaluation needs more than {k + 1}")
    rng = np.random.default_rng(seed)
    index = index if index is not None else catalog.get_index(hub_reduction=hub_reduction)
    artist, album, genre, title = _aligned(catalog, labels)
    group = catalog.group
    labelled = genre >= 0
    n_lab = int(labelled.sum())
    result: dict[str, Any] = {
        "n_tracks": n,
        "n_labelled": n_lab,
        "k": k,
        "hub_reduction": index.hub_reduction,
        "seed": seed,
    }
    if labels is not None and n_lab == 0:
        raise UserError("no track of the library matches a path in the labels file")

    # --- neighbourhood precision --------------------------------------------------------------
    by_artist: dict[int, np.ndarray] = {}
    by_album: dict[int, np.ndarray] = {}
    by_group: dict[int, np.ndarray] = {}
    by_title: dict[int, np.ndarray] = {}
    for codes, table in (
        (artist, by_artist), (album, by_album), (group, by_group), (title, by_title)
    ):
        order = np.argsort(codes, kind="stable")
        sc = codes[order]
        cuts = np.flatnonzero(np.diff(sc)) + 1
        for chunk in np.split(order, cuts):
            if len(chunk) and codes[chunk[0]] >= 0:
                table[int(codes[chunk[0]])] = chunk
    genre_count = np.bincount(genre[labelled], minlength=int(genre.max()) + 1 if n_lab else 1)

    lab_rows = np.flatnonzero(labelled)
    q_rows = lab_rows if len(lab_rows) <= n_queries else np.sort(rng.choice(lab_rows, n_queries, replace=False))
    result["n_queries"] = int(len(q_rows))

    def neighbours(q: int, filt: np.ndarray | None, restrict: bool) -> np.ndarray:
        ex = set(by_group.get(int(group[q]), np.array([q])).tolist()) | {q}
        if filt is not None:
            ex |= set(filt.tolist())
        idx, _ = index.search(catalog.vectors[q], k, exclude=[sorted(ex)],
                              allowed=labelled if restrict else None)
        return idx[0][idx[0] >= 0]

    def same_genre_chance(q: int, filt: np.ndarray | None) -> float:
        g = genre[q]
        removed = set(by_group.get(int(group[q]), np.array([q])).tolist()) | {q}
        if filt is not None:
            removed |= set(filt.tolist())
        removed_arr = np.fromiter(removed, dtype=np.int64)
        removed_lab = removed_arr[labelled[removed_arr]]
        same = genre_count[g] - int((genre[removed_lab] == g).sum())
        total = n_lab - len(removed_lab)
        return same / total if total > 0 else 0.0

    if len(q_rows):
        prec_a, prec_b, ch_a, ch_b, s_art, s_alb = [], [], [], [], [], []
        prec_c, ch_c = [], []
        for q in q_rows:
            a, al, ti = int(artist[q]), int(album[q]), int(title[q])
            fa = by_artist.get(a) if a >= 0 else None
            fb = by_album.get(al) if al >= 0 else None
            ft = by_title.get(ti) if ti >= 0 else None
            fc = fa if ft is None else ft if fa is None else np.union1d(fa, ft)
            nb = neighbours(q, fa, True)
            if len(nb):
                prec_a.append(float((genre[nb] == genre[q]).mean()))
                ch_a.append(same_genre_chance(q, fa))
            nb = neighbours(q, fc, True)
            if len(nb):
                prec_c.append(float((genre[nb] == genre[q]).mean()))
                ch_c.append(same_genre_chance(q, fc))
            nb = neighbours(q, fb, True)
            if len(nb):
                prec_b.append(float((genre[nb] == genre[q]).mean()))
                ch_b.append(same_genre_chance(q, fb))
            nb = neighbours(q, None, False)
            if len(nb):
                if a >= 0:
                    s_art.append(float((artist[nb] == a).mean()))
                if al >= 0:
                    s_alb.append(float((album[nb] == al).mean()))

        def mean(x: list[float]) -> float | None:
            return round(float(np.mean(x)), 4) if x else None

        result["genre_precision"] = {"value": mean(prec_a), "chance": mean(ch_a)}
        result["genre_precision_album_filtered"] = {"value": mean(prec_b), "chance": mean(ch_b)}
        result["genre_precision_artist_album_filtered"] = {
            "value": mean(prec_c), "chance": mean(ch_c)
        }
        result["same_artist_share"] = mean(s_art)
        result["same_album_share"] = mean(s_alb)

    result["hubness"] = hubness(catalog, k=10, sample=hub_sample, seed=seed, index=index)
    if n_journeys > 0:
        result["journeys"] = journey_quality(
            catalog, n_journeys=n_journeys, steps=journey_steps, seed=seed, index=index
        )
    return result


def hubness(
    catalog: Catalog, k: int = 10, *, sample: int = 20000, seed: int = 0, index: Index | None = None
) -> dict[str, Any]:
    """k-occurrence statistics of the k-NN graph (over a random subset beyond ``sample``)."""
    n = len(catalog)
    index = index if index is not None else catalog.get_index()
    if n > sample:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, sample, replace=False))
        sub = Index(catalog.vectors[rows], hub_reduction=index.hub_reduction, hub_k=index.hub_k, seed=seed)
    else:
        rows = np.arange(n)
        sub = index
    m = len(rows)
    kk = min(k, m - 1)
    counts = np.zeros(m, dtype=np.int64)
    chunk = 1024
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        q = catalog.vectors[rows[s:e]]
        idx, _ = sub.search(q, kk, exclude=[[j] for j in range(s, e)])
        idx = idx[idx >= 0]
        counts += np.bincount(idx, minlength=m)
    top = np.sort(counts)[::-1][: max(1, m // 100)]
    return {
        "k": kk,
        "n": int(m),
        "skewness": round(float(skew(counts)), 4),
        "antihub_share": round(float((counts == 0).mean()), 4),
        "top1pct_share": round(float(top.sum() / max(counts.sum(), 1)), 4),
        "max_occurrence": int(counts.max()),
    }


def journey_quality(
    catalog: Catalog,
    *,
    n_journeys: int = 30,
    steps: int = 8,
    seed: int = 0,
    index: Index | None = None,
    rules: Rules | None = None,
) -> dict[str, Any]:
    """Smoothness and monotonicity of journeys between random track pairs."""
    n = len(catalog)
    if n < steps + 2:
        return {"n": 0}
    rng = np.random.default_rng(seed + 1)
    v = catalog.vectors
    step_d, shuf_d, mono = [], [], []
    for _ in range(n_journeys):
        a, b = (int(x) for x in rng.choice(n, 2, replace=False))
        if catalog.group[a] == catalog.group[b]:
            continue
        try:
            path = journey(catalog, [a, b], steps, rules, index=index).indices
        except UserError:
            continue
        pv = v[path]
        step_d.append(float(np.mean(1 - np.sum(pv[:-1] * pv[1:], axis=1))))
        sh = []
        for _ in range(5):
            perm = rng.permutation(len(path))
            sv = pv[perm]
            sh.append(float(np.mean(1 - np.sum(sv[:-1] * sv[1:], axis=1))))
        shuf_d.append(float(np.mean(sh)))
        to_dest = 1 - pv @ v[b]
        rho = spearmanr(np.arange(len(path)), to_dest).statistic
        if np.isfinite(rho):
            mono.append(-float(rho))
    if not step_d:
        return {"n": 0}
    return {
        "n": len(step_d),
        "steps": steps,
        "mean_step_distance": round(float(np.mean(step_d)), 4),
        "shuffled_step_distance": round(float(np.mean(shuf_d)), 4),
        "smoothness_ratio": round(float(np.mean(step_d) / max(np.mean(shuf_d), 1e-12)), 4),
        "monotonicity": round(float(np.mean(mono)), 4) if mono else None,
    }
