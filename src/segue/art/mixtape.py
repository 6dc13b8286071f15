"""``segue mixtape``: a playlist you can look at.

Writes into one folder: ``playlist.m3u8``, ``cover.png`` (1200×1200), ``poster.png`` (A4 at
150 dpi, 1240×1754: the tracklist chart beside the generated images), ``compare.png`` and
``compare.json`` (the kNN playlist from the same seed in each feature set's 2-D t-SNE map, side
by side, as the ancestor did) and ``mixtape.json`` (what was made, and from what).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from segue.art.colours import dominant_colours
from segue.art.layout import LayoutParams, layout_points
from segue.art.poster import (
    BACKGROUND,
    INK,
    MUTED,
    fit_text,
    font,
    poster_layout,
    render_cover,
    render_poster,
    track_label,
)

# name -> (model, kind, projection parameters)
FEATURE_SETS: dict[str, tuple[str, str, LayoutParams]] = {
    "musicnn": ("musicnn", "track", LayoutParams(metric="cosine")),
    "rp": ("musicnn", "rp", LayoutParams(metric="euclidean", standardise=True)),
    "ssd": ("musicnn", "ssd", LayoutParams(metric="euclidean", standardise=True)),
    "rh": ("musicnn", "rh", LayoutParams(metric="euclidean", standardise=True)),
    "timbre": ("musicnn", "timbre", LayoutParams(metric="euclidean", standardise=True)),
}


def knn_in_2d(proj: dict[str, tuple[float, float]], seed_key: str, k: int) -> list[str]:
    """The ``k`` keys nearest ``seed_key`` on the 2-D map, nearest first (seed excluded)."""
    keys = [key for key in proj if key != seed_key]
    if not keys or seed_key not in proj:
        return []
    xy = np.array([proj[key] for key in keys])
    d = np.linalg.norm(xy - np.array(proj[seed_key]), axis=1)
    return [keys[i] for i in np.argsort(d, kind="stable")[:k]]


def compare_playlists(store, seed_id: int, k: int, cache: Path | None = None) -> dict[str, dict]:
    """Per feature set: its 2-D map and the kNN playlist of ``seed_id`` in it (track ids)."""
    tracks = store.tracks()
    first_id: dict[str, int] = {}
    for t in tracks:
        first_id.setdefault(t.audio_hash, t.id)
    seed_hash = next(t.audio_hash for t in tracks if t.id == seed_id)
    out = {}
    for name, (model, kind, params) in FEATURE_SETS.items():
        vectors = store.vectors(model, kind)
        if seed_hash not in vectors or len(vectors) < 2:
            continue
        proj = layout_points(vectors, params, name=f"{model}-{kind}", cache=cache).as_dict()
        near = knn_in_2d(proj, seed_hash, k)
        out[name] = {
            "method": "tsne" if len(vectors) >= 8 else "pca",
            "points": proj,
            "seed": seed_hash,
            "playlist": [first_id[seed_hash]] + [first_id[h] for h in near],
            "keys": [seed_hash] + near,
        }
    return out


def render_compare(sets: dict[str, dict], labels: dict[int, str], panel: int = 520) -> Image.Image:
    """The kNN playlists side by side: each map in grey, the playlist as a coloured path."""
    n = max(1, len(sets))
    k = max((len(s["playlist"]) for s in sets.values()), default=0)
    text_size = 14
    head = 40
    height = head + panel + 16 + (text_size + 6) * k + 16
    img = Image.new("RGB", (n * panel, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    m = 24
    for p, (name, s) in enumerate(sets.items()):
        x0 = p * panel
        draw.text((x0 + m, 10), f"{name} ({s['method']})", font=font(20), fill=INK)
        xy = np.array(list(s["points"].values()), dtype=np.float64)
        lo, hi = xy.min(0), xy.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)

        def place(pt, x0=x0, lo=lo, span=span):
            u = (np.asarray(pt) - lo) / span
            return (x0 + m + u[0] * (panel - 2 * m), head + m + (1 - u[1]) * (panel - 2 * m))

        for pt in xy:
            cx, cy = place(pt)
            draw.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), fill=(200, 200, 205))
        path = [place(s["points"][key]) for key in s["keys"]]
        if len(path) > 1:
            draw.line(path, fill=(120, 120, 130), width=2)
        for i, (cx, cy) in enumerate(path):
            t = i / max(1, len(path) - 1)
            colour = (int(40 + 200 * t), int(90 + 60 * (1 - t)), int(220 - 180 * t))
            r = 7 if i == 0 else 5
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=INK if i == 0 else None, width=2)
        y = head + panel + 8
        for i, tid in enumerate(s["playlist"]):
            draw.text((x0 + m, y), fit_text(f"{i + 1:2d}. {labels.get(tid, tid)}", text_size, panel - 2 * m),
                      font=font(text_size), fill=INK if i else MUTED)  # fmt: skip
            y += text_size + 6
    return img


def make_mixtape(store, tracks: Sequence[dict], playlist_path: Path, out_dir: Path,
                 images: str = "auto", title: str | None = None, seed: int = 0, train_minutes: float = 2.0,
                 cache: Path | None = None, compare: bool = True, progress: bool = True) -> dict:  # fmt: skip
    """Make the mixtape folder around a playlist already written to ``playlist_path``
    (``tracks``: its tracks' JSON, in order); returns the summary also written to
    ``mixtape.json``.

    ``images``: ``auto`` (a trained GAN checkpoint if there is one, else the library's covers),
    ``gan`` (a checkpoint, or train a quick one for ``train_minutes`` first), ``covers``.
    """
    from segue.art.images import cover_images, find_checkpoint, gan_images, gradient_images
    from segue.errors import UserError

    if images not in ("auto", "gan", "covers"):
        raise UserError(f"images must be auto, gan or covers, got {images!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [t["id"] for t in tracks]
    by_id = {t.id: t for t in store.tracks()}
    tag_vectors = store.vectors("musicnn", "tags_msd")
    mean_tags = np.mean(list(tag_vectors.values()), axis=0) if tag_vectors else np.zeros(50, np.float32)
    tags = np.stack([tag_vectors.get(by_id[i].audio_hash, mean_tags) for i in ids]).astype(np.float32)

    checkpoint = find_checkpoint(cache)
    if images == "gan" and checkpoint is None:
        from segue.art.train import train_on_library

        checkpoint = train_on_library(store, conditional=True, max_seconds=train_minutes * 60, cache=cache,
                                      progress=progress)  # fmt: skip
    pictures = None
    source = ""
    if images != "covers" and checkpoint is not None:
        pictures = gan_images(checkpoint, tags, seed=seed)
        source = f"gan:{checkpoint}"
    if pictures is None:
        pictures = cover_images(store, ids, cache, progress=progress)
        source = "covers"
    if pictures is None:
        pictures = gradient_images([track_label(t) for t in tracks])
        source = "gradients"
    palettes = [dominant_colours(p) for p in pictures]

    title = title or f"segue mixtape: {track_label(tracks[0])}"
    layout = poster_layout(title, tracks, palettes)
    render_poster(layout, list(pictures)).save(out_dir / "poster.png")
    render_cover(title, list(pictures)).save(out_dir / "cover.png")
    summary: dict = {
        "title": title,
        "playlist": str(playlist_path),
        "poster": str(out_dir / "poster.png"),
        "cover": str(out_dir / "cover.png"),
        "images": source,
        "tracks": [{**t, "colours": p.to_json()["hex"]} for t, p in zip(tracks, palettes, strict=True)],
        "tracklist": layout.track_texts(),
    }
    if compare:
        if progress:
            print("mixtape: comparing kNN playlists across feature sets", file=sys.stderr)
        sets = compare_playlists(store, ids[0], len(ids) - 1, cache)
        labels = {t.id: track_label({"artist": t.artist, "title": t.title}) for t in by_id.values()}
        render_compare(sets, labels).save(out_dir / "compare.png")
        cmp_json = {name: {"method": s["method"], "playlist": s["playlist"]} for name, s in sets.items()}
        (out_dir / "compare.json").write_text(json.dumps(cmp_json, indent=2))
        summary["compare"] = {"png": str(out_dir / "compare.png"), "sets": cmp_json}
    (out_dir / "mixtape.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary
