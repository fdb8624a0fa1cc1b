// Step mode panel: pause and resume the network, the held messages in delivery
// order with deliver / drop / duplicate, step, tick; and the requests this page
// sent that are still waiting for their quorum, with their acks so far.
import {control} from "./api.js";
import {agrees, el, fill, plural} from "./util.js";

const MAX_PENDING = 8;
const pending = [];  // requests sent by this page, newest last
let requestCount = 0;

/** Wire the pause, resume, step and tick buttons. */
export function setupStep() {
  const act = (what, method, path) => () => control(what, method, path);
  document.getElementById("net-pause").addEventListener("click", act("Pausing the network", "POST", "/network/pause"));
  document.getElementById("net-resume").addEventListener("click", act("Resuming the network", "POST", "/network/resume"));
  document.getElementById("net-step").addEventListener("click", act("Step", "POST", "/network/step"));
  document.getElementById("tick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const ms = Number(document.getElementById("tick-ms").value);
    control(`Tick ${ms} ms`, "POST", "/tick", {ms});
  });
}

/** A held put's sibling: the server's own short text, or its value and dot. */
function siblingText(sibling) {
  return typeof sibling === "string" ? sibling : `${JSON.stringify(sibling.value)} ${sibling.dot}`;
}

/** Show GET /network/messages: paused or not, held messages, requests waiting. */
export function renderHeld(view) {
  const status = document.getElementById("step-status");
  status.textContent = view.paused
    ? `Network paused at t=${view.time_ms} ms: ${plural(view.messages.length, "message")} held.`
    : `Network running (t=${view.time_ms} ms).`;
  status.className = `step-status ${view.paused ? "step-paused" : ""}`;
  document.getElementById("net-pause").disabled = view.paused;
  document.getElementById("net-resume").disabled = !view.paused;
  const waiting = view.waiting_requests;
  document.getElementById("waiting-count").textContent = waiting
    ? `${plural(waiting, "request")} ${agrees(waiting, "is", "are")} waiting on the server for their quorum (from this page or curl).`
    : "No request is waiting for its quorum.";
  fill(document.getElementById("held-list"), view.messages.map((msg) => {
    const what = `${msg.id}`;
    const button = (verb, method) => el("button", {
      type: "button", class: `held-${verb}`, "aria-label": `${verb} message ${msg.id}`, text: verb,
      onclick: () => control(`${verb} message ${msg.id}`, "POST", `/network/${method}/${msg.id}`)});
    return el("li", {class: "held", "data-msg-id": what},
      el("span", {class: "held-text",
                  text: `#${msg.id} ${msg.from} → ${msg.to}: ${msg.summary}` +
                        (msg.op_id ? ` (op ${msg.op_id})` : "") + ` · due in ${msg.due_in_ms} ms` +
                        (msg.context_vector ? ` · context ${msg.context_vector}, siblings ${msg.siblings.map(siblingText).join("; ")}` : "")}),
      el("span", {class: "held-buttons"}, button("deliver", "deliver"), button("drop", "drop"),
         button("duplicate", "duplicate")));
  }));
}

/** How many requests sent by this page have no answer yet. */
export function waitingCount() {
  return pending.filter((p) => p.status === "pending").length;
}

/**
 * Follow a request sent by the page (a write may block until its quorum is met
 * in step mode): listed as pending at once, completed when `promise` settles.
 */
export function trackRequest(kind, key, description, promise) {
  const entry = {n: ++requestCount, kind, key, description, status: "pending", acks: new Set()};
  pending.push(entry);
  while (pending.length > MAX_PENDING) pending.shift();
  renderPending();
  promise.then((answer) => {
    entry.status = "done";
    entry.result = answer.message;
  }, (error) => {
    entry.status = "failed";
    entry.result = `${error.status || "no answer"}: ${error.message}`;
  }).finally(renderPending);
  return entry;
}

/** Bind the page's pending writes to their operations and count their acks. */
export function stepEvents(events) {
  let changed = false;
  for (const event of events) {
    const d = event.details || {};
    if (event.type === "write_started") {
      const entry = pending.find((p) => p.status === "pending" && p.kind !== "read" && p.op_id === undefined &&
                                        p.key === event.key);
      if (entry) {
        Object.assign(entry, {op_id: d.op_id, version: d.version, w: d.w, coordinator: event.nodes[0]});
        changed = true;
      }
      continue;
    }
    const entry = pending.find((p) => p.op_id !== undefined && p.status === "pending" && (
      (event.type === "replica_stored" && p.coordinator === event.nodes[0] && d.version === p.version) ||
      (event.type === "message_delivered" && d.kind === "put_ack" && d.op_id === p.op_id)));
    if (entry) {
      entry.acks.add(event.nodes[0]);
      changed = true;
    }
  }
  if (changed) renderPending();
}

function renderPending() {
  fill(document.getElementById("pending-list"), pending.slice().reverse().map((p) => {
    let text = `${p.description}: `;
    if (p.status === "pending") {
      text += "pending";
      if (p.w) text += ` — ${p.acks.size} of W=${p.w} ${p.w === 1 ? "ack" : "acks"}` + (p.acks.size ? ` (${[...p.acks].join(", ")})` : "");
    } else {
      text += `${p.status} — ${p.result}`;
    }
    return el("li", {class: `pending pending-${p.status}`, id: `request-${p.n}`, text});
  }));
}
