// The collection map. Points are drawn once onto a base canvas (again only when the size, the
// colouring or the selection changes); hovering draws on an overlay canvas above it, and the
// point under the pointer is found through a grid index (the 3 x 3 cells around it), so a hover
// costs the same at 100 points or 100,000. Touch: tap shows a point, a second tap plays it; with
// "Select" on, a finger (or the mouse) draws round the points to pick.
//
// The first layout of a library may still be computing: the page shows the job's progress and
// stays usable meanwhile.
"use strict";

// Distinct hues (Trubetskoy's 20 simple colours, the 12 that read best on a dark background)
const PALETTE = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#42d4f4", "#f032e6",
  "#bfef45", "#fabed4", "#469990", "#aaffc3", "#9a6324"];
const OTHER = "#56606c";
const CELL = 16; // px: the grid index's cell

const map = {
  data: null, loaded: false, loading: false, hover: -1, lasso: null, selected: [], px: null, py: null,
  r: 2, grid: null, highlight: null, progress: null, bench: { hover: [], base: [] },
};
const canvas = $("map");
const over = $("map-over");

async function loadMap() {
  if (map.loaded) { drawMap(); return; }
  if (map.loading) return;
  map.loading = true;
  $("map-wait").hidden = false;
  try {
    for (;;) {
      const got = await api("/api/map", { withStatus: true });
      if (got.status === 200) { map.data = got.body; break; }
      map.progress = got.body.progress;
      const pct = Math.round(100 * (got.body.progress || 0));
      $("map-progress").value = pct;
      $("map-wait-text").textContent = `Laying out your library for the map… ${pct} %`;
      await new Promise((r) => setTimeout(r, 500));
    }
    map.loaded = true;
    setupColourChoices();
    if ($("view-map").classList.contains("active")) drawMap();
  } catch (e) {
    toast(`No map: ${e.message}`, true);
  } finally {
    map.loading = false;
    $("map-wait").hidden = true;
  }
}

// Colour by genre only where the library has genre tags; album and sound cluster always.
function setupColourChoices() {
  const sel = $("colour-by");
  const hasGenres = map.data.genre_names.some((n) => n);
  sel.querySelector("option[value=genre]").hidden = !hasGenres;
  sel.querySelector("option[value=genre]").disabled = !hasGenres;
  if (!hasGenres && sel.value === "genre") sel.value = "tag";
}

function colours() {
  const by = $("colour-by").value;
  const codes = map.data[by];
  const names = map.data[`${by}_names`];
  const counts = names.map(() => 0);
  for (const c of codes) counts[c]++;
  const order = names.map((_, i) => i).filter((i) => names[i]).sort((a, b) => counts[b] - counts[a]);
  const colourOf = new Map(order.slice(0, PALETTE.length).map((c, i) => [c, PALETTE[i]]));
  return { codes, names, colourOf, order, counts };
}

function buildGrid(w, h) {
  const cols = Math.max(1, Math.ceil(w / CELL)), rows = Math.max(1, Math.ceil(h / CELL));
  const n = map.px.length;
  const cellOf = new Int32Array(n);
  const start = new Int32Array(cols * rows + 1);
  for (let i = 0; i < n; i++) {
    const c = Math.min(cols - 1, Math.max(0, Math.floor(map.px[i] / CELL)));
    const r = Math.min(rows - 1, Math.max(0, Math.floor(map.py[i] / CELL)));
    cellOf[i] = r * cols + c;
    start[cellOf[i] + 1]++;
  }
  for (let k = 0; k < cols * rows; k++) start[k + 1] += start[k];
  const fill = start.slice(0, cols * rows);
  const items = new Int32Array(n);
  for (let i = 0; i < n; i++) items[fill[cellOf[i]]++] = i;
  map.grid = { cols, rows, start, items };
}

function drawMap() {
  if (!map.data) return;
  const t0 = performance.now();
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  for (const c of [canvas, over]) { c.width = w * dpr; c.height = h * dpr; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = 16;
  const { x, y } = map.data;
  const n = x.length;
  map.px = new Float32Array(n);
  map.py = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    map.px[i] = pad + x[i] * (w - 2 * pad);
    map.py[i] = pad + (1 - y[i]) * (h - 2 * pad);
  }
  buildGrid(w, h);
  const { codes, colourOf } = colours();
  map.r = n > 20000 ? 1.2 : n > 2000 ? 2 : 4.5;
  const sel = new Set(map.selected);
  // one path per colour: a few fills, not one per point
  const byColour = new Map();
  for (let i = 0; i < n; i++) {
    const colour = colourOf.get(codes[i]) || OTHER;
    if (!byColour.has(colour)) byColour.set(colour, []);
    byColour.get(colour).push(i);
  }
  for (const [colour, idx] of byColour) {
    const dim = map.highlight !== null && colour !== map.highlight;
    ctx.fillStyle = colour;
    ctx.globalAlpha = dim ? 0.12 : 0.9;
    ctx.beginPath();
    for (const i of idx) {
      const r = sel.has(i) ? map.r + 1.5 : map.r;
      if (sel.size && !sel.has(i)) continue;
      if (r < 2.5) ctx.rect(map.px[i] - r, map.py[i] - r, 2 * r, 2 * r);
      else { ctx.moveTo(map.px[i] + r, map.py[i]); ctx.arc(map.px[i], map.py[i], r, 0, 2 * Math.PI); }
    }
    ctx.fill();
    if (sel.size) { // the rest, faint
      ctx.globalAlpha = 0.2;
      ctx.beginPath();
      for (const i of idx) if (!sel.has(i)) ctx.rect(map.px[i] - map.r, map.py[i] - map.r, 2 * map.r, 2 * map.r);
      ctx.fill();
    }
  }
  ctx.globalAlpha = 1;
  drawLegend();
  drawOverlay();
  map.bench.base.push(performance.now() - t0);
}

function drawLegend() {
  const { names, colourOf, order, counts } = colours();
  const legend = $("legend");
  legend.replaceChildren();
  const shown = order.slice(0, PALETTE.length);
  for (const c of shown) {
    const colour = colourOf.get(c);
    const li = el("li");
    const b = el("button", map.highlight === colour ? "on" : "");
    b.type = "button";
    const dot = el("i");
    dot.style.background = colour;
    b.append(dot, el("span", "", names[c]), el("small", "", String(counts[c])));
    b.title = "Show only these (again: all)";
    b.addEventListener("click", () => { map.highlight = map.highlight === colour ? null : colour; drawMap(); });
    li.append(b);
    legend.append(li);
  }
  const rest = order.slice(PALETTE.length).reduce((s, c) => s + counts[c], 0) + (counts[names.indexOf("")] || 0);
  if (rest) {
    const li = el("li", "other");
    const dot = el("i");
    dot.style.background = OTHER;
    li.append(dot, el("span", "", "other"), el("small", "", String(rest)));
    legend.append(li);
  }
}

function drawOverlay() {
  const dpr = window.devicePixelRatio || 1;
  const ctx = over.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, over.clientWidth, over.clientHeight);
  if (map.hover >= 0 && map.px) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(map.px[map.hover], map.py[map.hover], map.r + 5, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (map.lasso && map.lasso.length > 1) {
    ctx.strokeStyle = "#ffd60a";
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(map.lasso[0][0], map.lasso[0][1]);
    for (const [lx, ly] of map.lasso) ctx.lineTo(lx, ly);
    ctx.closePath();
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

// The point nearest (mx, my) within `reach` px, from the grid cells around it.
function nearestPoint(mx, my, reach = 12) {
  const g = map.grid;
  if (!g) return -1;
  let best = -1, bestD = reach * reach;
  const c0 = Math.floor((mx - reach) / CELL), c1 = Math.floor((mx + reach) / CELL);
  const r0 = Math.floor((my - reach) / CELL), r1 = Math.floor((my + reach) / CELL);
  for (let r = Math.max(0, r0); r <= Math.min(g.rows - 1, r1); r++) {
    for (let c = Math.max(0, c0); c <= Math.min(g.cols - 1, c1); c++) {
      const cell = r * g.cols + c;
      for (let k = g.start[cell]; k < g.start[cell + 1]; k++) {
        const i = g.items[k];
        const dx = map.px[i] - mx, dy = map.py[i] - my;
        const d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = i; }
      }
    }
  }
  return best;
}

function mapTrack(i) {
  const d = map.data;
  return { id: d.ids[i], title: d.title[i], artist: d.artist[i], cover: d.cover[i] };
}

function pointInPolygon(px, py, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > py) !== (yj > py) && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function pos(ev) {
  const r = over.getBoundingClientRect();
  return [ev.clientX - r.left, ev.clientY - r.top];
}

function hoverAt(i, mx, my, touch) {
  const t0 = performance.now();
  const tip = $("tip");
  if (i !== map.hover) { map.hover = i; drawOverlay(); }
  if (i < 0) { tip.hidden = true; map.bench.hover.push(performance.now() - t0); return; }
  const t = mapTrack(i);
  $("tip-title").textContent = label(t);
  $("tip-artist").textContent = touch ? `${t.artist || ""}${t.artist ? " · " : ""}tap again to play` : (t.artist || "");
  const img = $("tip-cover");
  if (t.cover) { img.src = coverUrl(t.cover); img.hidden = false; } else { img.hidden = true; }
  tip.style.left = `${Math.max(4, Math.min(mx + 14, over.clientWidth - 250))}px`;
  tip.style.top = `${Math.min(my + 14, over.clientHeight - 70)}px`;
  tip.hidden = false;
  map.bench.hover.push(performance.now() - t0);
}

function finishLasso() {
  const poly = map.lasso;
  map.lasso = null;
  if (!poly || poly.length < 3) { drawOverlay(); return false; }
  map.selected = [];
  for (let i = 0; i < map.px.length; i++) if (pointInPolygon(map.px[i], map.py[i], poly)) map.selected.push(i);
  $("sel-count").textContent = `${map.selected.length} selected`;
  $("sel-play").disabled = $("sel-export").disabled = map.selected.length === 0;
  drawMap();
  return true;
}

let downAt = null;
over.addEventListener("pointerdown", (ev) => {
  if (!map.px) return;
  downAt = pos(ev);
  if (ev.shiftKey || $("lasso-mode").checked) {
    map.lasso = [downAt];
    over.setPointerCapture(ev.pointerId);
  }
});
over.addEventListener("pointermove", (ev) => {
  if (!map.px) return;
  const [mx, my] = pos(ev);
  if (map.lasso) { map.lasso.push([mx, my]); drawOverlay(); return; }
  if (ev.pointerType === "mouse") hoverAt(nearestPoint(mx, my), mx, my, false);
});
over.addEventListener("pointerleave", (ev) => {
  if (ev.pointerType === "mouse" && !map.lasso) { $("tip").hidden = true; map.hover = -1; drawOverlay(); }
});
over.addEventListener("pointerup", (ev) => {
  if (!map.px) return;
  if (map.lasso && finishLasso()) return;
  const [mx, my] = pos(ev);
  const touch = ev.pointerType !== "mouse";
  const i = nearestPoint(mx, my, touch ? 22 : 12); // a finger is wider than a pointer
  if (i < 0) { hoverAt(-1, mx, my, touch); return; }
  if (!touch || i === map.hover) startRadio(mapTrack(i));
  else hoverAt(i, mx, my, true);
});
over.addEventListener("pointercancel", () => { map.lasso = null; drawOverlay(); });

$("colour-by").addEventListener("change", () => { map.highlight = null; drawMap(); });
window.addEventListener("resize", () => { if ($("view-map").classList.contains("active")) drawMap(); });
$("sel-export").addEventListener("click", () => download(map.selected.map((i) => map.data.ids[i]), "m3u", "selection"));
$("sel-play").addEventListener("click", () => {
  if (!map.selected.length) return;
  const tracks = map.selected.map(mapTrack);
  playList(tracks, tracks.slice(0, 20).map((t) => t.id)); // the selection plays, then steers the radio
});
$("map-hint").textContent = touchFirst
  ? "Tap a point to see it, tap it again to play. Switch on Select and draw round points to pick them."
  : "Hover to see, click to play. Hold Shift and drag (or switch on Select) to pick points.";
