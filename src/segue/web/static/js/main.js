// Views, keyboard, and the start: restore this browser's player, send events left over.
"use strict";

function showView(name) {
  for (const b of document.querySelectorAll(".tab")) {
    b.classList.toggle("active", b.dataset.view === name);
    b.setAttribute("aria-selected", String(b.dataset.view === name));
  }
  for (const s of document.querySelectorAll(".view")) s.classList.toggle("active", s.id === `view-${name}`);
  if (name === "map") loadMap();
  if (name === "browse" && !$("browse-list").dataset.kind && $("browse-detail").hidden) showBrowse();
  document.body.dataset.view = name;
}
for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showView(b.dataset.view));

document.addEventListener("keydown", (ev) => {
  const typing = ev.target.closest("input, textarea, select") && ev.target.type !== "range";
  if (ev.key === "Escape") { $("results").hidden = true; if (typing) ev.target.blur(); return; }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === " ") { ev.preventDefault(); engineToggle(); }
  else if (ev.key === "n" || ev.key === "ArrowRight") { ev.preventDefault(); next("skip"); }
  else if (ev.key === "b" || ev.key === "ArrowLeft") { ev.preventDefault(); back(); }
  else if (ev.key === "/") { ev.preventDefault(); $("search").focus(); }
});

// A first click or key anywhere lets the audio graph start (browsers hold audio until then).
for (const kind of ["pointerdown", "keydown"]) window.addEventListener(kind, () => ensureGraph(), { once: true });

document.body.dataset.view = "player";
engine.timer = setInterval(engineTick, 30);
if (!restorePlayer()) renderLists();
renderWaypoints();
checkGenres();
flushOutbox();
api("/api/status").then((s) => {
  if (!s.analysed) toast(s.tracks ? "The library is still being analysed…" : "The library is empty: run 'segue scan DIR'");
}).catch((e) => toast(e.message, true));
document.body.dataset.ready = "1";
// On a phone the radio knobs start folded, so "Up next" is on the first screen.
if (window.matchMedia("(max-width: 759px)").matches) document.querySelector(".knobs").open = false;
