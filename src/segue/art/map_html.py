"""``segue map``: the whole library as one self-contained, interactive HTML page (Plotly).

Each analysed track is a point of the t-SNE (or UMAP) layout of the space playlists use (learned,
else MusiCNN's) — the same layout the web player shows (:func:`segue.art.layout.catalog_layout`). Points are coloured by their top MusiCNN
tag, by sound cluster (k-means of the track vectors, named by their commonest tag), and by genre or
album only where the library's tags can colour it (a menu switches); hovering shows a card with
the album cover beside the track's words (small JPEG data URIs, one per distinct cover), and a
search box highlights tracks whose title, artist, album, genre or strongest tags contain every
word typed (accents ignored). plotly.js is inlined, so the file works offline. Every track, placed
or not (not yet analysed), is listed in the page's JSON — without file paths: the page is made to
be shared.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from segue.text import fold_text

THUMB = 96
SVG_LIMIT = 5000  # above this many points, WebGL (scattergl) keeps the page responsive

_JS = r"""
(function () {
  const tracks = JSON.parse(document.getElementById('segue-tracks').textContent);
  const thumbs = JSON.parse(document.getElementById('segue-thumbs').textContent);
  window.segueTracks = tracks;
  const gd = document.getElementById('segue-map');
  const card = document.getElementById('card');
  const cardImg = document.getElementById('card-img');
  const cardText = document.getElementById('card-text');
  const search = document.getElementById('search');
  const count = document.getElementById('count');
  let mouse = [0, 0];
  document.addEventListener('mousemove', (e) => { mouse = [e.clientX, e.clientY]; });
  const fold = (s) => s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  function line(cls, text) {
    const el = document.createElement('div');
    el.className = cls;
    el.textContent = text;
    return el;
  }
  function showCard(t) {
    cardText.replaceChildren(
      line('t', t.title || '?'), line('a', t.artist || '?'),
      line('m', [t.album, t.genre].filter(Boolean).join(' · ')),
      line('m', (t.tags || []).join(', ')));
    const src = t.cover && thumbs[t.cover];
    cardImg.style.display = src ? 'block' : 'none';
    if (src) cardImg.src = src;
    card.style.display = 'flex';
    // beside the pointer, turned back inside the window near its right and bottom edges
    const w = card.offsetWidth, h = card.offsetHeight;
    let x = mouse[0] + 18, y = mouse[1] + 18;
    if (x + w > window.innerWidth - 8) x = mouse[0] - 18 - w;
    if (y + h > window.innerHeight - 8) y = mouse[1] - 18 - h;
    card.style.left = Math.max(8, x) + 'px';
    card.style.top = Math.max(8, y) + 'px';
  }
  function ready(fn) { if (gd && gd.on) fn(); else setTimeout(() => ready(fn), 50); }
  ready(function () {
    gd.on('plotly_hover', (ev) => {
      const t = tracks[ev.points[0].customdata];
      if (t) showCard(t);
    });
    gd.on('plotly_unhover', () => { card.style.display = 'none'; });
    search.addEventListener('input', () => {
      const words = fold(search.value).split(/\s+/).filter(Boolean);
      let hits = 0;
      gd.data.forEach((trace, i) => {
        const idx = trace.customdata || [];
        const match = idx.map((k) => words.length > 0 && words.every((w) => tracks[k].text.includes(w)));
        hits += trace.visible === true || trace.visible === undefined ? match.filter(Boolean).length : 0;
        Plotly.restyle(gd, {
          'marker.size': [match.map((m) => (words.length === 0 ? 7 : m ? 14 : 5))],
          'marker.opacity': [match.map((m) => (words.length === 0 ? 0.85 : m ? 1.0 : 0.15))],
        }, [i]);
      });
      count.textContent = words.length === 0 ? '' : hits + ' match' + (hits === 1 ? '' : 'es');
    });
  });
})();
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; background: #faf8f3; color: #18181c; }}
header {{ display: flex; gap: 1em; align-items: center; padding: .6em 1em; }}
h1 {{ font-size: 1.1em; margin: 0; font-weight: 600; }}
#search {{ flex: 0 1 24em; padding: .35em .6em; font-size: 1em; }}
#count, footer {{ color: #6e6e76; font-size: .9em; }}
footer {{ padding: .4em 1em; }}
#card {{ position: fixed; display: none; gap: .7em; align-items: flex-start; max-width: 26em;
  padding: .6em; background: #fff; border-radius: 6px; box-shadow: 0 2px 10px rgba(0,0,0,.25);
  pointer-events: none; z-index: 10; font-size: .9em; }}
#card img {{ width: {thumb}px; height: {thumb}px; flex: none; border-radius: 3px; }}
#card-text {{ min-width: 10em; }}
#card .t {{ font-weight: 600; }}
#card .m {{ color: #6e6e76; font-size: .9em; margin-top: .2em; }}
</style></head>
<body>
<header><h1>{title}</h1>
<input id="search" type="search" placeholder="Search artist, title, album, tag…" aria-label="search">
<span id="count"></span></header>
{plot}
<footer>{footer}</footer>
<div id="card" role="tooltip"><img id="card-img" alt=""><div id="card-text"></div></div>
<script id="segue-tracks" type="application/json">{tracks_json}</script>
<script id="segue-thumbs" type="application/json">{thumbs_json}</script>
<script>{js}</script>
</body></html>
"""


def _json_for_script(data: object) -> str:
    # "</" inside a <script> would end it early; JSON allows "<\\/" for the same string
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _thumb_uri(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as img:
        buf = io.BytesIO()
        img.convert("RGB").resize((THUMB, THUMB), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def map_data(store, coords: Mapping[int, tuple[float, float]], clusters: Mapping[int, str],
             cache: Path | None = None, progress: bool = False) -> tuple[list[dict], dict[str, str]]:  # fmt: skip
    """Per track: id, labels, top tags, genre, cover, cluster, x/y (None when not placed), the
    folded search text; and the thumbnails. No file paths (the page is made to be shared).
    ``coords`` and ``clusters`` by track id: the layout and sound clusters of the space
    playlists use (:meth:`segue.api.Library.write_map` makes them)."""
    from segue.art.covers import prepare_covers
    from segue.listen.models.musicnn_tags import MUSICNN_TAGS

    names = MUSICNN_TAGS["MSD_musicnn"]
    tags = store.vectors("musicnn", "tags_msd")
    covers = {c.digest: c for c in prepare_covers(store, cache, progress=progress)}
    canon = {d: (c.duplicate_of or d) for d, c in covers.items()}
    thumbs = {d: _thumb_uri(covers[d].path(128, cache)) for d in sorted(set(canon.values()))}
    out = []
    for t in store.tracks():
        strong = [names[int(i)] for i in np.argsort(-tags[t.audio_hash])[:3]] if t.audio_hash in tags else []
        xy = coords.get(t.id)
        text = " ".join(s for s in (t.artist, t.title, t.album, t.genre, *strong) if s)
        out.append({
            "id": t.id, "artist": t.artist, "title": t.title, "album": t.album, "genre": t.genre,
            "tag": strong[0] if strong else None, "tags": strong, "cover": canon.get(t.cover_hash or ""),
            "cluster": clusters.get(t.id) if xy is not None else None,
            "x": None if xy is None else round(xy[0], 4), "y": None if xy is None else round(xy[1], 4),
            "text": fold_text(text),
        })  # fmt: skip
    return out, thumbs


#: A tag colours the map only where this share of placed tracks has it, with two values or more.
MIN_TAGGED = 0.25
MAX_GROUPS = 20  # albums beyond the commonest this many share one "(other albums)" colour


def colour_modes(tracks: list[dict]) -> dict[str, str]:
    """The colourings this library can show: top tag and sound cluster always; genre and album
    only where enough placed tracks carry one (a library without genres would go all grey)."""
    placed = [t for t in tracks if t["x"] is not None]
    modes = {"tag": "top tag"}
    if any(t.get("cluster") for t in placed):
        modes["cluster"] = "sound cluster"
    for key in ("genre", "album"):
        values = [t[key] for t in placed if t.get(key)]
        if placed and len(values) >= MIN_TAGGED * len(placed) and len(set(values)) >= 2:
            modes[key] = key
    return modes


def build_map(store, out_path: Path, coords: Mapping[int, tuple[float, float]], clusters: Mapping[int, str],
              method: str = "tsne", cache: Path | None = None, title: str = "segue — library map",
              progress: bool = False) -> dict:  # fmt: skip
    """Write the map page; returns counts (tracks, placed, covers, bytes)."""
    import plotly.graph_objects as go

    tracks, thumbs = map_data(store, coords, clusters, cache, progress)
    placed = [i for i, t in enumerate(tracks) if t["x"] is not None]
    scatter = go.Scattergl if len(placed) > SVG_LIMIT else go.Scatter
    fig = go.Figure()
    modes = colour_modes(tracks)
    visibility: dict[str, list[bool]] = {m: [] for m in modes}
    for mode in modes:
        groups: dict[str, list[int]] = {}
        for i in placed:
            groups.setdefault(tracks[i][mode] or "(none)", []).append(i)
        if len(groups) > MAX_GROUPS:
            ranked = sorted(groups, key=lambda g: -len(groups[g]))
            other = [i for g in ranked[MAX_GROUPS - 1 :] for i in groups.pop(g)]
            groups[f"(other {mode}s)"] = other
        for label, idx in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            fig.add_trace(scatter(
                x=[tracks[i]["x"] for i in idx], y=[tracks[i]["y"] for i in idx], mode="markers",
                name=f"{label} ({len(idx)})", customdata=idx, visible=(mode == "tag"),
                marker={"size": 7, "opacity": 0.85},
                hoverinfo="none",  # the page's own card shows cover and words side by side
            ))  # fmt: skip
            for m in modes:
                visibility[m].append(m == mode)
    fig.update_layout(
        template="plotly_white", paper_bgcolor="#faf8f3", height=760, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
        legend={"title": {"text": "colour"}}, hovermode="closest",
        updatemenus=[{
            "type": "buttons", "direction": "right", "x": 0, "y": 1.06, "xanchor": "left",
            "buttons": [{"label": f"colour by {label}", "method": "update", "args": [{"visible": visibility[m]}]}
                        for m, label in modes.items()],
            "visible": len(modes) > 1,
        }],
    )  # fmt: skip
    plot = fig.to_html(full_html=False, include_plotlyjs=True, div_id="segue-map", config={"responsive": True})
    unplaced = len(tracks) - len(placed)
    footer = f"{len(tracks)} tracks, {len(placed)} placed by {method}" + (
        f"; {unplaced} not analysed yet (listed in the page data, not drawn)" if unplaced else ""
    )
    page = _PAGE.format(title=html.escape(title), thumb=THUMB, plot=plot, footer=html.escape(footer),
                        tracks_json=_json_for_script(tracks), thumbs_json=_json_for_script(thumbs), js=_JS)  # fmt: skip
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return {"path": str(out_path), "tracks": len(tracks), "placed": len(placed), "covers": len(thumbs),
            "bytes": out_path.stat().st_size}  # fmt: skip
