// Messages panel: the space-time (Lamport) diagram. One lane per node, simulated
// time running down, one sloped arrow per message from its send to its delivery.
// The model (spacetime_model.js) is bounded; this file draws what changed, once per
// animation frame, and nothing while the view is paused (the model still follows).
import {LIMITS, Timeline} from "./spacetime_model.js";
import {showArrow, showMark} from "./spacetime_detail.js";
import {Layers} from "./spacetime_layers.js";
import {el, plural} from "./util.js";

const CLIENT_X = 30;  // the clients' edge
const LEFT = 110, PAD = 30;
const RIGHT = 100;     // right of the last lane: room for its crash label and the time gutter
const HEAD_LEN = 8;
const SHORT_OF = 14;   // a held or dropped arrow stops this far before its destination lane

let model = new Timeline();
let laneCount = 0;
let width = 600;
let paused = false;
let unseen = 0;
let layers;
const arrowEls = new Map();  // msg_id -> <g>
const markEls = new Map();   // mark.n -> <g>
const openEls = new Set();   // arrows in flight and open down bands: they grow with time
let drawnMarks = 0;
let following = true;         // at the bottom: new arrows scroll into view (known from scroll events,
                              // so drawing never has to measure the page)

const laneX = (lane) => (laneCount < 2 ? LEFT : LEFT + lane * (width - LEFT - RIGHT) / (laneCount - 1));
const lastLaneX = () => laneX(Math.max(0, laneCount - 1));
const svgEl = (tag, attrs, ...children) => el(`svg:${tag}`, attrs, ...children);

/** The model behind the diagram (tests read it). */
export function timeline() { return model; }

/** The containers of the drawn shapes (the SVG export reads them). */
export function drawing() { return layers; }

/** Build the empty diagram for `count` nodes; `latencyMaxMs` tells a delayed message. */
export function setupSpacetime(count, latencyMaxMs) {
  laneCount = count;
  model = new Timeline(latencyMaxMs);
  layers = new Layers(document.getElementById("spacetime"), defs());
  document.getElementById("msg-pause").addEventListener("click", togglePause);
  document.getElementById("msg-clear").addEventListener("click", () => { model.clear(); redrawAll(); });
  const scroller = document.getElementById("msg-scroll");
  scroller.addEventListener("scroll", () => {
    following = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 40;
  }, {passive: true});
  new ResizeObserver(() => {
    if (Math.abs(scroller.clientWidth - width) > 4) redrawAll();
  }).observe(scroller);
  redrawAll();
}

function defs() {
  const head = (id) => svgEl("marker", {id, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: String(HEAD_LEN),
                                       markerHeight: String(HEAD_LEN), markerUnits: "userSpaceOnUse",
                                       orient: "auto-start-reverse"},
                             svgEl("path", {d: "M0,0 L10,5 L0,10 z", class: `st-head ${id}`}));
  return svgEl("defs", {}, head("head-delivered"), head("head-flight"), head("head-client"));
}

function togglePause(event) {
  paused = !paused;
  event.currentTarget.setAttribute("aria-pressed", String(paused));
  event.currentTarget.textContent = paused ? "Resume view" : "Pause view";
  if (!paused) redrawAll();
  updateCount();
}

function updateCount() {
  const forgotten = model.forgotten ? ` · ${model.forgotten} older forgotten (the page keeps ${LIMITS.arrows})` : "";
  document.getElementById("msg-count").textContent = `${plural(model.arrows.size, "message")}${forgotten}` +
    (paused && unseen ? ` · ${plural(unseen, "event")} new while paused` : "");
}

/** Follow a batch of events (called once per animation frame). */
export function addSpacetimeEvents(events) {
  for (const event of events) model.add(event);
  if (paused) {
    unseen += events.length;
  } else {
    draw();
  }
  updateCount();
}

function redrawAll() {
  const scroller = document.getElementById("msg-scroll");
  width = Math.max(360, scroller.clientWidth - 2);
  arrowEls.clear();
  markEls.clear();
  openEls.clear();
  layers.reset(width, [CLIENT_X, ...Array.from({length: laneCount}, (_, i) => laneX(i))]);
  drawnMarks = 0;
  model.evicted.length = 0;
  model.arrows.forEach((arrow, id) => model.dirty.add(id));
  unseen = 0;
  drawLaneHeads();
  draw(true);
}

function drawLaneHeads() {
  const heads = [el("span", {class: "lane-name lane-client", text: "clients"})];
  heads[0].style.left = `${CLIENT_X}px`;
  for (let i = 0; i < laneCount; i++) {
    const head = el("span", {class: "lane-name", text: `node-${i}`});
    head.style.left = `${laneX(i)}px`;
    heads.push(head);
  }
  document.getElementById("msg-lanes").replaceChildren(...heads);
}

/** Draw what changed: new and updated arrows and marks, forgotten ones removed. */
function draw(force = false) {
  if (model.overflowed) {
    model.overflowed = false;
    redrawAll();
    return;
  }
  const scroller = document.getElementById("msg-scroll");
  const atBottom = force || following;
  const oldBase = layers.base;
  for (const id of model.evicted) { const g = arrowEls.get(id); if (g) { g.remove(); arrowEls.delete(id); openEls.delete(g); } }
  model.evicted.length = 0;
  const firstKept = model.marks.length ? model.marks[0].n : Infinity;
  for (const [n, g] of markEls) {
    if (n >= firstKept) break;
    g.remove(); markEls.delete(n); openEls.delete(g);
  }
  for (const id of model.dirty) {
    const arrow = model.arrows.get(id);
    const g = drawArrow(arrow);
    const old = arrowEls.get(id);
    if (old) { old.replaceWith(g); openEls.delete(old); } else layers.place(g, arrow.y0);
    arrowEls.set(id, g);
  }
  model.dirty.clear();
  for (const mark of model.marks) {
    if (mark.n > drawnMarks) {
      layers.place(drawMark(mark), mark.y);
    } else if (mark.redraw) {
      mark.redraw = false;
      const old = markEls.get(mark.n);
      if (old) { openEls.delete(old); old.replaceWith(drawMark(mark)); }
    }
  }
  if (model.marks.length) drawnMarks = model.marks[model.marks.length - 1].n;
  const bottom = model.lastY + PAD / 2;
  for (const g of openEls) g.grow(bottom);
  layers.layout(model.top() - PAD, bottom + PAD);
  if (atBottom) scroller.scrollTop = 1e9;  // the browser stops at the bottom
  else if (layers.base !== oldBase) scroller.scrollTop -= layers.base - oldBase;  // forgotten arrows must not move the view
}

function arrowClass(a) {
  return ["arrow", `msg-${a.status}`, a.copyOf !== undefined ? "msg-dup" : "", a.delayed ? "msg-delayed" : "",
          `msg-kind-${a.kind}`].filter(Boolean).join(" ");
}

/** Where a held or dropped arrow ends: just short of its destination lane, so it points at that lane
 * and no other (part of the way over, it used to end on a lane in between). */
function shortOf(x0, x1) {
  return x1 - Math.sign(x1 - x0) * SHORT_OF;
}

function drawArrow(a) {
  const x0 = laneX(a.from), x1 = laneX(a.to);
  const dir = Math.sign(x1 - x0) || 1;
  const g = svgEl("g", {class: arrowClass(a), "data-msg-id": a.id, "data-from": a.from, "data-to": a.to,
                        "data-sent": a.sentAt, "data-delivered": a.deliveredAt ?? "", "data-status": a.status,
                        tabindex: "0", role: "button",
                        "aria-label": `Message ${a.id} ${a.kind} ${a.key || ""}, node-${a.from} to node-${a.to}, ${a.status}`});
  const label = `#${a.id} ${a.kind}${a.key ? " " + a.key : ""}`;
  const tip = svgEl("title", {text: `${label}: node-${a.from} → node-${a.to}, sent t=${a.sentAt}ms, ` +
    (a.status === "delivered" ? `delivered t=${a.deliveredAt}ms` : a.status === "dropped" ? `dropped: ${a.reason}` : "in flight") +
    (a.copyOf !== undefined ? ` (copy of ${a.copyOf})` : "") + (a.delayed ? ` (delayed: ${a.latency} ms)` : "")});
  const hit = svgEl("line", {class: "hit", x1: x0, y1: a.y0});
  const shaft = svgEl("line", {class: "shaft", x1: x0, y1: a.y0});
  g.append(tip, hit, shaft);
  const place = (x, y) => { for (const line of [hit, shaft]) { line.setAttribute("x2", x); line.setAttribute("y2", y); } };
  if (a.status === "delivered") {
    place(x1, a.y1);
    shaft.setAttribute("marker-end", "url(#head-delivered)");
  } else if (a.status === "dropped") {
    const x = shortOf(x0, x1), y = a.atSend ? a.y0 + 6 : a.y1;
    place(x, y);
    g.append(svgEl("text", {class: "died", x, y: y + 4, "text-anchor": "middle", text: "✕"}));
  } else {
    shaft.setAttribute("marker-end", "url(#head-flight)");
    const tag = svgEl("text", {class: "st-flight-label", "text-anchor": dir > 0 ? "end" : "start",
                               text: `in flight to node-${a.to}`});
    g.append(tag);
    g.grow = (bottom) => {  // still travelling: its head is at "now", part of the way over
      const y = Math.max(bottom, a.y0 + 12);
      const x = shortOf(x0, x1);
      place(x, y);
      tag.setAttribute("x", x);
      tag.setAttribute("y", y + 12 + (a.id % 2) * 10);  // two held arrows often end side by side
    };
    g.grow(model.lastY + PAD / 2);
    openEls.add(g);
  }
  if (a.delayed || a.copyOf !== undefined) {
    // Beside the sender's lane, just under the send, where no other arrow of that instant runs.
    g.append(svgEl("text", {class: "st-note", x: x0 - dir * 4, y: a.y0 + 11,
                            "text-anchor": dir > 0 ? "end" : "start",
                            text: a.copyOf !== undefined ? `copy of #${a.copyOf}` : "delayed"}));
  }
  g.addEventListener("click", () => showArrow(a));
  g.addEventListener("keydown", (event) => { if (event.key === "Enter") showArrow(a); });
  return g;
}

function drawMark(m) {
  const g = svgEl("g", {class: `st-mark st-${m.kind}`, "data-mark": m.kind, "data-seq": m.seq ?? ""});
  markEls.set(m.n, g);
  if (m.kind === "time") {
    g.append(svgEl("text", {class: "st-time", x: width - 4, y: m.y + 3, "text-anchor": "end", text: `${m.time} ms`}));
    return g;
  }
  if (m.kind === "break") {
    g.append(svgEl("line", {class: "st-break", x1: CLIENT_X + 14, x2: lastLaneX() + 20, y1: m.y, y2: m.y}),
             svgEl("text", {class: "st-time", x: width - 4, y: m.y - 2, "text-anchor": "end", text: `… ${m.ms} ms …`}));
    return g;
  }
  const x = m.lane === undefined ? 0 : laneX(m.lane);
  if (m.kind === "request" || m.kind === "answer") {
    const out = m.kind === "request";
    const what = out ? requestLabel(m) : (m.ok ? "answered" : "refused");
    g.append(svgEl("line", {class: `st-client-arrow ${m.ok === false ? "st-refused" : ""}`, x1: out ? CLIENT_X : x, y1: m.y,
                            x2: out ? x - 4 : CLIENT_X + 4, y2: m.y, "marker-end": "url(#head-client)"}),
             svgEl("text", {class: "st-client-label", x: CLIENT_X + 6, y: m.y - 3, text: what}));
  } else if (m.kind === "wide") {
    // Right of the clients' column, so it never runs through a request's label there.
    g.append(svgEl("line", {class: "st-wide-line", x1: LEFT - 8, x2: lastLaneX() + 20, y1: m.y, y2: m.y}),
             svgEl("text", {class: "st-wide-label", x: LEFT + 4, y: m.y - 3, text: wideLabel(m)}));
    if (m.groups) {
      m.groups.forEach((group, side) => group.forEach((node) => g.append(svgEl("text", {
        class: "st-side", x: laneX(node) + 5, y: m.y + 12, text: "ABC"[side] || "?"}))));
    }
  } else {
    const text = m.kind === "fail" ? `✕ ${m.mode || "down"}` : m.kind === "recover" ? "↺ up" : `clock ${m.skew > 0 ? "+" : ""}${m.skew} ms`;
    g.append(svgEl("circle", {class: "st-dot", cx: x, cy: m.y, r: 4}),
             svgEl("text", {class: "st-lane-label", x: x + 7, y: m.y + 4, text}));
    if (m.kind === "fail") {
      const band = svgEl("rect", {class: `st-down st-down-${m.mode || "stop"}`, x: x - 3, y: m.y, width: 6, height: 1});
      g.prepend(band);
      g.grow = (bottom) => band.setAttribute("height", String(Math.max(1, (m.until ?? bottom) - m.y)));
      g.grow(model.lastY);
      if (m.until === undefined) openEls.add(g);
    }
  }
  g.append(svgEl("title", {text: m.text || ""}));
  g.addEventListener("click", () => showMark(m));
  return g;
}

function requestLabel(m) {
  const verb = {write_started: "write", paxos_prepare: "cas", abd_query: "lin."}[m.type] || "read";
  return `${verb} ${m.key || ""}`.trim();
}

function wideLabel(m) {
  if (m.type === "partition" && m.groups) return `partition ${m.groups.map((g) => g.join(",")).join(" | ")}`;
  return m.type.replaceAll("_", " ");
}
