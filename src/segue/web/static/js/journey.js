// Journey: waypoints joined by the engine, previewed, played, exported, rendered as a mix.
"use strict";

const journey = { waypoints: [], tracks: [] };

function renderWaypoints() {
  const ol = $("waypoints");
  fillList(ol, journey.waypoints, () => {}, "Add two or more waypoints", {
    extra: (li) => {
      li.append(iconButton("act x", "✕", "Remove", () => {
        journey.waypoints.splice([...ol.children].indexOf(li), 1);
        renderWaypoints();
      }));
    },
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
    fillList($("jlist"), got.tracks, (t) => playList(got.tracks.slice(got.tracks.indexOf(t)), null), "", {
      extra: (li) => {
        const t = got.tracks.find((x) => String(x.id) === li.dataset.id);
        if (t && t.waypoint) li.classList.add("wp");
      },
    });
    setJourneyButtons(got.tracks.length > 0);
  } catch (e) {
    toast(`No journey: ${e.message}`, true);
  }
});

// The journey is the queue; the radio takes over after it, from its end (the answer is shown
// after the journey, and the knobs change only that part).
$("jplay").addEventListener("click", () => {
  if (!journey.tracks.length) return;
  playList(journey.tracks, [journey.tracks[journey.tracks.length - 1].id]);
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
