// Seeds: search as you type, a dropped or picked audio file, ~10 s of the room (microphone).
"use strict";

const LISTEN_SECONDS = Math.min(Math.max(Number(params.get("listen")) || 10, 2), 30);

function searchBox(input, list, onPick, limit = 30, withActions = false) {
  let seq = 0;
  let timer = null;
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    try {
      const got = await api(`/api/search?q=${encodeURIComponent(q)}&limit=${limit}`);
      if (mine !== seq) return;
      fillList(list, got.tracks, (t) => { onPick(t); }, q ? "No match" : "The library is empty", { actions: withActions });
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
}, 30, true);
document.addEventListener("click", (ev) => {
  if (!ev.target.closest(".search")) results.hidden = true;
});

// ---------------------------------------------------------------------------------------------
// Seeds from outside: a dropped/picked file, or the microphone

function showSuggestions(title, tracks) {
  $("suggest-title").textContent = title;
  fillList($("suggest"), tracks, startRadio, "Nothing close", { actions: true });
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

$("suggest-close").addEventListener("click", () => { $("suggest-card").hidden = true; });

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
