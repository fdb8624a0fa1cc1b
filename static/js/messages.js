// Messages panel: a live sequence diagram, one lane per node and one arrow per
// message. Rows are kept in a bounded window; while the view is paused, events
// are still recorded (so nothing is lost) but the DOM is left alone.
import {MESSAGE_TYPES, el, fill, nodeId} from "./util.js";

const MAX_ROWS = 300;

let laneCount = 0;
let paused = false;
let unseen = 0;
const rows = new Map();  // msg_id -> {msg, element}
const order = [];        // msg_ids, oldest first
const dirty = new Set(); // msg_ids whose row must be (re)drawn at the next flush

function lanePercent(name) {
  return ((nodeId(name) + 0.5) / laneCount) * 100;
}

/** Draw the lane headers and lane lines for `count` nodes. */
export function setupMessages(count) {
  laneCount = count;
  const names = Array.from({length: count}, (_, i) => `node-${i}`);
  fill(document.getElementById("msg-lanes"), names.map((name) => {
    const label = el("span", {class: "lane-name", text: name});
    label.style.left = `${lanePercent(name)}%`;
    return label;
  }));
  const box = document.getElementById("msg-rows");
  box.querySelectorAll(".lane-line").forEach((line) => line.remove());
  for (const name of names) {
    const line = el("div", {class: "lane-line", "aria-hidden": "true"});
    line.style.left = `${lanePercent(name)}%`;
    box.prepend(line);
  }
  document.getElementById("msg-pause").addEventListener("click", togglePause);
  document.getElementById("msg-clear").addEventListener("click", clearMessages);
}

function togglePause(event) {
  paused = !paused;
  event.currentTarget.setAttribute("aria-pressed", String(paused));
  event.currentTarget.textContent = paused ? "Resume view" : "Pause view";
  if (!paused) redrawAll();
  updateCount();
}

function clearMessages() {
  rows.forEach((row) => row.element && row.element.remove());
  rows.clear();
  order.length = 0;
  dirty.clear();
  unseen = 0;
  updateCount();
}

function updateCount() {
  const text = `${order.length} message(s)` + (paused && unseen ? ` · ${unseen} new while paused` : "");
  document.getElementById("msg-count").textContent = text;
}

/** Record the message events of a batch (called once per animation frame). */
export function addMessageEvents(events) {
  for (const event of events) {
    if (!MESSAGE_TYPES.has(event.type)) continue;
    const id = event.details.msg_id;
    let row = rows.get(id);
    if (!row) {
      row = {msg: {id, from: event.nodes[0], to: event.nodes[1], kind: event.details.kind,
                   key: event.key, op_id: event.details.op_id, status: "in flight", events: []}};
      rows.set(id, row);
      order.push(id);
      if (paused) unseen++;
    }
    const msg = row.msg;
    msg.events.push(event);
    if (event.type === "message_delivered") msg.status = "delivered";
    if (event.type === "message_duplicated") msg.copyOf = event.details.original_id;
    if (event.type === "message_dropped") {
      // Where it died: never left its sender, lost by hand in flight, or at delivery.
      msg.diedAt = msg.events.length === 1 ? 0.12 : event.details.reason === "dropped by hand" ? 0.5 : 0.88;
      msg.status = `dropped: ${event.details.reason}`;
    }
    dirty.add(id);
  }
  while (order.length > MAX_ROWS) {
    const old = rows.get(order.shift());
    rows.delete(old.msg.id);
    dirty.delete(old.msg.id);
    if (old.element) old.element.remove();
  }
  if (!paused) flushRows();
  updateCount();
}

function flushRows() {
  const box = document.getElementById("msg-rows");
  const scroller = document.getElementById("msg-scroll");
  const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 30;
  const fresh = [];
  for (const id of dirty) {
    const row = rows.get(id);
    const element = drawRow(row.msg);
    if (row.element) row.element.replaceWith(element);
    else fresh.push(element);
    row.element = element;
  }
  dirty.clear();
  if (fresh.length) box.append(...fresh);
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function redrawAll() {
  rows.forEach((row) => { if (row.element) row.element.remove(); row.element = null; });
  order.forEach((id) => dirty.add(id));
  unseen = 0;
  flushRows();
}

function label(msg) {
  const what = msg.events.find((e) => e.type !== "message_duplicated") || msg.events[0];
  let summary = what.text.replace(/^.*?: /, "");
  const reason = what.details.reason ? ` (${what.details.reason})` : "";
  if (reason && summary.endsWith(reason)) summary = summary.slice(0, -reason.length);
  return `#${msg.id} ${summary}${msg.op_id ? ` · op ${msg.op_id}` : ""}`;
}

function drawRow(msg) {
  const a = lanePercent(msg.from), b = lanePercent(msg.to);
  const left = Math.min(a, b), width = Math.max(Math.abs(b - a), 2);
  const state = msg.status === "delivered" ? "delivered" : msg.status.startsWith("dropped") ? "dropped" : "flight";
  const button = el("button", {type: "button", class: `msg msg-${state} msg-kind-${msg.kind}`,
                               "data-msg-id": msg.id, title: `${label(msg)} — ${msg.status}`,
                               "aria-label": `Message ${label(msg)}, ${msg.from} to ${msg.to}, ${msg.status}`});
  const text = el("span", {class: "msg-label", text: label(msg)});
  text.style.left = `${left}%`;
  text.style.width = `${width}%`;
  const arrow = el("span", {class: `arrow ${b >= a ? "arrow-right" : "arrow-left"}`});
  arrow.style.left = `${left}%`;
  arrow.style.width = `${width}%`;
  button.append(text, arrow);
  if (msg.diedAt !== undefined) {
    const at = a + (b - a) * msg.diedAt;
    const cross = el("span", {class: "died", text: "✕", "aria-hidden": "true"});
    cross.style.left = `${at}%`;
    button.append(cross);
  }
  button.addEventListener("click", () => showMessage(msg));
  return button;
}

function showMessage(msg) {
  const detail = document.getElementById("msg-detail");
  fill(detail, [
    el("h3", {text: `Message ${msg.id}: ${msg.kind}${msg.key ? " " + msg.key : ""}`}),
    el("p", {text: `${msg.from} → ${msg.to} · ${msg.status}` +
                   (msg.op_id ? ` · caused by operation ${msg.op_id}` : "") +
                   (msg.copyOf ? ` · copy of message ${msg.copyOf}` : "")}),
    el("ol", {class: "plain-list"}, ...msg.events.map((e) =>
      el("li", {text: `#${e.seq} t=${e.time_ms}ms ${e.type}: ${e.text}`}))),
  ]);
}
