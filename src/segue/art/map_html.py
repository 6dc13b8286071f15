"""``segue map``: the whole library as one self-contained, interactive HTML page (Plotly).

Each analysed track is a point of the MusiCNN t-SNE (or UMAP) projection — the same projection
:func:`segue.art.layout.library_layout` gives the web app. Points are coloured by their top MusiCNN
tag or by genre (a menu switches), hovering shows the album cover (small JPEG data URIs, one per
distinct cover), and a search box highlights matching tracks. plotly.js is inlined, so the file
works offline. Every track, placed or not (not yet analysed), is listed in the page's JSON.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from segue.art.layout import LayoutParams, track_layout

THUMB = 96
SVG_LIMIT = 5000  # above this many points, WebGL (scattergl) keeps the page responsive

_JS = r"""
(function () {
  const tracks = JSON.parse(document.getElementById('segue-tracks').textContent);
  const thumbs = JSON.parse(document.getElementById('segue-thumbs').textContent);
  window.segueTracks = tracks;
  const gd = document.getElementById('segue-map');
  const thumb = document.getElementById('thumb');
  const search = document.getElementById('search');
  const count = document.getElementById('count');
  let mouse = [0, 0];
  document.addEventListener('mousemove', (e) => { mouse = [e.clientX, e.clientY]; });
  function ready(fn) { if (gd && gd.on) fn(); else setTimeout(() => ready(fn), 50); }
  ready(function () {
    gd.on('plotly_hover', (ev) => {
      const t = tracks[ev.points[0].customdata];
      if (t && t.cover && thumbs[t.cover]) {
        thumb.src = thumbs[t.cover];
        thumb.style.left = (mouse[0] + 16) + 'px';
        thumb.style.top = (mouse[1] + 16) + 'px';
        thumb.style.display = 'block';
      }
    });
    gd.on('plotly_unhover', () => { thumb.style.display = 'none'; });
    search.addEventListener('input', () => {
      const q = search.value.trim().toLowerCase();
      let hits = 0;
      gd.data.forEach((trace, i) => {
        const idx = trace.customdata || [];
        const match = idx.map((k) => q !== '' && tracks[k].text.includes(q));
        hits += trace.visible === true || trace.visible === undefined ? match.filter(Boolean).length : 0;
        Plotly.restyle(gd, {
          'marker.size': [match.map((m) => (q === '' ? 7 : m ? 14 : 5))],
          'marker.opacity': [match.map((m) => (q === '' ? 0.85 : m ? 1.0 : 0.15))],
        }, [i]);
      });
      count.textContent = q === '' ? '' : hits + ' match' + (hits === 1 ? '' : 'es');
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
#thumb {{ position: fixed; display: none; width: {thumb}px; height: {thumb}px; pointer-events: none;
  box-shadow: 0 2px 8px rgba(0,0,0,.3); border: 2px solid #fff; z-index: 10; }}
</style></head>
<body>
<header><h1>{title}</h1>
<input id="search" type="search" placeholder="Search artist, title, album, tag…" aria-label="search">
<span id="count"></span></header>
{plot}
<footer>{footer}</footer>
<img id="thumb" alt="">
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


def map_data(store, method: str = "tsne", cache: Path | None = None, progress: bool = False) -> tuple[list[dict], dict[str, str]]:
    """Per track: id, labels, top tag, genre, cover, x/y (None when not placed); thumbnails."""
    from segue.art.covers import prepare_covers
    from segue.listen.models.musicnn_tags import MUSICNN_TAGS

    names = MUSICNN_TAGS["MSD_musicnn"]
    coords = track_layout(store, LayoutParams(method=method), cache=cache)
    tags = store.vectors("musicnn", "tags_msd")
    covers = {c.digest: c for c in prepare_covers(store, cache, progress=progress)}
    canon = {d: (c.duplicate_of or d) for d, c in covers.items()}
    thumbs = {d: _thumb_uri(covers[d].path(128, cache)) for d in sorted(set(canon.values()))}
    out = []
    for t in store.tracks():
        top = names[int(np.argmax(tags[t.audio_hash]))] if t.audio_hash in tags else None
        xy = coords.get(t.id)
        text = " ".join(s for s in (t.artist, t.title, t.album, t.genre, top) if s)
        out.append({
            "id": t.id, "artist": t.artist, "title": t.title, "album": t.album, "genre": t.genre,
            "tag": top, "cover": canon.get(t.cover_hash or ""), "path": t.path,
            "x": None if xy is None else round(xy[0], 4), "y": None if xy is None else round(xy[1], 4),
            "text": text.lower(),
        })  # fmt: skip
    return out, thumbs


def build_map(store, out_path: Path, method: str = "tsne", cache: Path | None = None, title: str = "segue — library map",
              progress: bool = False) -> dict:  # fmt: skip
    """Write the map page; returns counts (tracks, placed, covers, bytes)."""
    import plotly.graph_objects as go

    tracks, thumbs = map_data(store, method, cache, progress)
    placed = [i for i, t in enumerate(tracks) if t["x"] is not None]
    scatter = go.Scattergl if len(placed) > SVG_LIMIT else go.Scatter
    fig = go.Figure()
    modes = {"tag": "top MusiCNN tag", "genre": "genre"}
    visibility: dict[str, list[bool]] = {m: [] for m in modes}
    for mode in modes:
        groups: dict[str, list[int]] = {}
        for i in placed:
            groups.setdefault(tracks[i][mode] or "(none)", []).append(i)
        for label, idx in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            fig.add_trace(scatter(
                x=[tracks[i]["x"] for i in idx], y=[tracks[i]["y"] for i in idx], mode="markers",
                name=f"{label} ({len(idx)})", customdata=idx, visible=(mode == "tag"),
                marker={"size": 7, "opacity": 0.85},
                hovertext=[html.escape(f"{tracks[i]['artist'] or '?'} – {tracks[i]['title'] or '?'}")
                           + f"<br>{html.escape(tracks[i]['album'] or '')} · {tracks[i]['tag'] or ''}"
                           + f"<br>id {tracks[i]['id']}" for i in idx],
                hoverinfo="text",
            ))  # fmt: skip
            for m in modes:
                visibility[m].append(m == mode)
    fig.update_layout(
        template="plotly_white", height=760, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
        legend={"title": {"text": "colour"}}, hovermode="closest",
        updatemenus=[{
            "type": "buttons", "direction": "right", "x": 0, "y": 1.06, "xanchor": "left",
            "buttons": [{"label": f"colour by {label}", "method": "update", "args": [{"visible": visibility[m]}]}
                        for m, label in modes.items()],
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
