// Browse: albums, artists, genres, (MusiCNN) tags and recently added, as cards with covers; a
// group's page lists its tracks in play order, plays them in order (gapless) or starts a radio
// that stands for the whole group.
"use strict";

const browse = { kind: "album", cache: {}, detail: null, hasGenres: null };
const KIND_LABEL = { album: "Albums", artist: "Artists", genre: "Genres", tag: "Sounds like", recent: "Recently added" };

function groupCard(g, onOpen) {
  const b = el("button", "gcard");
  b.type = "button";
  b.dataset.key = g.key;
  const art = g.cover ? el("img", "gart") : el("div", "gart ph", (g.name || "?").slice(0, 1).toUpperCase());
  if (g.cover) { art.src = coverUrl(g.cover); art.alt = ""; art.loading = "lazy"; }
  const sub = g.kind === "album" ? [g.artist, g.year].filter(Boolean).join(" · ")
    : g.kind === "artist" ? `${g.albums || 0} album${g.albums === 1 ? "" : "s"} · ${g.tracks} songs`
      : `${g.tracks} song${g.tracks === 1 ? "" : "s"}`;
  b.append(art, el("span", "gname", g.name), el("span", "gsub", sub));
  b.addEventListener("click", () => onOpen(g));
  return b;
}

async function groups(kind) {
  const path = kind === "recent" ? "/api/browse/album?sort=recent&limit=60" : `/api/browse/${kind}`;
  if (!browse.cache[kind]) browse.cache[kind] = api(path).then((r) => r.groups).catch((e) => { delete browse.cache[kind]; throw e; });
  return browse.cache[kind];
}

async function showBrowse(kind = browse.kind) {
  browse.kind = kind;
  for (const b of document.querySelectorAll(".browse-bar button")) b.classList.toggle("active", b.dataset.kind === kind);
  $("browse-detail").hidden = true;
  const list = $("browse-list");
  list.hidden = false;
  list.dataset.kind = "";
  try {
    const found = await groups(kind);
    if (browse.kind !== kind) return;
    list.replaceChildren(...found.map((g) => groupCard(g, openGroup)));
    if (!found.length) list.append(el("p", "note", kind === "genre" ? "No genre tags in this library: try “Sounds like”." : "Nothing here yet."));
    list.dataset.kind = kind; // which kind the cards show (tests wait on it)
  } catch (e) {
    toast(`Cannot browse: ${e.message}`, true);
  }
}

async function openGroup(g) {
  try {
    const got = await api(`/api/browse/${g.kind}/${g.key}`);
    const group = got.group;
    const tracks = got.tracks.map((t, i) => (group.kind === "album" ? { ...t, album_key: group.key, album_seq: i } : t));
    browse.detail = { group, tracks };
    $("browse-list").hidden = true;
    const d = $("browse-detail");
    d.hidden = false;
    d.dataset.key = "";
    const img = $("bd-cover");
    if (group.cover) { img.src = coverUrl(group.cover); img.hidden = false; } else { img.hidden = true; img.removeAttribute("src"); }
    $("bd-kind").textContent = { album: "Album", artist: "Artist", genre: "Genre", tag: "Sounds like" }[group.kind];
    $("bd-name").textContent = group.name;
    $("bd-sub").textContent = [group.artist, group.year, `${group.tracks} song${group.tracks === 1 ? "" : "s"}`].filter(Boolean).join(" · ");
    $("bd-radio").textContent = `Radio from this ${group.kind === "tag" ? "sound" : group.kind}`;
    const albums = $("bd-albums");
    albums.replaceChildren(...(group.album_list || []).map((a) => groupCard(a, openGroup)));
    albums.hidden = !(group.album_list && group.album_list.length > 1);
    fillList($("bd-tracks"), tracks, (t) => {
      const i = tracks.indexOf(t);
      playList(tracks.slice(i), null); // from here on, in order
    }, "", { actions: true });
    d.dataset.key = group.key;
    window.scrollTo(0, 0);
  } catch (e) {
    toast(`Cannot open ${g.name}: ${e.message}`, true);
  }
}

async function radioFromGroup() {
  const d = browse.detail;
  if (!d) return;
  try {
    const got = await api(`/api/browse/${d.group.kind}/${d.group.key}/seeds`);
    const byId = new Map(d.tracks.map((t) => [t.id, t]));
    const first = byId.get(got.seeds[0]) || d.tracks[0];
    startRadioFrom(first, got.seeds);
  } catch (e) {
    toast(`No radio: ${e.message}`, true);
  }
}

for (const b of document.querySelectorAll(".browse-bar button")) b.addEventListener("click", () => showBrowse(b.dataset.kind));
$("bd-back").addEventListener("click", () => showBrowse());
$("bd-play").addEventListener("click", () => { if (browse.detail) playList(browse.detail.tracks, null); });
$("bd-queue").addEventListener("click", () => { if (browse.detail) queueTracks(browse.detail.tracks, "end"); });
$("bd-radio").addEventListener("click", radioFromGroup);

// A library without genre tags browses by sound instead (the genre button is hidden).
async function checkGenres() {
  try {
    const found = await groups("genre");
    $("browse-genre").hidden = found.length === 0;
  } catch (e) { /* shown when browsing */ }
}
