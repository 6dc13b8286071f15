// segue web player: shared helpers. Plain JS, no build step; the scripts share one global scope
// and load in order (util, outbox, engine, player, seeds, browse, journey, map, main). Every tag
// string goes in with textContent, never innerHTML: a title like <img src=x onerror=alert(1)>
// shows literally.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const touchFirst = window.matchMedia("(pointer: coarse)").matches;

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
  if (opts.keepalive) init.keepalive = true;
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
  if (opts.raw) return res;
  if (opts.withStatus) return { status: res.status, body: await res.json() };
  return res.json();
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
  if (!isFinite(s) || s < 0) return "";
  s = Math.round(s);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function coverUrl(hash) { return hash ? `/api/covers/${encodeURIComponent(hash)}` : null; }
function label(t) { return t.title || t.file || `track ${t.id}`; }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function iconButton(cls, text, title, onClick) {
  const b = el("button", cls, text);
  b.type = "button";
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", (ev) => { ev.preventDefault(); ev.stopPropagation(); onClick(ev); });
  return b;
}

// One list row: thumbnail, title, artist - album, duration (or similarity). `opts.actions`
// adds "play next" and "add to queue" buttons; `opts.extra(li)` adds more.
function trackItem(t, onClick, opts = {}) {
  const li = el("li");
  li.dataset.id = t.id;
  const img = el("img", "thumb");
  img.alt = "";
  img.loading = "lazy";
  if (t.cover) img.src = coverUrl(t.cover); else img.style.visibility = "hidden";
  const txt = el("div", "txt");
  txt.append(el("div", "t", label(t)), el("div", "a", [t.artist, t.album].filter(Boolean).join(" — ")));
  const d = el("span", "d", t.similarity !== undefined ? `${Math.round(t.similarity * 100)}%` : fmtTime(t.duration));
  li.append(img, txt, d);
  if (opts.actions) {
    li.append(iconButton("act pn", "⤵", "Play next", () => queueTracks([t], "next")),
              iconButton("act aq", "+", "Add to queue", () => queueTracks([t], "end")));
  }
  if (opts.extra) opts.extra(li);
  li.addEventListener("click", (ev) => { if (!ev.defaultPrevented) onClick(t, ev); });
  return li;
}

function fillList(list, tracks, onClick, emptyText, opts = {}) {
  list.replaceChildren();
  if (!tracks.length && emptyText) {
    list.append(el("li", "empty", emptyText));
    return;
  }
  for (const t of tracks) list.append(trackItem(t, onClick, opts));
}

// localStorage that never throws (private mode, quota): the player works without it.
const store = {
  get(key, fallback) {
    try { const v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or off */ }
  },
};
