// segue web player. Plain JS, no build step. Every tag string goes in with textContent, never
// innerHTML: a title like <img src=x onerror=alert(1)> shows literally.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const LISTEN_SECONDS = Math.min(Math.max(Number(params.get("listen")) || 10, 2), 30);
const QUEUE_SIZE = 10;

// ---------------------------------------------------------------------------------------------
// API

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: {} };
  if (opts.json !== undefined) {
    init.method = opts.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.json);
  } else if (opts.form) {
    init.method = "POST";
    init.body = opts.form;
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const body = await res.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (e) { /* not JSON */ }
    const err = new Error(detail);
    err.status = res.status;
    throw err;
  }
  return opts.raw ? res : res.json();
}

let toastTimer = null;
function toast(text, isError = false) {
  const t = $("toast");
  t.textContent = text;
  t.classList.toggle("err", isError);
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, isError ? 6000 : 3500);
}

function fmtTime(s) {
  if (!isFinite(s)) return "";
  s = Math.round(s);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function coverUrl(hash) { return hash ? `/api/covers/${encodeURIComponent(hash)}` : null; }
function label(t) { return t.title || t.file || `track ${t.id}`; }

// One list row: thumbnail, title, artist - album, duration. Text only via textContent.
function trackItem(t, onClick, extra) {
  const li = document.createElement("li");
  li.dataset.id = t.id;
  const img = document.createElement("img");
  img.className = "thumb";
  img.alt = "";
  if (t.cover) img.src = coverUrl(t.cover); else img.style.visibility = "hidden";
  const txt = document.createElement("div");
  txt.className = "txt";
  const ti = document.createElement("div");
  ti.className = "t";
  ti.textContent = label(t);
  const ar = document.createElement("div");
  ar.className = "a";
  ar.textContent = [t.artist, t.album].filter(Boolean).join(" — ");
  txt.append(ti, ar);
  const d = document.createElement("span");
  d.className = "d";
  d.textContent = t.similarity !== undefined ? `${Math.round(t.similarity * 100)}%` : fmtTime(t.duration);
  li.append(img, txt, d);
  if (extra) extra(li);
  li.addEventListener("click", (ev) => { if (!ev.defaultPrevented) onClick(t, ev); });
  return li;
}

function fillList(el, tracks, onClick, emptyText, extra) {
  el.replaceChildren();
  if (!tracks.length && emptyText) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = emptyText;
    el.append(li);
    return;
  }
  for (const t of tracks) el.append(trackItem(t, onClick, extra));
}

// ---------------------------------------------------------------------------------------------
// Player state: the server is stateless, the page posts seeds + history to /api/radio.

const audio = $("audio");
const player = {
  seeds: [],        // track ids the radio started from
  current: null,    // track object playing
  queue: [],        // up next
  history: [],      // played, oldest first
  skipped: new Set(),
  lookback: 3,
  noise: 0,
  fetchSeq: 0,
  pendingQueue: null,
  fixed: false,     // the queue is a journey or a selection: play it out before the radio resumes
};

function historyIds() {
  const ids = player.history.map((t) => t.id);
  if (player.current) ids.push(player.current.id);
  return ids.slice(-4000);
}

async function refreshQueue() {
  if (!player.seeds.length) return;
  const seq = ++player.fetchSeq;
  const req = api("/api/radio", {
    json: {
      seeds: player.seeds, history: historyIds(), skipped: [...player.skipped].slice(-4000),
      lookback: player.lookback, noise: player.noise, k: QUEUE_SIZE,
    },
  });
  player.pendingQueue = req;
  try {
    const got = await req;
    if (seq === player.fetchSeq) {
      player.queue = got.tracks;
      renderLists();
    }
  } catch (e) {
    if (seq === player.fetchSeq) toast(`Could not pick the next songs: ${e.message}`, true);
  }
}

function event(track, kind, position) {
  if (!track) return;
  api("/api/events", {
    json: { track_id: track.id, event: kind, position_s: position ?? null, duration_s: track.duration ?? null },
  }).catch(() => {});
}

function showNow(t) {
  $("title").textContent = t ? label(t) : "Nothing playing";
  $("artist").textContent = t ? (t.artist || "") : "";
  $("album").textContent = t ? (t.album || "") : "";
  const img = $("cover");
  if (t && t.cover) {
    img.src = coverUrl(t.cover);
    img.hidden = false;
    $("cover-ph").hidden = true;
  } else {
    img.hidden = true;
    img.removeAttribute("src");
    $("cover-ph").hidden = false;
  }
  document.title = t ? `${label(t)}${t.artist ? " — " + t.artist : ""} · segue` : "segue";
}

function playTrack(t) {
  player.current = t;
  showNow(t);
  audio.src = `/api/tracks/${encodeURIComponent(t.id)}/audio`;
  audio.play().catch(() => { /* autoplay may need a click; the controls are there */ });
  event(t, "start", 0);
  renderLists();
}

// Leave the current track: a skip (with how far in) or a full listen goes to the store.
function leaveCurrent(reason) {
  const t = player.current;
  if (!t) return;
  const pos = audio.currentTime || 0;
  if (reason === "skip") {
    event(t, "skip", pos);
    if (pos < Math.min(30, (t.duration || 60) / 2)) player.skipped.add(t.id);
  } else if (reason === "complete") {
    event(t, "complete", pos);
  }
  player.history.push(t);
}

// Start (or re-steer) the radio from a track; what was played stays played.
function startRadio(t) {
  if (player.current && player.current.id !== t.id) leaveCurrent("skip");
  player.seeds = [t.id];
  player.fixed = false;
  player.queue = player.queue.filter((q) => q.id !== t.id);
  playTrack(t);
  refreshQueue();
  showView("player");
}

async function next(reason = "skip") {
  if (!player.current) return;
  leaveCurrent(reason);
  if (!player.queue.length && player.pendingQueue) {
    try { await player.pendingQueue; } catch (e) { /* reported */ }
  }
  if (!player.queue.length) {
    player.current = null;
    await refreshQueue();
  }
  const t = player.queue.shift();
  if (!t) { toast("Nothing left to play"); return; }
  playTrack(t);
  if (!player.fixed || !player.queue.length) {
    player.fixed = false;
    refreshQueue();
  }
}

function back() {
  if (!player.history.length || audio.currentTime > 5) {
    audio.currentTime = 0;
    return;
  }
  if (player.current) player.queue.unshift(player.current);
  const prev = player.history.pop();
  player.skipped.delete(prev.id);
  playTrack(prev);
}

function togglePlay() {
  if (!audio.src) return;
  if (audio.paused) audio.play().catch(() => {}); else audio.pause();
}

function renderLists() {
  fillList($("queue"), player.queue, startRadio, player.current ? "Picking…" : "Start a radio to see what comes next");
  fillList($("history"), [...player.history].reverse().slice(0, 100), startRadio, "Nothing yet");
}

audio.addEventListener("ended", () => next("complete"));
const PLAY_D = "M8 5v14l11-7z", PAUSE_D = "M6 5h4v14H6zm8 0h4v14h-4z";
audio.addEventListener("play", () => $("play-icon").setAttribute("d", PAUSE_D));
audio.addEventListener("pause", () => $("play-icon").setAttribute("d", PLAY_D));
audio.addEventListener("error", () => {
  if (player.current) toast(`Cannot play ${label(player.current)} in this browser; skipping`, true);
  setTimeout(() => next("skip"), 1500);
});
$("skip").addEventListener("click", () => next("skip"));
$("back").addEventListener("click", back);
$("play").addEventListener("click", togglePlay);

let knobTimer = null;
function knob(id, key, fmt) {
  const el = $(id);
  const show = () => { $(`${id}-v`).textContent = fmt(Number(el.value)); };
  el.addEventListener("input", () => {
    player[key] = Number(el.value);
    player.fixed = false;
    show();
    clearTimeout(knobTimer);
    knobTimer = setTimeout(refreshQueue, 200);
  });
  player[key] = Number(el.value);
  show();
}
knob("lookback", "lookback", (v) => String(v));
knob("noise", "noise", (v) => v.toFixed(2));

// ---------------------------------------------------------------------------------------------
// Search as you type

function searchBox(input, list, onPick, limit = 30) {
  let seq = 0;
  let timer = null;
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    try {
      const got = await api(`/api/search?q=${encodeURIComponent(q)}&limit=${limit}`);
      if (mine !== seq) return;
      fillList(list, got.tracks, (t) => { onPick(t); }, q ? "No match" : "The library is empty");
      list.dataset.q = q;  // which query the rows answer: focus lists everything before typing lands
      list.hidden = false;
    } catch (e) {
      if (mine === seq) toast(e.message, true);
    }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 120); });
  input.addEventListener("focus", run);
  return run;
}

const results = $("results");
searchBox($("search"), results, (t) => {
  results.hidden = true;
  $("search").blur();
  startRadio(t);
});
document.addEventListener("click", (ev) => {
  if (!ev.target.closest(".search")) results.hidden = true;
});

// ---------------------------------------------------------------------------------------------
// Seeds from outside: a dropped/picked file, or the microphone

function showSuggestions(title, tracks) {
  $("suggest-title").textContent = title;
  fillList($("suggest"), tracks, startRadio, "Nothing close");
  $("suggest-card").hidden = false;
  showView("player");
}

async function seedFromFile(file) {
  if (!file) return;
  if (file.size > 50 * 1024 * 1024) { toast("That file is bigger than 50 MB", true); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  toast(`Listening to ${file.name}…`);
  try {
    const got = await api("/api/seed", { form });
    showSuggestions(`Closest to ${got.name}`, got.tracks);
    if (got.tracks.length) startRadio(got.tracks[0]);
  } catch (e) {
    toast(`Cannot use ${file.name}: ${e.message}`, true);
  }
}

$("file").addEventListener("change", (ev) => { seedFromFile(ev.target.files[0]); ev.target.value = ""; });

let dragDepth = 0;
window.addEventListener("dragenter", (ev) => {
  if (![...ev.dataTransfer.types].includes("Files")) return;
  dragDepth++;
  $("dropzone").hidden = false;
});
window.addEventListener("dragleave", () => { if (--dragDepth <= 0) { dragDepth = 0; $("dropzone").hidden = true; } });
window.addEventListener("dragover", (ev) => ev.preventDefault());
window.addEventListener("drop", (ev) => {
  ev.preventDefault();
  dragDepth = 0;
  $("dropzone").hidden = true;
  const f = ev.dataTransfer.files && ev.dataTransfer.files[0];
  if (f) seedFromFile(f);
});

// 16-bit mono PCM WAV from Float32 chunks: no codec questions on either side.
function encodeWav(chunks, rate) {
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + n * 2, true); str(8, "WAVE");
  str(12, "fmt "); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, "data"); v.setUint32(40, n * 2, true);
  let o = 44;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++, o += 2) {
      const s = Math.max(-1, Math.min(1, c[i]));
      v.setInt16(o, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
  }
  return new Blob([buf], { type: "audio/wav" });
}

async function recordRoom(seconds) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const ctx = new AudioContext();
  try {
    const src = ctx.createMediaStreamSource(stream);
    const proc = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    const want = seconds * ctx.sampleRate;
    let have = 0;
    await new Promise((resolve) => {
      proc.onaudioprocess = (ev) => {
        if (have >= want) return;
        const data = ev.inputBuffer.getChannelData(0);
        chunks.push(new Float32Array(data));
        have += data.length;
        if (have >= want) resolve();
      };
      src.connect(proc);
      proc.connect(ctx.destination); // a ScriptProcessor only runs when connected; it outputs silence
      if (ctx.state === "suspended") ctx.resume();
    });
    src.disconnect();
    proc.disconnect();
    return encodeWav(chunks, ctx.sampleRate);
  } finally {
    stream.getTracks().forEach((t) => t.stop());
    ctx.close();
  }
}

$("listen").addEventListener("click", async () => {
  const btn = $("listen");
  if (btn.classList.contains("busy")) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    toast("This browser gives no microphone here (it needs http://127.0.0.1 or https)", true);
    return;
  }
  btn.classList.add("busy");
  let left = LISTEN_SECONDS;
  const text = $("listen-label");
  text.textContent = `Listening ${left} s…`;
  const tick = setInterval(() => { left = Math.max(left - 1, 0); text.textContent = `Listening ${left} s…`; }, 1000);
  try {
    const wav = await recordRoom(LISTEN_SECONDS);
    clearInterval(tick);
    text.textContent = "Thinking…";
    const form = new FormData();
    form.append("file", wav, "room.wav");
    const got = await api("/api/listen", { form });
    const list = got.match ? [got.match, ...got.next] : got.next;
    showSuggestions(got.match ? `Sounds like ${label(got.match)} — play next:` : "Play next:", list);
  } catch (e) {
    toast(`Listening failed: ${e.message}`, true);
  } finally {
    clearInterval(tick);
    btn.classList.remove("busy");
    text.textContent = "Listen";
  }
});

// ---------------------------------------------------------------------------------------------
// Views and keyboard

function showView(name) {
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === name);
  for (const s of document.querySelectorAll(".view")) s.classList.toggle("active", s.id === `view-${name}`);
  if (name === "map") loadMap();
}
for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showView(b.dataset.view));

document.addEventListener("keydown", (ev) => {
  const typing = ev.target.closest("input, textarea, select") && ev.target.type !== "range";
  if (ev.key === "Escape") { results.hidden = true; if (typing) ev.target.blur(); return; }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === " ") { ev.preventDefault(); togglePlay(); }
  else if (ev.key === "n" || ev.key === "ArrowRight") { ev.preventDefault(); next("skip"); }
  else if (ev.key === "b" || ev.key === "ArrowLeft") { ev.preventDefault(); back(); }
  else if (ev.key === "/") { ev.preventDefault(); $("search").focus(); }
});

// ---------------------------------------------------------------------------------------------
// Journey builder

const journey = { waypoints: [], tracks: [] };

function renderWaypoints() {
  const ol = $("waypoints");
  fillList(ol, journey.waypoints, () => {}, "Add two or more waypoints", (li) => {
    const x = document.createElement("button");
    x.className = "x";
    x.textContent = "✕";
    x.title = "Remove";
    x.addEventListener("click", (ev) => {
      ev.preventDefault();
      const i = [...ol.children].indexOf(li);
      journey.waypoints.splice(i, 1);
      renderWaypoints();
    });
    li.append(x);
  });
  $("preview").disabled = journey.waypoints.length < 2;
}

searchBox($("wp-search"), $("wp-results"), (t) => {
  journey.waypoints.push(t);
  renderWaypoints();
  $("wp-search").value = "";
  $("wp-results").replaceChildren();
}, 8);

function setJourneyButtons(on) {
  for (const id of ["jplay", "export-m3u", "export-xspf", "render-mix"]) $(id).disabled = !on;
}

$("preview").addEventListener("click", async () => {
  const steps = Math.max(0, Math.min(50, Number($("steps").value) || 0));
  try {
    const got = await api("/api/journey", { json: { waypoints: journey.waypoints.map((t) => t.id), steps } });
    journey.tracks = got.tracks;
    fillList($("jlist"), got.tracks, startRadio, "", (li) => {
      const t = got.tracks.find((x) => String(x.id) === li.dataset.id);
      if (t && t.waypoint) li.classList.add("wp");
    });
    setJourneyButtons(got.tracks.length > 0);
  } catch (e) {
    toast(`No journey: ${e.message}`, true);
  }
});

$("jplay").addEventListener("click", () => {
  if (!journey.tracks.length) return;
  const [first, ...rest] = journey.tracks;
  startRadio(first);
  player.fetchSeq++; // the journey is the queue; the radio takes over after it
  player.fixed = true;
  player.queue = rest;
  renderLists();
});

async function download(ids, format, name) {
  try {
    const res = await api("/api/export", { json: { ids, format, name }, raw: true });
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${name}.${format}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    toast(`Export failed: ${e.message}`, true);
  }
}
$("export-m3u").addEventListener("click", () => download(journey.tracks.map((t) => t.id), "m3u", "journey"));
$("export-xspf").addEventListener("click", () => download(journey.tracks.map((t) => t.id), "xspf", "journey"));

$("render-mix").addEventListener("click", async () => {
  const prog = $("mix-progress");
  const link = $("mix-download");
  link.hidden = true;
  prog.hidden = false;
  prog.value = 0;
  $("mix-status").textContent = "Rendering…";
  $("render-mix").disabled = true;
  try {
    const job = await api("/api/mix", { json: { ids: journey.tracks.map((t) => t.id) } });
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const st = await api(`/api/mix/${encodeURIComponent(job.job)}`);
      prog.value = Math.round(100 * st.progress);
      $("mix-status").textContent = `Rendering… ${Math.round(100 * st.progress)} %`;
      if (st.state === "error") throw new Error(st.error || "the render failed");
      if (st.state === "done") break;
    }
    link.href = `/api/mix/${encodeURIComponent(job.job)}/file`;
    link.hidden = false;
    $("mix-status").textContent = "Done: the mix is ready.";
  } catch (e) {
    $("mix-status").textContent = `Mix failed: ${e.message}`;
  } finally {
    prog.hidden = true;
    $("render-mix").disabled = journey.tracks.length === 0;
  }
});

// ---------------------------------------------------------------------------------------------
// Collection map

const PALETTE = ["#ff7a59", "#5ac8fa", "#ffd60a", "#30d158", "#bf5af2", "#ff375f", "#64d2ff",
  "#ff9f0a", "#a2845e", "#32ade6", "#e5e5ea", "#66d4cf"];
const map = { data: null, loaded: false, hover: -1, lasso: null, selected: [], px: null, py: null };
const canvas = $("map");

async function loadMap() {
  if (map.loaded) { drawMap(); return; }
  try {
    map.data = await api("/api/map");
    map.loaded = true;
    drawMap();
  } catch (e) {
    toast(`No map: ${e.message}`, true);
  }
}

function colours() {
  const by = $("colour-by").value;
  const codes = map.data[by];
  const names = map.data[`${by}_names`];
  const counts = names.map(() => 0);
  for (const c of codes) counts[c]++;
  const order = names.map((_, i) => i).filter((i) => names[i]).sort((a, b) => counts[b] - counts[a]);
  const colourOf = new Map(order.slice(0, PALETTE.length).map((c, i) => [c, PALETTE[i]]));
  return { codes, names, colourOf, order };
}

function drawMap() {
  if (!map.data) return;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = 24;
  const { x, y } = map.data;
  map.px = x.map((v) => pad + v * (w - 2 * pad));
  map.py = y.map((v) => pad + (1 - v) * (h - 2 * pad));
  const { codes, names, colourOf, order } = colours();
  const n = x.length;
  const r = n > 20000 ? 1.5 : n > 2000 ? 2.5 : 5;
  const sel = new Set(map.selected);
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = colourOf.get(codes[i]) || "#56606c";
    ctx.globalAlpha = sel.size && !sel.has(i) ? 0.25 : 0.9;
    ctx.beginPath();
    ctx.arc(map.px[i], map.py[i], sel.has(i) ? r + 1.5 : r, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  if (map.hover >= 0) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(map.px[map.hover], map.py[map.hover], r + 4, 0, 2 * Math.PI);
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
  const legend = $("legend");
  legend.replaceChildren();
  for (const c of order.slice(0, PALETTE.length)) {
    const li = document.createElement("li");
    const dot = document.createElement("i");
    dot.style.background = colourOf.get(c);
    const span = document.createElement("span");
    span.textContent = names[c];
    li.append(dot, span);
    legend.append(li);
  }
}

function nearestPoint(mx, my) {
  if (!map.px) return -1;
  let best = -1, bestD = 100; // within 10 px
  for (let i = 0; i < map.px.length; i++) {
    const dx = map.px[i] - mx, dy = map.py[i] - my;
    const d = dx * dx + dy * dy;
    if (d < bestD) { bestD = d; best = i; }
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
  const r = canvas.getBoundingClientRect();
  return [ev.clientX - r.left, ev.clientY - r.top];
}

canvas.addEventListener("mousedown", (ev) => {
  if (ev.shiftKey || $("lasso-mode").checked) map.lasso = [pos(ev)];
});
canvas.addEventListener("mousemove", (ev) => {
  const [mx, my] = pos(ev);
  if (map.lasso) { map.lasso.push([mx, my]); drawMap(); return; }
  const i = nearestPoint(mx, my);
  const tip = $("tip");
  if (i !== map.hover) { map.hover = i; drawMap(); }
  if (i < 0) { tip.hidden = true; return; }
  const t = mapTrack(i);
  $("tip-title").textContent = label(t);
  $("tip-artist").textContent = t.artist || "";
  const img = $("tip-cover");
  if (t.cover) { img.src = coverUrl(t.cover); img.hidden = false; } else { img.hidden = true; }
  tip.style.left = `${Math.min(mx + 14, canvas.clientWidth - 240)}px`;
  tip.style.top = `${my + 14}px`;
  tip.hidden = false;
});
canvas.addEventListener("mouseleave", () => { $("tip").hidden = true; map.hover = -1; });
canvas.addEventListener("mouseup", (ev) => {
  if (map.lasso) {
    const poly = map.lasso;
    map.lasso = null;
    if (poly.length > 2) {
      map.selected = [];
      for (let i = 0; i < map.px.length; i++) if (pointInPolygon(map.px[i], map.py[i], poly)) map.selected.push(i);
      $("sel-count").textContent = `${map.selected.length} selected`;
      $("sel-play").disabled = $("sel-export").disabled = map.selected.length === 0;
      drawMap();
      return;
    }
  }
  const i = nearestPoint(...pos(ev));
  if (i >= 0) startRadio(mapTrack(i));
});
$("colour-by").addEventListener("change", drawMap);
window.addEventListener("resize", () => { if ($("view-map").classList.contains("active")) drawMap(); });
$("sel-export").addEventListener("click", () => download(map.selected.map((i) => map.data.ids[i]), "m3u", "selection"));
$("sel-play").addEventListener("click", () => {
  if (!map.selected.length) return;
  const tracks = map.selected.map(mapTrack);
  startRadio(tracks[0]);
  player.seeds = tracks.slice(0, 20).map((t) => t.id); // the selection steers the radio
  player.fetchSeq++;
  player.fixed = true;
  player.queue = tracks.slice(1);
  renderLists();
});

// ---------------------------------------------------------------------------------------------

renderLists();
renderWaypoints();
api("/api/status").then((s) => {
  if (!s.analysed) toast(s.tracks ? "The library is still being analysed…" : "The library is empty: run 'segue scan DIR'");
}).catch((e) => toast(e.message, true));
