// The audio engine: two <audio> elements through Web Audio, so one track can cross over into the
// next the way segue's rendered mixes do. The server plans each hand-over with the mix planner
// (/api/transition: where the outgoing track fades, where and how fast the incoming one starts,
// whether their downbeats meet, the loudness gains); the engine carries it out:
//
// - pre-roll: the incoming track starts a second early at gain 0, positioned so that its planned
//   start meets the outgoing track's fade point; while it is silent its speed is nudged (and, if
//   far off, it is moved) until the two timelines agree, so beat-matched downbeats land together;
// - the crossfade is equal power (cos/sin gains), over the planned overlap;
// - "gapless" (and an album played in order) never overlaps: the next file waits, loaded, in the
//   other element and starts the moment the current one ends.
//
// Everything measured is kept in engine.last (phase error at the fade, gains sampled during it).
"use strict";

const XFADE_KEY = "segue.xfade";
const XFADE_SECONDS = 6;
const PREROLL_S = 1.0;
const MAX_BOOST_DB = 6; // the browser has no true-peak limiter in front of the speakers: be modest

const engine = {
  els: [$("audio-a"), $("audio-b")],
  cur: 0,
  ctx: null,
  gains: [null, null],
  levels: [1, 1],     // each element's loudness gain (linear)
  mode: store.get(XFADE_KEY, "fade"),  // off (gapless) | fade | beat
  plan: null,         // the server's plan from the playing track to the next
  planKey: "",
  xf: null,           // a crossover in progress
  last: null,         // the last crossover, as it went
  preloaded: null,    // track id loaded (paused) in the other element
  timer: null,
};

engine.now = () => engine.els[engine.cur];
engine.other = () => engine.els[1 - engine.cur];

function audioUrl(t) { return `/api/tracks/${encodeURIComponent(t.id)}/audio`; }

function ensureGraph() {
  if (engine.ctx || !window.AudioContext) {
    if (engine.ctx && engine.ctx.state === "suspended") engine.ctx.resume().catch(() => {});
    return engine.ctx;
  }
  try {
    const ctx = new AudioContext({ latencyHint: "playback" });
    const limiter = ctx.createDynamicsCompressor();
    limiter.threshold.value = -2;
    limiter.knee.value = 0;
    limiter.ratio.value = 20;
    limiter.attack.value = 0.003;
    limiter.release.value = 0.2;
    limiter.connect(ctx.destination);
    engine.els.forEach((e, i) => {
      const g = ctx.createGain();
      ctx.createMediaElementSource(e).connect(g).connect(limiter);
      engine.gains[i] = g;
    });
    engine.ctx = ctx;
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
  } catch (e) {
    engine.ctx = null; // plain elements still play; fades use element volume
  }
  return engine.ctx;
}

function setGain(i, value, rampSeconds = 0) {
  const g = engine.gains[i];
  if (!g) { engine.els[i].volume = Math.max(0, Math.min(1, value)); return; }
  const now = engine.ctx.currentTime;
  g.gain.cancelScheduledValues(now);
  if (rampSeconds > 0) {
    g.gain.setValueAtTime(g.gain.value, now);
    g.gain.linearRampToValueAtTime(value, now + rampSeconds);
  } else {
    g.gain.setValueAtTime(value, now);
  }
}

function gainOf(i) {
  return engine.gains[i] ? engine.gains[i].gain.value : engine.els[i].volume;
}

function dbToGain(db) { return Math.pow(10, Math.max(-24, Math.min(MAX_BOOST_DB, db || 0)) / 20); }

// Load a track into the current element (a user's choice: play it now, cutting any crossover).
function engineLoad(t, { position = 0, autoplay = true } = {}) {
  cancelCrossover();
  const a = engine.now();
  const b = engine.other();
  b.pause();
  b.removeAttribute("src");
  b.load();
  engine.preloaded = null;
  engine.plan = null;
  engine.planKey = "";
  a.playbackRate = 1;
  a.src = audioUrl(t);
  engine.levels[engine.cur] = 1;
  setGain(engine.cur, 1);
  if (position > 0) {
    const seek = () => { a.currentTime = Math.min(position, (a.duration || position + 1) - 0.5); };
    if (a.readyState >= 1) seek(); else a.addEventListener("loadedmetadata", seek, { once: true });
  }
  if (autoplay) enginePlay();
}

function enginePlay() {
  ensureGraph();
  const a = engine.now();
  if (!a.src) return;
  a.play().catch(() => { /* autoplay may need a click: the play button is there */ });
}

function engineToggle() {
  const a = engine.now();
  if (!a.src) return;
  if (a.paused) {
    enginePlay();
    if (engine.xf) engine.xf.to.play().catch(() => {});
  } else {
    a.pause();
    if (engine.xf) engine.xf.to.pause();
  }
}

function engineSeek(seconds) {
  cancelCrossover();
  const a = engine.now();
  if (a.src && isFinite(seconds)) a.currentTime = Math.max(0, seconds);
}

// The next track, waiting in the other element; and the plan for getting there.
async function enginePrepare(current, next, { continuous = false } = {}) {
  if (!current || !next) { engine.plan = null; engine.planKey = ""; return; }
  const b = engine.other();
  if (!engine.xf && engine.preloaded !== next.id) {
    b.pause();
    b.src = audioUrl(next);
    b.preload = "auto";
    b.load();
    engine.preloaded = next.id;
  }
  const mode = continuous ? "off" : engine.mode;
  const key = `${current.id}>${next.id}:${mode}`;
  if (key === engine.planKey) return;
  engine.planKey = key;
  engine.plan = null;
  if (mode === "off") return;
  try {
    const q = new URLSearchParams({ a: current.id, b: next.id, fade: XFADE_SECONDS, beatmatch: mode === "beat" });
    const plan = await api(`/api/transition?${q}`);
    if (engine.planKey === key) {
      engine.plan = plan;
      // the playing track takes its loudness gain now (gently), as the incoming one will
      if (!engine.xf) {
        engine.levels[engine.cur] = dbToGain(plan.gain_out_db);
        setGain(engine.cur, engine.levels[engine.cur], 1.0);
      }
    }
  } catch (e) {
    if (engine.planKey === key) engine.plan = null; // the plain hand-over at the end still works
  }
}

function cancelCrossover() {
  if (!engine.xf) return;
  const xf = engine.xf;
  engine.xf = null;
  xf.to.pause();
  xf.to.playbackRate = 1;
  setGain(1 - engine.cur, 0);
}

// The timelines the plan wants: the incoming file's time while the outgoing is at `aTime`.
function plannedInTime(p, aTime) { return p.in_start + (aTime - p.out_at) * p.speed; }

function engineTick() {
  const a = engine.now();
  if (a.paused && !engine.xf) return;
  if (engine.xf) { crossoverTick(); return; }
  const p = engine.plan;
  if (!p || p.overlap <= 0 || !player.current || p.from !== player.current.id) return;
  const head = player.queue[0];
  if (!head || head.t.id !== p.to) return;
  if (engine.other().error) return; // this browser cannot play the next file: no crossover
  const left = (p.out_at - a.currentTime) / (a.playbackRate || 1);
  if (left <= PREROLL_S && left > -0.2 && a.duration - a.currentTime > 0.3) startPreroll(p, left);
}

function startPreroll(p, left) {
  const a = engine.now();
  const b = engine.other();
  const i = 1 - engine.cur;
  if (engine.preloaded !== p.to) { b.src = audioUrl({ id: p.to }); engine.preloaded = p.to; }
  b.preservesPitch = false; // varispeed, as a DJ's pitch fader (and as the renderer does)
  b.playbackRate = p.speed;
  b.currentTime = Math.max(0, plannedInTime(p, a.currentTime));
  setGain(i, 0);
  engine.levels[i] = dbToGain(p.gain_in_db);
  engine.xf = {
    plan: p, from: a, to: b, fromIndex: engine.cur, toIndex: i, fading: false, started: performance.now(),
    errors: [], samples: [], fadeError: null, seeks: 0, wasPlayingTogether: false,
  };
  b.play().catch(() => cancelCrossover());
}

function crossoverTick() {
  const xf = engine.xf;
  const p = xf.plan;
  const a = xf.from, b = xf.to;
  if (a.ended && !xf.fading) { cancelCrossover(); next("complete"); return; } // B never got going
  const head = player.queue[0];
  if (!xf.fading && (!head || head.t.id !== p.to)) { cancelCrossover(); return; } // the queue changed
  if (b.paused || b.seeking || b.readyState < 3) return;
  const err = b.currentTime - plannedInTime(p, a.currentTime); // > 0: the incoming track is ahead
  xf.errors.push(err);
  if (!a.paused && !b.paused) xf.wasPlayingTogether = true;
  if (!xf.fading && Math.abs(err) > 0.12 && xf.seeks < 2) {
    xf.seeks++;  // far off and still silent: move it
    b.currentTime = Math.max(0, b.currentTime - err);
    return;
  }
  // nudge the speed towards the planned timeline (a DJ's hand on the platter)
  const nudge = Math.max(-0.06, Math.min(0.06, err * 0.8));
  b.playbackRate = p.speed * (1 - nudge);
  if (!xf.fading && a.currentTime >= p.out_at) beginFade(err);
  if (xf.fading) {
    const x = Math.min(1, (a.currentTime - p.out_at) / Math.max(0.05, p.out_end - p.out_at));
    xf.samples.push({ x, a: gainOf(xf.fromIndex) / engine.levels[xf.fromIndex], b: gainOf(xf.toIndex) / engine.levels[xf.toIndex] });
    if (x >= 1 || a.ended || a.paused) finishCrossover();
  }
}

function equalPower(level, rising) {
  const n = 64;
  const curve = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const x = k / (n - 1);
    curve[k] = level * (rising ? Math.sin(x * Math.PI / 2) : Math.cos(x * Math.PI / 2));
  }
  return curve;
}

function beginFade(err) {
  const xf = engine.xf;
  const p = xf.plan;
  xf.fading = true;
  xf.fadeError = err;
  const seconds = Math.max(0.05, (p.out_end - p.out_at) / (xf.from.playbackRate || 1));
  if (engine.ctx) {
    const now = engine.ctx.currentTime;
    for (const [i, rising] of [[xf.fromIndex, false], [xf.toIndex, true]]) {
      const g = engine.gains[i].gain;
      g.cancelScheduledValues(now);
      g.setValueCurveAtTime(equalPower(engine.levels[i], rising), now, seconds);
    }
  } else {
    setGain(xf.fromIndex, 0, seconds);
    setGain(xf.toIndex, 1, seconds);
  }
  onCrossoverStart(p); // the player moves on: the incoming track is now "playing"
}

function finishCrossover() {
  const xf = engine.xf;
  engine.xf = null;
  const p = xf.plan;
  xf.from.pause();
  setGain(xf.fromIndex, 0);
  xf.to.playbackRate = p.speed;
  engine.cur = xf.toIndex;
  engine.preloaded = null;
  engine.plan = null;
  engine.planKey = "";
  const settled = xf.errors.slice(-5);
  engine.last = {
    from: p.from, to: p.to, beatmatched: p.beatmatched, overlap: p.overlap, speed: p.speed,
    fadeErrorMs: xf.fadeError === null ? null : Math.round(xf.fadeError * 1000),
    settledErrorMs: settled.length ? Math.round(1000 * Math.max(...settled.map(Math.abs))) : null,
    samples: xf.samples, together: xf.wasPlayingTogether, seeks: xf.seeks,
  };
  onCrossoverEnd();
}

// The playing element ended with no crossover: the next one starts at once (gapless), loaded.
function engineAdvanceLoaded(t) {
  const b = engine.other();
  if (engine.preloaded !== t.id || b.error) return false; // not loaded, or unplayable here
  const a = engine.now();
  a.pause();
  setGain(engine.cur, 0);
  engine.cur = 1 - engine.cur;
  engine.preloaded = null;
  engine.plan = null;
  engine.planKey = "";
  b.playbackRate = 1;
  b.currentTime = 0;
  engine.levels[engine.cur] = 1;
  setGain(engine.cur, 1);
  ensureGraph();
  b.play().catch(() => {});
  return true;
}

function setEngineMode(mode) {
  engine.mode = mode;
  store.set(XFADE_KEY, mode);
  engine.planKey = "";
  if (player.current && player.queue.length) prepareNext();
}


