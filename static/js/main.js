// The dashboard's wiring: load the cluster's shape, follow the event stream,
// batch events into one DOM update per animation frame, and refresh the JSON
// views (nodes, faults, held messages, the inspected key) when events say they changed.
import {api, getToken, notify, onControlDone, setToken} from "./api.js";
import {setupControls} from "./controls.js";
import {setupAlerts} from "./alerts.js";
import {setupDispatch} from "./dispatch.js";
import {setupHistory} from "./history.js";
import {inspectedKey, refreshInspector, renderOperations, setConflictMode, setupInspector} from "./inspector.js";
import {fillNodePickers, onPanelRequest} from "./panel_util.js";
import {setupSiblings} from "./siblings.js";
import {addLogEvents, setupLog} from "./log.js";
import {addSpacetimeEvents, setupSpacetime} from "./spacetime.js";
import {setupExport} from "./spacetime_export.js";
import {renderPlacementLine, renderRing} from "./ring.js";
import {renderHeld, setupStep, stepEvents} from "./step.js";
import {follow} from "./stream.js";
import {MESSAGE_TYPES, coalesce} from "./util.js";

const BACKLOG_EVENTS = 300;   // history shown when the page opens
const HEALTH_EVERY_MS = 2000; // how often a lost server is asked again
const MAX_QUEUED = 5000;      // events waiting for the next frame (the log keeps 3000)
const NETWORK_TYPES = new Set(["network_paused", "network_resumed", "tick"]);

const view = {nodes: [], faults: null, placement: null, paused: false};
const queue = [];
let frameRequested = false;
let serverDown = false;
let streamLive = false;

function setConnection(text, kind) {
  const status = document.getElementById("conn-status");
  status.textContent = text;
  status.className = `conn conn-${kind}`;
}

/**
 * The cluster's health at a glance, by the rule GET /health uses (api/overview.py): ok with
 * every node up, degraded while R and W can still be met, else down. Computed here from
 * /nodes, so watching it adds no request (and no access line on the students' console).
 */
function showHealth(nodes) {
  if (!view.config) return;
  const alive = nodes.filter((n) => n.status === "alive").length;
  const {r, w} = view.config;
  const state = alive === nodes.length ? "ok" : alive >= Math.max(r, w) ? "degraded" : "down";
  const box = document.getElementById("health-status");
  box.className = `health health-${state}`;
  box.textContent = `${state}: ${alive}/${nodes.length} nodes up · writes (W=${w}) ` +
    `${alive >= w ? "possible" : "impossible"} · reads (R=${r}) ${alive >= r ? "possible" : "impossible"}`;
}

const refreshCluster = coalesce(async () => {
  try {
    const [nodes, faults] = await Promise.all([api("GET", "/nodes"), api("GET", "/faults")]);
    view.nodes = nodes.nodes;
    view.faults = faults;
    showHealth(view.nodes);
    renderRing(view.nodes, view.faults, view.placement);
  } catch (error) { /* the health check reports a server that stopped */ }
}, 250);

const refreshHeld = coalesce(async () => {
  try {
    const held = await api("GET", "/network/messages");
    view.paused = held.paused;
    renderHeld(held);
  } catch (error) { /* idem */ }
}, 200);

const refreshKey = coalesce(refreshInspector, 400);

/** Everything the page shows from JSON endpoints, now (after a click or a reconnection). */
function refreshAll() {
  refreshCluster();
  refreshHeld();
  refreshKey();
}

function showPlacement(placement) {
  view.placement = placement;
  renderPlacementLine(placement);
  renderRing(view.nodes, view.faults, placement);
}

function onEvents(batch) {
  queue.push(...batch);
  // A hidden tab gets no animation frames: keep only what the panels could show.
  if (queue.length > MAX_QUEUED) queue.splice(0, queue.length - MAX_QUEUED);
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(flush);
  }
}

/** One DOM update per frame, whatever the number of events that arrived. */
function flush() {
  frameRequested = false;
  const batch = queue.splice(0, queue.length);
  addLogEvents(batch);
  addSpacetimeEvents(batch);
  stepEvents(batch);
  // A student's program that printed garbage, exited or never answered init (byon/node_host.py):
  // the page says so where it cannot be missed (the notices keep the last few).
  for (const e of batch) if (e.type === "program_problem") notify(e.text, "error");
  const key = inspectedKey();
  if (batch.some((e) => !MESSAGE_TYPES.has(e.type))) refreshCluster();
  if (view.paused || batch.some((e) => NETWORK_TYPES.has(e.type))) refreshHeld();
  if (key && batch.some((e) => e.key === key || e.type === "node_failed" || e.type === "node_recovered")) {
    renderOperations();
    refreshKey();
  }
}

function onStreamStatus(state, detail) {
  if (state === "live") {
    streamLive = true;
    serverDown = false;  // a live stream proves the server answers
    setConnection("Live: following /events/stream.", "live");
    refreshAll();
  } else if (state === "polling") {
    streamLive = true;  // events still arrive, a second late; the server answers
    serverDown = false;
    setConnection(`Following by polling /events every second: ${detail}`, "wait");
    refreshAll();
  } else if (state === "reset") {
    // A restarted server may have other settings (nodes, token) and reuses message
    // ids: start the page afresh rather than mixing two clusters' stories.
    location.reload();
  } else {
    streamLive = false;
    if (!serverDown) setConnection(`Event stream interrupted (${detail}); reconnecting…`, "wait");
    checkHealth();
  }
}

async function checkHealth() {
  try {
    await api("GET", "/health");
    if (serverDown) {
      serverDown = false;
      setConnection("Server back: reconnecting to the event stream…", "wait");
      notify("The server answers again.", "ok");
      refreshAll();
    }
  } catch (error) {
    if (!serverDown) {
      serverDown = true;
      const at = new Date().toLocaleTimeString();
      setConnection(`The server stopped answering at ${at}. Start python run.py again; ` +
                    "this page reconnects by itself.", "down");
    }
  }
}

function setupToken(config) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  input.value = getToken();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    notify(input.value.trim() ? "Admin token saved for this tab; every request now sends it."
                              : "Admin token cleared.", "ok");
  });
  if (config.admin_token && !getToken()) {
    notify("This server has an admin token: type it in the Admin token field to use the controls.", "info");
  }
}

async function start() {
  let config, jobs, last, index;
  try {
    [config, jobs, last, index] = await Promise.all([api("GET", "/config"), api("GET", "/scheduler/jobs"),
                                                     api("GET", "/events?limit=1"), api("GET", "/")]);
  } catch (error) {
    setConnection(`Cannot load the cluster: ${error.message} Retrying…`, "down");
    setTimeout(start, HEALTH_EVERY_MS);
    return;
  }
  const c = config.config;
  view.config = c;
  document.getElementById("cluster-summary").textContent =
    `${c.nodes} nodes · RF ${c.rf} · R ${c.r} · W ${c.w} · seed ${c.seed} · ${c.clock} clock · ` +
    `scheduler ${c.scheduler} · durability ${c.durability}` + (c.admin_token ? " · admin token required" : "");
  setupToken(c);
  setupSpacetime(c.nodes, c.latency_max_ms);
  setupExport();
  setupLog(c.nodes);
  onControlDone(refreshAll);
  setupStep();
  setupControls(c.nodes, jobs.jobs, refreshAll);
  setupInspector(c.nodes, showPlacement);
  setConflictMode(c.conflicts);
  fillNodePickers(c.nodes);
  onPanelRequest(refreshAll);
  setupDispatch();
  setupAlerts();
  setupHistory(index.endpoints);
  setupSiblings();
  follow(Math.max(0, last.last_seq - BACKLOG_EVENTS), {onEvents, onStatus: onStreamStatus});
  // A live stream proves the server is there; polling /health only while it is
  // not keeps the server console (the students' narration) free of access lines.
  setInterval(() => { if (!streamLive || serverDown) checkHealth(); }, HEALTH_EVERY_MS);
  refreshAll();
  document.body.dataset.ready = "true";
}

start();
