// Follows /events/stream (Server-Sent Events) with fetch, so that every named
// event type arrives through one reader (EventSource needs a listener per type)
// and a dropped connection is noticed and resumed from the last event seen.

const RETRY_MS = 1000;
const POLLS_BEFORE_RETRYING_STREAM = 15;  // with every stream slot taken, try again every ~15 s

/** Thrown when the server has no stream slot left (429, --max-streams): poll instead. */
class StreamsFull extends Error {}

/**
 * Start following events after `since`. Calls onEvents(array) for each chunk read,
 * onStatus("live" | "polling" | "down" | "reset", detail) when the connection changes.
 * "polling": the server's stream slots are all taken (429), so the page reads
 * /events every second instead. A server restarted with a fresh log (its newest
 * seq is below ours) is a "reset".
 */
export function follow(since, {onEvents, onStatus}) {
  let last = since;
  let stopped = false;
  let controller = null;

  async function checkRestart() {
    const response = await fetch("/events?limit=1", {cache: "no-store"});
    const page = await response.json();
    if (page.last_seq < last) onStatus("reset", page.last_seq);
  }

  async function readOnce() {
    controller = new AbortController();
    const response = await fetch(`/events/stream?since=${last}`,
                                 {signal: controller.signal, cache: "no-store"});
    if (response.status === 429) {
      const body = await response.json().catch(() => ({}));
      throw new StreamsFull(body.message || "every live-event stream slot is taken");
    }
    if (!response.ok) throw new Error(`the event stream answered HTTP ${response.status}`);
    onStatus("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += value;
      const batch = [];
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = frame.split("\n").filter((line) => line.startsWith("data: "))
                          .map((line) => line.slice(6)).join("\n");
        if (!data) continue;  // a keep-alive comment
        const event = JSON.parse(data);
        if (event.seq > last) {
          last = event.seq;
          batch.push(event);
        }
      }
      if (batch.length) onEvents(batch);
    }
  }

  // Without a stream slot, page through /events instead: a little later, never lost.
  async function pollAWhile(reason) {
    onStatus("polling", reason);
    for (let i = 0; i < POLLS_BEFORE_RETRYING_STREAM && !stopped; i++) {
      try {
        const page = await (await fetch(`/events?since=${last}&limit=1000`, {cache: "no-store"})).json();
        const batch = (page.events || []).filter((event) => event.seq > last);
        if (batch.length) {
          last = batch[batch.length - 1].seq;
          onEvents(batch);
        }
      } catch (error) {
        return;  // the server stopped: the main loop reports it
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  (async () => {
    let first = true;
    while (!stopped) {
      try {
        if (!first) await checkRestart();
        first = false;
        await readOnce();
        onStatus("down", "the event stream ended");
      } catch (error) {
        if (stopped) return;
        first = false;
        if (error instanceof StreamsFull) {
          await pollAWhile(error.message);
          continue;
        }
        onStatus("down", String(error.message || error));
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();

  return () => { stopped = true; if (controller) controller.abort(); };
}
