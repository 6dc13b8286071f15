// The player: what plays now, the queue ("Up next"), the radio after it, the history; kept in
// this browser (localStorage) so a reload carries on where it was.
//
// The queue holds the listener's own picks first (fixed: a journey, an album, "play next") and
// then the radio's picks, which the server draws from the seeds and everything heard or queued
// (POST /api/radio is stateless). The knobs only redraw the radio's part; "Back to radio" drops
// the listener's part.
"use strict";

const PLAYER_KEY = "segue.player.v1";
const RADIO_TAIL = 10;

const player = {
  seeds: [],          // track ids the radio started from
  current: null,      // track object playing
  queue: [],          // [{t, fixed}]: fixed first
  history: [],        // played, oldest first
  skipped: new Set(),
  lookback: 3,
  noise: 0,
  radioOn: true,
  fetchSeq: 0,
  pending: null,
  radioAnswers: [],   // the ids of each radio answer used (tests: none is thrown away)
  restored: false,
};

const fixedCount = () => player.queue.filter((q) => q.fixed).length;

function historyIds() {
  const ids = player.history.map((t) => t.id);
  if (player.current) ids.push(player.current.id);
  for (const q of player.queue) if (q.fixed) ids.push(q.t.id);
  return ids.slice(-4000);
}

async function refreshRadio() {
  const seq = ++player.fetchSeq;
  const fixed = player.queue.filter((q) => q.fixed);
  if (!player.radioOn || !player.seeds.length) {
    player.queue = fixed;
    renderLists();
    prepareNext();
    return;
  }
  const req = api("/api/radio", {
    json: {
      seeds: player.seeds.slice(0, 20), history: historyIds(), skipped: [...player.skipped].slice(-4000),
      lookback: player.lookback, noise: player.noise, k: RADIO_TAIL,
    },
  });
  player.pending = req;
  try {
    const got = await req;
    if (seq !== player.fetchSeq) return;
    player.radioAnswers.push(got.tracks.map((t) => t.id));
    player.queue = [...player.queue.filter((q) => q.fixed), ...got.tracks.map((t) => ({ t, fixed: false }))];
    renderLists();
    prepareNext();
    savePlayer();
  } catch (e) {
    if (seq === player.fetchSeq) toast(`Could not pick the next songs: ${e.message}`, true);
  } finally {
    if (player.pending === req) player.pending = null;
  }
}

function showNow(t) {
  $("title").textContent = t ? label(t) : "Nothing playing";
  $("artist").textContent = t ? (t.artist || "") : "Search for a song, browse, or drop a file, to start a radio";
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
  updateMediaSession(t);
}

// Play a track now in the current element (a listener's choice).
function playTrack(t, { position = 0, autoplay = true } = {}) {
  player.current = t;
  showNow(t);
  engineLoad(t, { position, autoplay });
  if (autoplay) recordEvent(t, "start", position);
  renderLists();
  prepareNext();
  savePlayer();
}

// Leave the current track: a skip (with how far in) or a full listen goes to the store.
function leaveCurrent(reason) {
  const t = player.current;
  if (!t) return;
  const pos = engine.now().currentTime || 0;
  if (reason === "skip") {
    recordEvent(t, "skip", pos);
    if (pos < Math.min(30, (t.duration || 60) / 2)) player.skipped.add(t.id);
  } else if (reason === "complete") {
    recordEvent(t, "complete", pos);
  }
  player.history.push(t);
  if (player.history.length > 1000) player.history.splice(0, player.history.length - 1000);
}

// Start (or re-steer) the radio from a track; what was played stays played, and the
// listener's own queue stays where it is (it plays before the new radio).
function startRadio(t) {
  if (player.current && player.current.id !== t.id) leaveCurrent("skip");
  player.seeds = [t.id];
  player.radioOn = true;
  player.queue = player.queue.filter((q) => q.fixed && q.t.id !== t.id);
  playTrack(t);
  refreshRadio();
  showView("player");
}

// Play a list in order (a journey, an album, a selection), then the radio from `seeds`.
function playList(tracks, seeds) {
  if (!tracks.length) return;
  if (player.current) leaveCurrent("skip");
  const [first, ...rest] = tracks;
  player.seeds = (seeds && seeds.length ? seeds : [tracks[tracks.length - 1].id]).slice(0, 20);
  player.radioOn = true;
  player.queue = rest.map((t) => ({ t, fixed: true }));
  playTrack(first);
  refreshRadio(); // the radio's answer goes after the list: it is shown, not thrown away
  showView("player");
}

function queueTracks(tracks, where) {
  const items = tracks.map((t) => ({ t, fixed: true }));
  if (!player.current) {
    const [first, ...rest] = items;
    player.seeds = [first.t.id];
    player.queue = [...rest, ...player.queue.filter((q) => q.fixed)];
    playTrack(first.t);
    refreshRadio();
    return;
  }
  const ids = new Set(tracks.map((t) => t.id));
  const kept = player.queue.filter((q) => !ids.has(q.t.id));
  const fixed = kept.filter((q) => q.fixed);
  const radio = kept.filter((q) => !q.fixed);
  player.queue = where === "next" ? [...items, ...fixed, ...radio] : [...fixed, ...items, ...radio];
  toast(tracks.length === 1 ? `${where === "next" ? "Playing next" : "Queued"}: ${label(tracks[0])}` : `${tracks.length} songs queued`);
  renderLists();
  refreshRadio();
}

// A click on a row of "Up next": play it now; what was before it is passed over.
function playFromQueue(i) {
  const item = player.queue[i];
  if (!item) return;
  if (player.current) leaveCurrent("skip");
  player.queue.splice(0, i + 1);
  playTrack(item.t);
  refreshRadio();
}

function removeAt(i) {
  const [item] = player.queue.splice(i, 1);
  if (item && !item.fixed) player.skipped.add(item.t.id); // "not this one": the radio steers away
  renderLists();
  refreshRadio();
}

// Reorder: `order` lists the old indices in their new order; everything up to the last of the
// listener's picks becomes theirs (a radio pick dragged above one is kept).
function applyOrder(order, moved) {
  const next = order.map((i) => player.queue[i]).filter(Boolean);
  if (next.length !== player.queue.length) { renderLists(); return; }
  const movedItem = player.queue[moved];
  if (movedItem) movedItem.fixed = true;
  let last = -1;
  next.forEach((q, k) => { if (q.fixed) last = k; });
  next.forEach((q, k) => { if (k <= last) q.fixed = true; });
  player.queue = next;
  renderLists();
  refreshRadio();
}

function backToRadio() {
  player.queue = player.queue.filter((q) => !q.fixed);
  player.radioOn = true;
  if (player.current) player.seeds = [player.current.id];
  renderLists();
  refreshRadio();
}

async function next(reason = "skip") {
  if (!player.current) return;
  cancelCrossover();
  leaveCurrent(reason);
  if (!player.queue.length && player.pending) {
    try { await player.pending; } catch (e) { /* reported */ }
  }
  if (!player.queue.length) {
    player.current = null;
    await refreshRadio();
  }
  const item = player.queue.shift();
  if (!item) { toast("Nothing left to play"); player.current = null; showNow(null); renderLists(); return; }
  const t = item.t;
  if (reason === "complete" && engineAdvanceLoaded(t)) {
    player.current = t;
    showNow(t);
    recordEvent(t, "start", 0);
    renderLists();
    prepareNext();
    savePlayer();
  } else {
    playTrack(t);
  }
  refreshRadio();
}

// The engine started crossing into the next track: it is the one playing now.
function onCrossoverStart(plan) {
  const item = player.queue[0];
  if (!item || item.t.id !== plan.to) return;
  leaveCurrent("complete");
  player.queue.shift();
  player.current = item.t;
  showNow(item.t);
  recordEvent(item.t, "start", plan.in_start);
  renderLists();
  refreshRadio();
  savePlayer();
}

function onCrossoverEnd() { prepareNext(); }

// The next track waits in the other element with its transition planned. An album played in
// order is gapless (never crossfaded): its tracks carry their album and place.
function prepareNext() {
  const cur = player.current;
  const nxt = player.queue[0] && player.queue[0].t;
  const continuous = !!(cur && nxt && cur.album_key && cur.album_key === nxt.album_key && nxt.album_seq === cur.album_seq + 1);
  enginePrepare(cur, nxt, { continuous });
}

function back() {
  const a = engine.now();
  if (!player.history.length || a.currentTime > 5) {
    engineSeek(0);
    return;
  }
  if (player.current) player.queue.unshift({ t: player.current, fixed: true });
  const prev = player.history.pop();
  player.skipped.delete(prev.id);
  playTrack(prev);
}

// ---------------------------------------------------------------------------------------------
// Up next and history

function dragHandle(li) {
  const h = el("span", "drag", "≡");
  h.title = "Drag to reorder";
  h.setAttribute("aria-label", "Drag to reorder");
  h.addEventListener("click", (ev) => ev.preventDefault());
  h.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
    const ul = li.parentElement;
    const moved = Number(li.dataset.index);
    li.classList.add("dragging");
    h.setPointerCapture(ev.pointerId);
    const move = (e) => {
      const others = [...ul.querySelectorAll("li[data-index]")].filter((x) => x !== li);
      const before = others.find((it) => { const r = it.getBoundingClientRect(); return e.clientY < r.top + r.height / 2; });
      if (before) ul.insertBefore(li, before); else ul.append(li);
    };
    const up = () => {
      h.removeEventListener("pointermove", move);
      h.removeEventListener("pointerup", up);
      h.removeEventListener("pointercancel", up);
      li.classList.remove("dragging");
      applyOrder([...ul.querySelectorAll("li[data-index]")].map((x) => Number(x.dataset.index)), moved);
    };
    h.addEventListener("pointermove", move);
    h.addEventListener("pointerup", up);
    h.addEventListener("pointercancel", up);
  });
  return h;
}

function renderLists() {
  const ul = $("queue");
  ul.replaceChildren();
  const fixed = fixedCount();
  if (!player.queue.length) {
    ul.append(el("li", "empty", player.current ? "Picking…" : "Start a radio to see what comes next"));
  }
  player.queue.forEach((q, i) => {
    if (i === fixed && fixed > 0) ul.append(el("li", "divider", "Then the radio"));
    ul.append(trackItem(q.t, () => playFromQueue(i), {
      extra: (li) => {
        li.dataset.index = i;
        li.classList.toggle("fixed", q.fixed);
        li.prepend(dragHandle(li));
        li.append(iconButton("act x", "✕", "Remove from the queue", () => removeAt(i)));
      },
    }));
  });
  $("to-radio").hidden = fixed === 0;
  const hist = [...player.history].reverse().slice(0, 100);
  fillList($("history"), hist, startRadio, "Nothing yet", { actions: true });
}

// ---------------------------------------------------------------------------------------------
// The now-playing card: transport, seek bar, knobs, transitions

function setPlayIcon(playing) {
  $("play-icon").setAttribute("d", playing ? "M6 5h4v14H6zm8 0h4v14h-4z" : "M8 5v14l11-7z");
  if ("mediaSession" in navigator) navigator.mediaSession.playbackState = playing ? "playing" : "paused";
}

let lastSaved = 0;
let lastPosition = 0;
function onTime() {
  const a = engine.now();
  const d = a.duration;
  if (!$("seekbar").matches(":active")) $("seekbar").value = isFinite(d) && d > 0 ? Math.round(1000 * a.currentTime / d) : 0;
  $("pos").textContent = fmtTime(a.currentTime);
  $("dur").textContent = fmtTime(d);
  if (Date.now() - lastPosition > 1000) { lastPosition = Date.now(); updatePositionState(); }
  if (Date.now() - lastSaved > 2000) savePlayer();
}

engine.els.forEach((a, i) => {
  a.addEventListener("ended", () => { if (i === engine.cur && !engine.xf) next("complete"); });
  a.addEventListener("play", () => { if (i === engine.cur) { setPlayIcon(true); updatePositionState(); } });
  a.addEventListener("pause", () => { if (i === engine.cur) { setPlayIcon(false); savePlayer(); } });
  a.addEventListener("timeupdate", () => { if (i === engine.cur) onTime(); });
  a.addEventListener("seeked", () => { if (i === engine.cur) updatePositionState(); });
  a.addEventListener("error", () => {
    if (i !== engine.cur || !a.getAttribute("src") || !player.current) return;
    toast(`Cannot play ${label(player.current)} in this browser; skipping`, true);
    setTimeout(() => next("skip"), 1500);
  });
});

$("seekbar").addEventListener("input", () => {
  const a = engine.now();
  if (isFinite(a.duration)) engineSeek(a.duration * Number($("seekbar").value) / 1000);
});
$("skip").addEventListener("click", () => next("skip"));
$("back").addEventListener("click", back);
$("play").addEventListener("click", () => {
  if (!engine.now().getAttribute("src") && player.current) playTrack(player.current);
  else engineToggle();
});
$("to-radio").addEventListener("click", backToRadio);
$("xfade").value = engine.mode;
$("xfade").addEventListener("change", () => setEngineMode($("xfade").value));

let knobTimer = null;
function knob(id, key, fmt) {
  const input = $(id);
  const show = () => { $(`${id}-v`).textContent = fmt(Number(input.value)); };
  input.addEventListener("input", () => {
    player[key] = Number(input.value);
    show();
    clearTimeout(knobTimer);
    knobTimer = setTimeout(() => { refreshRadio(); savePlayer(); }, 200); // the radio's part only
  });
  player[key] = Number(input.value);
  show();
}
knob("lookback", "lookback", (v) => String(v));
knob("noise", "noise", (v) => v.toFixed(2));

// ---------------------------------------------------------------------------------------------
// Lock screen, headset and notification controls (Media Session API)

function updateMediaSession(t) {
  if (!("mediaSession" in navigator)) return;
  if (!t) { navigator.mediaSession.metadata = null; return; }
  navigator.mediaSession.metadata = new MediaMetadata({
    title: label(t), artist: t.artist || "", album: t.album || "",
    artwork: t.cover ? [{ src: new URL(coverUrl(t.cover), location.href).href, sizes: "512x512" }] : [],
  });
}

function updatePositionState() {
  const a = engine.now();
  if (!("mediaSession" in navigator) || !navigator.mediaSession.setPositionState) return;
  if (!isFinite(a.duration) || a.duration <= 0) return;
  try {
    navigator.mediaSession.setPositionState({
      duration: a.duration, position: Math.min(a.currentTime, a.duration), playbackRate: a.playbackRate || 1,
    });
  } catch (e) { /* a browser that disagrees about the numbers */ }
}

if ("mediaSession" in navigator) {
  const ms = navigator.mediaSession;
  const handlers = {
    play: () => enginePlay(),
    pause: () => engine.now().pause(),
    stop: () => engine.now().pause(),
    nexttrack: () => next("skip"),
    previoustrack: () => back(),
    seekto: (d) => engineSeek(d.seekTime),
    seekbackward: (d) => engineSeek(engine.now().currentTime - (d.seekOffset || 10)),
    seekforward: (d) => engineSeek(engine.now().currentTime + (d.seekOffset || 10)),
  };
  for (const [action, fn] of Object.entries(handlers)) {
    try { ms.setActionHandler(action, fn); } catch (e) { /* not supported here */ }
  }
}

// ---------------------------------------------------------------------------------------------
// Kept per browser: a reload (or a new visit) carries on where it was, paused.

let saveTimer = null;
function savePlayer() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(writePlayer, 100);
}

function writePlayer() {
  lastSaved = Date.now();
  store.set(PLAYER_KEY, {
    v: 1, seeds: player.seeds, current: player.current, position: player.current ? engine.now().currentTime || 0 : 0,
    queue: player.queue, history: player.history.slice(-200), skipped: [...player.skipped].slice(-2000),
    lookback: player.lookback, noise: player.noise, radioOn: player.radioOn,
  });
}

function restorePlayer() {
  const s = store.get(PLAYER_KEY, null);
  if (!s || s.v !== 1) return false;
  player.seeds = s.seeds || [];
  player.queue = (s.queue || []).filter((q) => q && q.t && q.t.id);
  player.history = s.history || [];
  player.skipped = new Set(s.skipped || []);
  player.radioOn = s.radioOn !== false;
  for (const [id, key] of [["lookback", "lookback"], ["noise", "noise"]]) {
    if (typeof s[key] === "number") {
      $(id).value = s[key];
      $(id).dispatchEvent(new Event("input"));
    }
  }
  clearTimeout(knobTimer); // the restored queue is shown as it was; no redraw of the radio
  if (s.current) {
    player.current = s.current;
    showNow(s.current);
    engineLoad(s.current, { position: s.position || 0, autoplay: false });
  }
  renderLists();
  prepareNext();
  player.restored = true;
  return true;
}

window.addEventListener("pagehide", writePlayer);
document.addEventListener("visibilitychange", () => { if (document.hidden) writePlayer(); });

// A radio from several seeds (an album, an artist): the first plays, all of them steer.
function startRadioFrom(first, seeds) {
  startRadio(first);
  player.seeds = seeds.slice(0, 20);
  refreshRadio();
}
