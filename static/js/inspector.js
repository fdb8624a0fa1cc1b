// Key inspector: every replica's version and value for one key, tombstones,
// the hints held for it, and the last operations on it with their stories.
import {api, notifyError} from "./api.js";
import {keptEvents} from "./log.js";
import {dotText, wholeValue} from "./panel_util.js";
import {MESSAGE_TYPES, el, fill} from "./util.js";

const MAX_OPS = 5;

let current = "";
let count = 0;
let onPlacement = () => {};
let siblingsMode = false;

/** Tell the inspector the cluster's --conflicts mode: in siblings mode a value is a sibling set. */
export function setConflictMode(mode) { siblingsMode = mode === "siblings"; }

/** A replica's value: whole (expandable when long), and a sibling set as its siblings. */
function valueCell(record) {
  if (record.deleted) return "(deleted)";
  const set = record.value;
  if (!siblingsMode || !set || !Array.isArray(set.siblings)) return wholeValue(record.value);
  return el("ul", {class: "sibling-list inspector-siblings"}, ...set.siblings.map((sib) => el("li", {class: "sibling"},
    el("strong", {class: "sibling-dot", text: `${dotText(sib)} `}), sib.deleted ? "(deleted)" : wholeValue(sib.value, 30))));
}

/** The key being inspected ("" when none). */
export function inspectedKey() {
  return current;
}

/** Wire the form; `placementShown(placement or null)` lights up the ring. */
export function setupInspector(nodeCount, placementShown) {
  count = nodeCount;
  onPlacement = placementShown;
  document.getElementById("inspect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("inspect-key");
    current = input.value.trim() || input.placeholder;  // Inspect with an empty field: the example key
    input.value = current;
    refreshInspector();
  });
}

/** "?rf=5" when the RF field is filled: where the key would live with that replication factor. */
function rfQuery() {
  const rf = document.getElementById("inspect-rf").value.trim();
  return rf ? `?rf=${encodeURIComponent(rf)}` : "";
}

function newer(a, b) {  // last-writer-wins order: timestamp, then node id
  if (!b) return true;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return Number(a.node.slice(5)) > Number(b.node.slice(5));
}

/** Fetch the placement and every node's records, then redraw (no-op without a key). */
export async function refreshInspector() {
  if (!current) {
    onPlacement(null);
    return;
  }
  const key = current;
  let placement, details;
  try {
    [placement, ...details] = await Promise.all([
      api("GET", `/placement/${encodeURIComponent(key)}${rfQuery()}`),
      ...Array.from({length: count}, (_, i) => api("GET", `/nodes/${i}`))]);
  } catch (error) {
    notifyError(`Inspecting ${key}`, error);
    return;
  }
  if (key !== current) return;  // another key was typed meanwhile
  onPlacement(placement);
  const records = details.map((d) => d.records.find((r) => r.key === key) || null);
  let newest = null;
  for (const r of records) if (r && newer(r.version, newest)) newest = r.version;
  const rows = details.map((d, i) => {
    const name = d.node.name, record = records[i];
    const replica = placement.preference_list.indexOf(name);
    const standIn = placement.fallback_order.indexOf(name);
    if (replica < 0 && !record) return null;
    const role = replica >= 0 ? `replica ${replica + 1}` : `stand-in ${standIn + 1}`;
    let state = !record ? "missing" : record.version.text === newest.text ? "current" : "stale";
    if (record && record.deleted) state += " (tombstone)";
    if (d.node.status !== "alive") state += ", node down";
    return el("tr", {id: `replica-${name}`, class: `replica-${state.split(" ")[0].replace(",", "")}`},
      el("th", {scope: "row", text: name}),
      el("td", {text: role}),
      // A break opportunity before "@": 13-digit wall-clock stamps wrap as "1795501867456 / @node-1".
      el("td", {class: "replica-version", text: record ? record.version.text.replace("@", "\u200b@") : "–"}),
      el("td", {class: "replica-value"}, record ? valueCell(record) : "–"),
      el("td", {class: "replica-state", text: state}));
  }).filter(Boolean);
  fill(document.querySelector("#replica-table tbody"), rows);
  const hints = details.flatMap((d) => d.hints_held.filter((h) => h.key === key)
    .map((h) => el("li", {class: "hint", text: `${d.node.name} holds v${h.version.text}` +
                                              `${h.deleted ? " (tombstone)" : ""} for ${h.for}`})));
  fill(document.getElementById("hint-list"), hints.length ? hints : [el("li", {class: "muted", text: "none"})]);
  document.getElementById("inspect-summary").textContent =
    `${key}: newest version ${newest ? newest.text : "none"}; ${placement.message}`;
  renderOperations();
}

/**
 * The events of `key` grouped by operation, in the order each operation started. Two
 * operations running at once (a recovery's handoff and sync) interleave their events;
 * each event joins its own operation's group, so the list never reads 10, 11, 10, 11.
 */
export function groupOperations(events, key) {
  const groups = [];
  const byOp = new Map();
  let lastOp;
  let open = null;
  for (const event of events) {
    if (event.details.op_id !== undefined) lastOp = event.details.op_id;
    if (event.key !== key || MESSAGE_TYPES.has(event.type)) continue;
    const op = event.details.op_id !== undefined ? event.details.op_id : lastOp;
    open = op === undefined ? (open && open.op === undefined ? open : null) : byOp.get(op);
    if (!open) {
      open = {op, lines: []};
      groups.push(open);
      if (op !== undefined) byOp.set(op, open);
    }
    open.lines.push(`#${event.seq} ${event.text}`);
  }
  return groups;
}

/**
 * The last operations on the key, from the events the page kept. An event without an
 * op_id (a replica storing, a hint kept) belongs to the operation of the latest event
 * that had one, whatever its key: a store follows the delivery of the message that
 * caused it (a recovery's sync, a handoff), or its own coordinator's write_started.
 */
export function renderOperations() {
  if (!current) return;
  const groups = groupOperations(keptEvents(), current);
  fill(document.getElementById("op-list"), groups.slice(-MAX_OPS).reverse().map((g) =>
    el("li", {class: "op"}, el("strong", {text: g.op !== undefined ? `operation ${g.op}` : "no operation id"}),
       el("ul", {class: "story"}, ...g.lines.map((line) => el("li", {text: line}))))));
}
