"""``segue mixtape``: a playlist you can look at.

Writes into one folder: ``playlist.m3u8``, ``cover.png`` (1200×1200), ``poster.png`` (A4 at
150 dpi, 1240×1754: the tracklist chart beside the images, arranged by similarity),
``compare.png`` and ``compare.json`` (the kNN playlist from the same seed in each feature set's
2-D t-SNE map, as the ancestor did: points coloured by their top tag, the playlist ringed, a
legend, the first picks listed) and ``mixtape.json`` (what was made, and from what). Without a
title one is made from the seed and the music (:func:`segue.art.music.mixtape_title`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from segue.art.colours import dominant_colours
from segue.art.layout import LayoutParams, layout_points
from segue.art.music import library_tags, mixtape_title, pretty_tag, sound_facts, tag_names
from segue.art.poster import (
    BACKGROUND,
    INK,
    MAX_UPSCALE,
    MUTED,
    cover_layout,
    cover_picks,
    font,
    poster_layout,
    render_cover,
    render_poster,
    track_label,
    wrap_text,
)
from segue.listen.feature_sets import CLASSIC, NEURAL, STORED

#: The feature sets compared side by side (the pretrained neural space and the ancestor's four):
#: name -> (model, kind, layout parameters); classic sets are standardised, then Euclidean.
FEATURE_SETS: dict[str, tuple[str, str, LayoutParams]] = {
    name: (*STORED[name], LayoutParams(metric="cosine") if name in NEURAL
           else LayoutParams(metric="euclidean", standardise=True))
    for name in ("musicnn", *CLASSIC)
}  # fmt: skip


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


#: Colours for the commonest top tags (Okabe–Ito, a palette colour-blind readers can tell
#: apart); the rest of the library is grey.
TAG_COLOURS = [(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233),
               (213, 94, 0), (240, 228, 66)]  # fmt: skip
OTHER = (170, 170, 176)
LISTED = 6  # picks named under each map


def _blend(rgb: Sequence[int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(c * (1 - t) + b * t)) for c, b in zip(rgb, BACKGROUND, strict=True))  # type: ignore[return-value]


def tag_colours(top_tag: dict[str, str]) -> dict[str, tuple[int, int, int]]:
    """The commonest top tags (by track count) and their colours."""
    common = [t for t, _ in Counter(v for v in top_tag.values() if v).most_common(len(TAG_COLOURS))]
    return {t: TAG_COLOURS[i] for i, t in enumerate(common)}


def render_compare(sets: dict[str, dict], labels: dict[int, str], top_tag: dict[str, str] | None = None,
                   panel: int = 560) -> Image.Image:  # fmt: skip
    """The kNN playlists side by side, three maps a row.

    Each map shows the library's tracks coloured by their top tag, the seed as a ringed star and
    the playlist's picks as outlined dots inside one light hull (no track-to-track lines); under
    it, how many picks share the seed's top tag and the musicnn playlist, and the first picks.
    The last cell is the legend. ``top_tag``: track key (audio hash) -> its top tag.
    """
    top_tag = top_tag or {}
    colours = tag_colours(top_tag)
    names = list(sets)
    cols = min(3, len(names) + 1)
    rows = -(-(len(names) + 1) // cols)
    text_size = 15
    info_h = round(text_size * 1.6) * (LISTED + 3)
    head = 44
    cell_h = head + panel + info_h
    img = Image.new("RGB", (cols * panel, rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(img)
    m = 26
    ref = set(sets["musicnn"]["playlist"][1:]) if "musicnn" in sets else set()
    for p, name in enumerate(names):
        s = sets[name]
        x0, y0 = (p % cols) * panel, (p // cols) * cell_h
        draw.text((x0 + m, y0 + 12), name, font=font(22, bold=True), fill=INK)
        draw.text((x0 + m + font(22, bold=True).getlength(name) + 10, y0 + 18), f"{s['method']} map",
                  font=font(14), fill=MUTED)  # fmt: skip
        keys = list(s["points"])
        xy = np.array([s["points"][k] for k in keys], dtype=np.float64)
        lo, hi = xy.min(0), xy.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)

        def place(pt, x0=x0, y0=y0, lo=lo, span=span):
            u = (np.asarray(pt) - lo) / span
            return (x0 + m + u[0] * (panel - 2 * m), y0 + head + m + (1 - u[1]) * (panel - 2 * m))

        picks = s["keys"]
        chosen = set(picks)
        path = [place(s["points"][k]) for k in picks]
        if len(path) >= 3:
            from scipy.spatial import ConvexHull, QhullError

            try:
                hull = ConvexHull(np.array(path))
                poly = [tuple(path[v]) for v in hull.vertices]
                draw.polygon(poly, fill=_blend((60, 60, 70), 0.9), outline=_blend((60, 60, 70), 0.55))
            except QhullError:
                pass
        for k, pt in zip(keys, xy, strict=True):
            if k in chosen:
                continue
            cx, cy = place(pt)
            draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=_blend(colours.get(top_tag.get(k, ""), OTHER), 0.45))
        for k, (cx, cy) in list(zip(picks, path, strict=True))[1:]:
            r = 6
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colours.get(top_tag.get(k, ""), OTHER), outline=INK, width=1)
        cx, cy = path[0]
        draw.ellipse((cx - 11, cy - 11, cx + 11, cy + 11), outline=INK, width=3)
        draw.ellipse((cx - 6, cy - 6, cx + 6, cy + 6), fill=colours.get(top_tag.get(picks[0], ""), OTHER), outline=INK)
        # the words: agreement, then the first picks (wrapped, never cut)
        y = y0 + head + panel + 4
        n = len(s["playlist"]) - 1
        seed_tag = top_tag.get(picks[0], "")
        same = sum(1 for k in picks[1:] if seed_tag and top_tag.get(k) == seed_tag)
        facts = [f"{same}/{n} share the seed's tag" if seed_tag else f"{n} picks"]
        if ref and name != "musicnn":
            facts.append(f"{len(ref & set(s['playlist'][1:]))}/{n} also in musicnn")
        draw.text((x0 + m, y), " · ".join(facts), font=font(text_size), fill=MUTED)
        y += round(text_size * 1.7)
        for i, tid in enumerate(s["playlist"][1 : LISTED + 1], start=1):
            lines = wrap_text(f"{i}. {labels.get(tid, str(tid))}", text_size, panel - 2 * m)
            for j, (text, _) in enumerate(lines[:2]):
                draw.text((x0 + m + (0 if j == 0 else 18), y), text, font=font(text_size), fill=INK)
                y += round(text_size * 1.3)
        if n > LISTED:
            draw.text((x0 + m, y), f"and {n - LISTED} more (compare.json)", font=font(text_size), fill=MUTED)
    # the legend
    p = len(names)
    x0, y0 = (p % cols) * panel + m, (p // cols) * cell_h + 12
    draw.text((x0, y0), "legend", font=font(22, bold=True), fill=INK)
    y = y0 + head
    row = round(text_size * 1.9)
    draw.ellipse((x0 + 1, y + 1, x0 + 21, y + 21), outline=INK, width=3)
    draw.text((x0 + 34, y + 2), "the seed", font=font(text_size), fill=INK)
    y += row
    draw.ellipse((x0 + 5, y + 5, x0 + 17, y + 17), fill=MUTED, outline=INK)
    draw.text((x0 + 34, y + 2), "a track of the playlist (shaded: their hull)", font=font(text_size), fill=INK)
    y += row
    draw.ellipse((x0 + 8, y + 8, x0 + 14, y + 14), fill=_blend(MUTED, 0.45))
    draw.text((x0 + 34, y + 2), "another track of the library", font=font(text_size), fill=INK)
    y += round(row * 1.4)
    draw.text((x0, y), "colour: the track's top MusiCNN tag", font=font(text_size), fill=MUTED)
    y += row
    for tag, rgb in list(colours.items()) + [("other tags, or not analysed", OTHER)]:
        draw.rectangle((x0 + 4, y + 4, x0 + 18, y + 18), fill=rgb)
        draw.text((x0 + 34, y + 2), pretty_tag(tag) if tag in colours else tag, font=font(text_size), fill=INK)
        y += row
    y += round(row * 0.5)
    for text, _ in wrap_text("Each map places the library by one feature set; the playlist is the seed's "
                             "nearest tracks on that map.", text_size, panel - 2 * m):  # fmt: skip
        draw.text((x0, y), text, font=font(text_size), fill=MUTED)
        y += round(text_size * 1.35)
    return img


def top_tags_by_key(store) -> dict[str, str]:
    """Audio hash -> the track's strongest MusiCNN MSD tag."""
    names = tag_names()
    return {h: names[int(np.argmax(v))] for h, v in store.vectors("musicnn", "tags_msd").items()}


def _tile_vectors(store, track_ids: Sequence[int], tiles) -> np.ndarray | None:
    """One vector per tile (the mean MusiCNN vector of its tracks), for arranging by similarity."""
    vectors = store.vectors("musicnn", "track")
    by_id = {t.id: t.audio_hash for t in store.tracks()}
    out = []
    for tile in tiles:
        vs = [vectors[by_id[track_ids[r]]] for r in tile.rows if by_id.get(track_ids[r]) in vectors]
        if not vs:
            return None
        v = np.mean([x / max(np.linalg.norm(x), 1e-9) for x in vs], axis=0)
        out.append(v)
    return np.stack(out) if out else None


def make_mixtape(store, tracks: Sequence[dict], playlist_path: Path, out_dir: Path,
                 images: str = "auto", title: str | None = None, seed: int = 0, train_minutes: float = 2.0,
                 cache: Path | None = None, compare: bool = True, progress: bool = True) -> dict:  # fmt: skip
    """Make the mixtape folder around a playlist already written to ``playlist_path``
    (``tracks``: its tracks' JSON, in order); returns the summary also written to
    ``mixtape.json``.

    ``images``: ``auto`` (this library's GAN when it learned from enough covers, else the
    covers, with soundprints for tracks without one), ``gan`` (the library's GAN, or train a
    quick one for ``train_minutes`` first), ``covers``.
    """
    from segue.art.images import find_checkpoint, playlist_images
    from segue.errors import UserError

    if images not in ("auto", "gan", "covers"):
        raise UserError(f"images must be auto, gan or covers, got {images!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [t["id"] for t in tracks]
    by_id = {t.id: t for t in store.tracks()}
    facts = sound_facts(store, ids)

    checkpoint = find_checkpoint(store, cache)
    if images == "gan" and checkpoint is None:
        from segue.art.train import train_on_library

        checkpoint = train_on_library(store, conditional=True, max_seconds=train_minutes * 60, cache=cache,
                                      progress=progress)  # fmt: skip
    made = playlist_images(store, ids, facts, images, checkpoint, seed=seed, root=cache, progress=progress)
    for note in made.notes:
        if progress:
            print(f"mixtape: {note}", file=sys.stderr)
    tiles = made.tiles
    tile_palettes = [dominant_colours(t.image) for t in tiles]
    palette_of: dict[int, object] = {}
    for tile, pal in zip(tiles, tile_palettes, strict=True):
        for r in tile.rows:
            palette_of[r] = pal
    palettes = [palette_of[i] for i in range(len(tracks))]
    vecs = _tile_vectors(store, ids, tiles)
    if vecs is None:  # not analysed: arrange by the pictures' colours instead
        vecs = np.stack([p.feature() for p in tile_palettes])

    auto_title, subtitle = mixtape_title(tracks, facts, library_tags(store))
    title = title or auto_title
    native = min(t.side for t in tiles) if tiles else None
    layout = poster_layout(title, list(tracks), palettes, subtitle=subtitle, tiles=[t.rows for t in tiles],
                           tile_vectors=vecs, max_cell=native * MAX_UPSCALE if native else None)  # fmt: skip
    render_poster(layout, [t.image for t in tiles]).save(out_dir / "poster.png")
    picks = cover_picks(len(tiles))
    cover = cover_layout(title, len(picks), subtitle, native=min((tiles[i].side for i in picks), default=None),
                         vectors=vecs[picks])  # fmt: skip
    render_cover(title, [tiles[i].image for i in picks], layout=cover).save(out_dir / "cover.png")
    summary: dict = {
        "title": title,
        "subtitle": subtitle,
        "playlist": str(playlist_path),
        "poster": str(out_dir / "poster.png"),
        "cover": str(out_dir / "cover.png"),
        "images": made.source,
        "tracks": [{**t, "colours": p.to_json()["hex"]} for t, p in zip(tracks, palettes, strict=True)],
        "tracklist": layout.track_texts(),
        "grid": {"rows": layout.grid.rows, "cols": layout.grid.cols, "cell": layout.grid.cell,  # type: ignore[union-attr]
                 "tiles": [{"tracks": [ids[r] for r in t.rows], "source": t.source, "box": list(box)}
                           for t, box in zip(tiles, layout.cells, strict=True)]},  # fmt: skip
    }
    if made.notes:
        summary["image_notes"] = made.notes
    if compare:
        if progress:
            print("mixtape: comparing kNN playlists across feature sets", file=sys.stderr)
        sets = compare_playlists(store, ids[0], len(ids) - 1, cache)
        labels = {t.id: track_label({"artist": t.artist, "title": t.title}) for t in by_id.values()}
        render_compare(sets, labels, top_tags_by_key(store)).save(out_dir / "compare.png")
        cmp_json = {name: {"method": s["method"], "playlist": s["playlist"]} for name, s in sets.items()}
        (out_dir / "compare.json").write_text(json.dumps(cmp_json, indent=2))
        summary["compare"] = {"png": str(out_dir / "compare.png"), "sets": cmp_json}
    (out_dir / "mixtape.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary
