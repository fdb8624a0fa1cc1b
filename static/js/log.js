// Event log panel: the cluster's narration, filterable by node, key and type.
// The page keeps the last MAX_KEPT events in memory (the key inspector reads
// them too) and draws at most MAX_DRAWN rows, so a burst cannot grow the DOM.
import {MESSAGE_TYPES, el, fill} from "./util.js";

const MAX_KEPT = 3000;
const MAX_DRAWN = 400;

const kept = [];
const typesSeen = new Set();

/** Every event the page still remembers, oldest first. */
export function keptEvents() {
  return kept;
}

/** Fill the node filter and redraw whenever a filter changes. */
export function setupLog(count) {
  const select = document.getElementById("log-node");
  for (let i = 0; i < count; i++) select.append(el("option", {value: `node-${i}`, text: `node-${i}`}));
  const form = document.getElementById("log-filter");
  form.addEventListener("input", redraw);
  form.addEventListener("change", redraw);
  form.addEventListener("submit", (event) => event.preventDefault());
}

function filters() {
  return {node: document.getElementById("log-node").value,
          key: document.getElementById("log-key").value.trim(),
          type: document.getElementById("log-type").value};
}

function matches(event, f) {
  if (f.node && !event.nodes.includes(f.node)) return false;
  if (f.key && event.key !== f.key) return false;
  if (f.type === "-messages") return !MESSAGE_TYPES.has(event.type);
  return !f.type || event.type === f.type;
}

function row(event) {
  return el("li", {class: `ev ev-${event.type}`, "data-seq": event.seq},
    el("span", {class: "ev-meta", text: `#${event.seq} t=${event.time_ms}ms`}),
    el("span", {class: "ev-type", text: event.type}),
    el("span", {class: "ev-text", text: event.text}));
}

/** Add a batch of events (called once per animation frame). */
export function addLogEvents(events) {
  kept.push(...events);
  if (kept.length > MAX_KEPT) kept.splice(0, kept.length - MAX_KEPT);
  const typeSelect = document.getElementById("log-type");
  for (const event of events) {
    if (!typesSeen.has(event.type)) {
      typesSeen.add(event.type);
      typeSelect.append(el("option", {value: event.type, text: event.type}));
    }
  }
  const f = filters();
  const fresh = events.filter((event) => matches(event, f)).slice(-MAX_DRAWN).map(row);
  if (!fresh.length) return;
  const list = document.getElementById("event-list");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
  list.append(...fresh);
  while (list.childElementCount > MAX_DRAWN) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
  updateCount();
}

function redraw() {
  const f = filters();
  const shown = [];
  for (let i = kept.length - 1; i >= 0 && shown.length < MAX_DRAWN; i--) {
    if (matches(kept[i], f)) shown.push(kept[i]);
  }
  const list = document.getElementById("event-list");
  fill(list, shown.reverse().map(row));
  list.scrollTop = list.scrollHeight;
  updateCount();
}

function updateCount() {
  document.getElementById("log-count").textContent =
    `${document.getElementById("event-list").childElementCount} shown of ${kept.length} kept`;
}
