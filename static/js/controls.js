// Controls panel: write / read / delete, fail and recover, partition, link and
// network faults, clock skew, an anti-entropy exchange, scheduler jobs and the scenario export.
import {api, control, notify, onAnswer} from "./api.js";
import {trackRequest, waitingCount} from "./step.js";
import {el, fill, nodeName, nodeOptions} from "./util.js";

let changed = () => {};

/** Build the controls for a cluster of `count` nodes; `onChange` runs after each request. */
export function setupControls(count, jobs, onChange) {
  // Control answers get their own box: a deliver must not overwrite the write it releases.
  onAnswer((answer, error, what) => showResult(answer, error, what, "control-result"));
  changed = onChange;
  fill(document.getElementById("kv-coordinator"), nodeOptions(count, [["", "auto"]]));
  document.querySelectorAll(".node-select").forEach((select) => fill(select, nodeOptions(count)));
  for (const id of ["link-to", "ae-peer"]) document.getElementById(id).value = String(Math.min(1, count - 1));
  fill(document.getElementById("job-name"), jobs.map((job) => el("option", {value: job.job, text: job.job})));
  setupKeyValue();
  setupFailTable(count);
  setupPartition(count);
  setupFaultForms();
}

function numberOrNull(id) {
  const raw = document.getElementById(id).value.trim();
  return raw === "" ? null : Number(raw);
}

/** The value field as JSON when it parses (42, {"a":1}, true), else as plain text. */
export function parseValue(raw) {
  try { return JSON.parse(raw); } catch (error) { return raw; }
}

const names = (list) => (list && list.length ? list.join(", ") : "none");
const version = (v) => (v ? v.text : "none");

/** The facts a lab asks a student to notice, as label/value pairs, from any answer. */
export function facts(data) {
  const rows = [];
  const add = (label, value) => { if (value !== undefined && value !== null && value !== "") rows.push([label, value]); };
  if ("value" in data && !("acks" in data)) add("value read", JSON.stringify(data.value));
  if (data.version && !data.deleted) add("version", version(data.version));
  if (data.replicas_read) {
    add("replicas read", data.replicas_read.map((r) => `${r.node}${r.stands_in_for ? ` (for ${r.stands_in_for})` : ""}` +
                                                         `: ${version(r.version)}`).join("; "));
  }
  if (data.repaired) add("repaired", names(data.repaired));
  if (data.acks) add("acks", data.acks.map((a) => `${a.node}${a.stands_in_for ? ` (hint for ${a.stands_in_for})` : ""}` +
                                                  `${a.applied ? "" : " (kept newer)"}`).join("; ") || "none");
  if (data.stored_on) add("stored on", names(data.stored_on));
  if (data.hints && data.hints.length) add("hints", data.hints.map((h) => `${h.held_by} for ${h.for}`).join("; "));
  if (data.not_yet_durable && data.not_yet_durable.length) add("not yet on disk", names(data.not_yet_durable));
  if (data.waiting_for && data.waiting_for.length) add("still waiting for", names(data.waiting_for));
  if (data.silent && data.silent.length) add("silent", names(data.silent));
  if (data.hints_received) add("hints received", names(data.hints_received));
  if (data.pulled_keys) add("pulled by sync", names(data.pulled_keys));
  if (data.lost) {  // a crash or wipe: what the node lost (lab 3's hints, lab 6's uncommitted writes)
    if (data.lost.uncommitted_writes_lost) add("uncommitted writes lost", names(data.lost.uncommitted_writes_lost.map((w) => w.key)));
    if (data.lost.hints_lost !== undefined) add("hints lost", data.lost.hints_lost);
  }
  if (data.tree_nodes_compared !== undefined) {  // an anti-entropy exchange
    add("tree nodes compared", data.tree_nodes_compared);
    add("buckets differing", data.buckets_differing);
    add("keys pushed", names(data.keys_pushed));
    add("keys pulled", names(data.keys_pulled));
  }
  if (data.copy_id !== undefined) add("copy", `message ${data.copy_id}`);
  if (data.health) add("cluster", `${data.health}: writes ${data.writes_possible ? "possible" : "impossible"}, ` +
                                  `reads ${data.reads_possible ? "possible" : "impossible"}`);
  // A scheduler job answers what it did in `result` (hint_retry: handoffs_tried, delivered, hints_left...).
  if (data.job && data.result && typeof data.result === "object") {
    for (const [name, value] of Object.entries(data.result)) {
      if (name !== "now") add(name.replaceAll("_", " "), typeof value === "object" ? JSON.stringify(value) : value);
    }
  }
  return rows;
}

/** Show an answer (or an error's data) in the result box: its sentence, its facts, its story. */
export function showResult(answer, error, what = "", boxId = "op-result") {
  const box = document.getElementById(boxId);
  const data = (error ? error.data : answer) || {};
  const head = error ? `${what ? `${what}: ` : ""}${error.status || "no answer"} ${data.error || ""}: ${error.message}`
                     : data.message;
  const rows = facts(data);
  fill(box, [el("p", {class: error ? "result-error" : "result-ok", text: head}),
             ...(rows.length ? [el("dl", {class: "facts"}, ...rows.flatMap(([label, value]) =>
               [el("dt", {text: label}), el("dd", {text: String(value)})]))] : []),
             ...(data.story && data.story.length
               ? [el("ol", {class: "story"}, ...data.story.map((line) => el("li", {text: line})))] : [])]);
}

// A browser opens at most 6 connections to one server; the event stream takes one
// and each request waiting in step mode another. Past this many waiting requests,
// the clicks that would deliver their messages could not be sent at all.
const MAX_WAITING = 3;

const keyAnswerListeners = [];

/** Call `listener(answer)` with every successful write, read or delete answer (the siblings panel). */
export function onKeyAnswer(listener) { keyAnswerListeners.push(listener); }

/** Send a key request, follow it while it waits (step mode) and show its answer. */
export function send(kind, key, description, method, path, body) {
  if (waitingCount() >= MAX_WAITING) {
    notify(`${MAX_WAITING} requests from this page are still waiting for their quorum: deliver or ` +
           "drop their messages (or resume the network) before sending another.", "error");
    return;
  }
  const promise = api(method, path, body);
  trackRequest(kind, key, description, promise);
  // Not awaited by the caller: in step mode a write blocks until its quorum is met.
  promise.then((answer) => {
    showResult(answer, null);
    keyAnswerListeners.forEach((listener) => listener(answer));
  }, (error) => showResult(null, error)).finally(changed);
}

function setupKeyValue() {
  const form = document.getElementById("kv-form");
  const key = () => document.getElementById("kv-key").value;
  const query = (name) => {
    const params = new URLSearchParams();
    const quorum = numberOrNull(`kv-${name}`);
    if (quorum !== null) params.set(name, quorum);
    const coordinator = document.getElementById("kv-coordinator").value;
    if (coordinator) params.set("coordinator", coordinator);
    const consistency = document.getElementById("kv-consistency").value;
    if (consistency) params.set("consistency", consistency);
    const text = params.toString();
    return text ? `?${text}` : "";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {key: key(), value: parseValue(document.getElementById("kv-value").value)};
    const w = numberOrNull("kv-w");
    if (w !== null) body.w = w;
    const coordinator = document.getElementById("kv-coordinator").value;
    if (coordinator) body.coordinator = Number(coordinator);
    const consistency = document.getElementById("kv-consistency").value;
    if (consistency) body.consistency = consistency;
    send("write", body.key, `write ${body.key}=${JSON.stringify(body.value)}${w ? ` (W=${w})` : ""}`,
         "POST", "/write", body);
  });
  document.getElementById("kv-read").addEventListener("click", () => {
    send("read", key(), `read ${key()}`, "GET", `/read/${encodeURIComponent(key())}${query("r")}`);
  });
  document.getElementById("kv-delete").addEventListener("click", () => {
    send("delete", key(), `delete ${key()}`, "DELETE", `/delete/${encodeURIComponent(key())}${query("w")}`);
  });
}

function setupFailTable(count) {
  const rows = [];
  for (let i = 0; i < count; i++) {
    const mode = el("select", {id: `fail-mode-${i}`, "aria-label": `How ${nodeName(i)} fails`},
                    ...["stop", "crash", "wipe"].map((m) => el("option", {value: m, text: m})));
    const catchUp = el("input", {type: "checkbox", id: `catch-up-${i}`, checked: true});
    rows.push(el("tr", {},
      el("th", {scope: "row", text: nodeName(i)}),
      el("td", {}, mode),
      el("td", {}, el("button", {type: "button", id: `fail-${i}`, text: "Fail", "aria-label": `Fail ${nodeName(i)}`,
        onclick: () => control(`Failing ${nodeName(i)}`, "POST", `/fail/${i}?mode=${mode.value}`)})),
      el("td", {}, el("button", {type: "button", id: `recover-${i}`, text: "Recover", "aria-label": `Recover ${nodeName(i)}`,
        onclick: () => control(`Recovering ${nodeName(i)}`, "POST",
                               `/recover/${i}${catchUp.checked ? "" : "?catch_up=none"}`)})),
      el("td", {}, el("label", {}, catchUp, " catch up"))));
  }
  fill(document.querySelector("#fail-table tbody"), rows);
}

function setupPartition(count) {
  const sides = [];
  for (let i = 0; i < count; i++) {
    sides.push(el("label", {class: "side-pick"}, `${nodeName(i)} `,
      el("select", {id: `side-${i}`, "aria-label": `Side of ${nodeName(i)}`},
         ...["A", "B", "C"].map((s) => el("option", {value: s, text: s})))));
  }
  fill(document.getElementById("partition-sides"), sides);
  on("partition-form", "submit", () => {
    const groups = {};
    for (let i = 0; i < count; i++) {
      const side = document.getElementById(`side-${i}`).value;
      (groups[side] = groups[side] || []).push(i);
    }
    return control("Partitioning", "POST", "/partition", {groups: Object.keys(groups).sort().map((s) => groups[s])});
  });
  on("partition-heal", "click", () => control("Healing", "POST", "/heal"));
}

/** Run `handler` on a form's submit or a button's click, without reloading the page. */
function on(id, type, handler) {
  document.getElementById(id).addEventListener(type, (event) => {
    event.preventDefault();
    handler();
  });
}

function delay(prefix) {
  const low = numberOrNull(`${prefix}-delay-min`) || 0, high = numberOrNull(`${prefix}-delay-max`) || 0;
  return [low, high];
}

function setupFaultForms() {
  const link = () => `/links/${document.getElementById("link-from").value}/${document.getElementById("link-to").value}`;
  on("link-form", "submit", () => {
    const down = document.getElementById("link-down").checked;
    const body = down ? {down: true} : {drop_rate: numberOrNull("link-drop") || 0, delay_ms: delay("link")};
    return control("The link fault", "POST", link(), body);
  });
  on("link-repair", "click", () => control("Repairing the link", "DELETE", link()));
  on("network-form", "submit", () => control("The network fault", "POST", "/faults/network", {
    drop_rate: numberOrNull("net-drop") || 0, duplicate_rate: numberOrNull("net-dup") || 0, delay_ms: delay("net")}));
  on("faults-clear", "click", () => control("Clearing faults", "DELETE", "/faults"));
  on("skew-form", "submit", () => control("Setting the clock skew", "POST",
    `/nodes/${document.getElementById("skew-node").value}/clock`, {skew_ms: numberOrNull("skew-ms") || 0}));
  on("ae-form", "submit", () => control("Anti-entropy", "POST",
    `/anti-entropy/${document.getElementById("ae-node").value}/${document.getElementById("ae-peer").value}`));
  // A job's answer (its result fields included) goes to the control box like every control's:
  // the write/read box keeps the student's last write or read.
  on("job-form", "submit", () => {
    const job = document.getElementById("job-name").value;
    return control(`Running ${job}`, "POST", `/scheduler/run/${job}`);
  });
}

