// Play events (start, skip, complete) go through an outbox kept in localStorage: an event the
// server could not take (offline, a busy database, a restart) is sent again, in order, with a
// growing pause, and survives a reload. Only an answer that says the event itself is wrong (a
// 4xx other than 408/409/429) drops it.
"use strict";

const OUTBOX_KEY = "segue.outbox.v1";
const outbox = {
  items: store.get(OUTBOX_KEY, []),
  sending: false,
  delay: 0,
  timer: null,
  sent: 0,    // events the server took (for tests and the curious)
  retries: 0, // failed sends that will be tried again
};

function recordEvent(track, kind, position) {
  if (!track) return;
  outbox.items.push({
    track_id: track.id, event: kind, position_s: position ?? null, duration_s: track.duration ?? null,
  });
  if (outbox.items.length > 2000) outbox.items.splice(0, outbox.items.length - 2000);
  store.set(OUTBOX_KEY, outbox.items);
  flushOutbox();
}

async function flushOutbox() {
  if (outbox.sending) return;
  clearTimeout(outbox.timer);
  outbox.sending = true;
  try {
    while (outbox.items.length) {
      const ev = outbox.items[0];
      try {
        await api("/api/events", { json: ev, keepalive: true });
      } catch (e) {
        const permanent = e.status && e.status >= 400 && e.status < 500 && ![408, 409, 429].includes(e.status);
        if (!permanent) {
          outbox.retries++;
          outbox.delay = Math.min(30000, outbox.delay ? outbox.delay * 2 : 500);
          outbox.timer = setTimeout(flushOutbox, outbox.delay);
          return;
        }
      }
      outbox.items.shift();
      outbox.sent++;
      outbox.delay = 0;
      store.set(OUTBOX_KEY, outbox.items);
    }
  } finally {
    outbox.sending = false;
  }
}

window.addEventListener("online", flushOutbox);
