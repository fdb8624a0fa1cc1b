// The space-time (Lamport) diagram's data, without the DOM: one lane per node,
// simulated time running down, one arrow per message from its send to its delivery,
// marks on the lanes (crash, recovery, skew, partition...), client requests and
// answers at the left edge, squeezed quiet times and time labels. Everything is bounded (LIMITS): the oldest arrows and
// marks are forgotten, so 100k events cost no more memory than a few thousand.

import {nodeId} from "./util.js";

export const LIMITS = {arrows: 1500, marks: 600, ops: 2000, early: 500};
export const PX_PER_MS = 4;      // a 1..10 ms flight is a 4..40 px slope
export const MAX_GAP = 44;       // a longer quiet time is squeezed to this and marked as a break
export const SAME_TIME_STEP = 9; // a delivery or mark in the same ms as the last event still moves down
const TICK_EVERY_PX = 70;         // a time label on the axis at most this often

const ANSWERS = new Set(["write_succeeded", "write_failed", "read_succeeded", "read_failed", "abd_failed",
                         "write_answered", "read_answered", "cas_applied", "cas_conflict", "cas_no_quorum",
                         "cas_unknown", "cas_contention", "client_answered", "client_failed"]);
// client_request / client_answered / client_failed: a request to a student's program (byon/node_host.py).
const STARTS = new Set(["write_started", "paxos_prepare", "abd_query", "client_request"]);
const LANE_MARKS = {node_failed: "fail", node_recovered: "recover", clock_skew: "skew"};
const WIDE_MARKS = new Set(["partition", "partition_healed", "network_paused", "network_resumed", "link_fault",
                            "link_repaired", "network_fault", "faults_cleared", "tick", "cluster_reset"]);


/** The diagram's model: feed it events in order with add(); it says what changed. */
export class Timeline {
  constructor(latencyMaxMs = 10) {
    this.latencyMax = latencyMaxMs;
    this.arrows = new Map();   // msg_id -> arrow, oldest first (Map keeps insertion order)
    this.marks = [];           // lane and wide marks, client requests and answers, oldest first
    this.tickY = -Infinity;    // where the last time label went
    this.ops = new Map();      // op_id -> {coordinator, what}: who answers the client
    this.down = new Map();     // node -> the open "down" mark, until its recovery
    this.lastTime = null;
    this.lastY = 0;
    this.lastSeq = 0;
    this.seen = 0;             // events ever added, forgotten ones included
    this.forgotten = 0;        // arrows dropped to stay bounded
    this.dirty = new Set();    // arrow ids to (re)draw; the renderer empties it
    this.evicted = [];         // arrow ids forgotten since the last draw
    this.overflowed = false;   // more were forgotten than `evicted` holds: redraw everything
    this.markCount = 0;        // marks ever made: mark.n numbers them
    this.early = new Map();    // msg_id -> a delivery reported before its send (real mode: each node reports its own)
  }

  /** The y of an event at `time` ms; a delivery or mark at the same ms steps down a little. */
  yAt(time, step) {
    if (this.lastTime === null) {
      this.lastTime = time;
    } else if (time > this.lastTime) {
      const dt = time - this.lastTime;
      let gap = dt * PX_PER_MS;
      if (gap > MAX_GAP) {
        gap = MAX_GAP;
        this.mark({kind: "break", y: this.lastY + MAX_GAP / 2, ms: dt});
      }
      this.lastY += Math.max(gap, step ? SAME_TIME_STEP : 0);
      this.lastTime = time;
      if (this.lastY - this.tickY >= TICK_EVERY_PX) {
        this.tickY = this.lastY;
        this.mark({kind: "time", y: this.lastY, time});
      }
    } else if (step) {
      this.lastY += SAME_TIME_STEP;
    }
    return this.lastY;
  }

  /** Add one event: new marks get the next mark.n, changed arrows go to `dirty`. */
  add(event) {
    this.seen++;
    this.lastSeq = event.seq;
    const d = event.details || {};
    if (event.type.startsWith("message_")) return this.message(event, d);
    const base = {seq: event.seq, time: event.time_ms, type: event.type, text: event.text, key: event.key, op: d.op_id};
    if (STARTS.has(event.type) && d.op_id !== undefined && !this.ops.has(d.op_id)) {
      return this.request(event, d.op_id, nodeId(event.nodes[0]));
    }
    if (ANSWERS.has(event.type) && this.ops.has(d.op_id)) {
      const op = this.ops.get(d.op_id);
      if (op.answered && !event.type.endsWith("_answered")) return null;  // step mode told the client already
      op.answered = true;
      return this.mark({...base, kind: "answer", lane: op.coordinator, y: this.yAt(event.time_ms, true),
                        ok: !/failed|conflict|no_quorum|unknown|contention/.test(event.type)});
    }
    if (LANE_MARKS[event.type]) {
      const lane = nodeId(event.nodes[0]);
      const mark = this.mark({...base, kind: LANE_MARKS[event.type], lane, y: this.yAt(event.time_ms, true),
                              mode: d.mode, skew: d.skew_ms});
      if (event.type === "node_failed") this.down.set(lane, mark);
      if (event.type === "node_recovered" && this.down.has(lane)) {
        this.down.get(lane).until = mark.y;
        this.down.get(lane).redraw = true;
        this.down.delete(lane);
      }
      return mark;
    }
    if (WIDE_MARKS.has(event.type)) {
      return this.mark({...base, kind: "wide", y: this.yAt(event.time_ms, true), groups: d.groups});
    }
    this.yAt(event.time_ms, false);
    return null;
  }

  request(event, op, coordinator) {
    this.ops.set(op, {coordinator, answered: false});
    if (this.ops.size > LIMITS.ops) this.ops.delete(this.ops.keys().next().value);
    return this.mark({seq: event.seq, time: event.time_ms, type: event.type, text: event.text, key: event.key,
                      op, kind: "request", lane: coordinator, y: this.yAt(event.time_ms, true)});
  }

  mark(mark) {
    mark.n = ++this.markCount;
    this.marks.push(mark);
    while (this.marks.length > LIMITS.marks) this.marks.shift();
    return mark;
  }

  message(event, d) {
    const id = d.msg_id;
    let arrow = this.arrows.get(id);
    if (!arrow) {
      if (event.type === "message_delivered") {
        // Sent before the page was looking, or (real mode) the receiver's report came before the sender's:
        // keep it a while for its send.
        this.early.set(id, event);
        if (this.early.size > LIMITS.early) this.early.delete(this.early.keys().next().value);
        return null;
      }
      const from = nodeId(event.nodes[0]);
      // A read has no "started" event: its first get is the client's request reaching the coordinator.
      const asks = d.op_id !== undefined && !this.ops.has(d.op_id) && (d.kind === "get" || d.kind === "prepare");
      if (asks) this.request(event, d.op_id, from);
      arrow = {id, from, to: nodeId(event.nodes[1]), kind: d.kind, key: event.key, op: d.op_id,
               sentAt: event.time_ms, y0: this.yAt(event.time_ms, false), y1: null, deliveredAt: null,
               status: "flight", latency: d.latency_ms, copyOf: d.original_id, events: []};
      this.arrows.set(id, arrow);
      this.evict();
    }
    arrow.events.push(event);
    if (event.type === "message_duplicated") {
      arrow.status = "flight";
    } else if (event.type === "message_delivered") {
      arrow.status = "delivered";
      arrow.deliveredAt = event.time_ms;
      arrow.y1 = this.yAt(event.time_ms, true);
    } else if (event.type === "message_dropped") {
      arrow.status = "dropped";
      arrow.reason = d.reason;
      arrow.atSend = arrow.events.length === 1;
      arrow.deliveredAt = event.time_ms;
      arrow.y1 = arrow.atSend ? arrow.y0 : this.yAt(event.time_ms, true);
    }
    arrow.delayed = arrow.latency > this.latencyMax;
    this.dirty.add(id);
    const early = event.type === "message_sent" ? this.early.get(id) : undefined;
    if (early) {
      this.early.delete(id);
      return this.message(early, early.details || {});
    }
    return arrow;
  }

  evict() {
    while (this.arrows.size > LIMITS.arrows) {
      const oldest = this.arrows.keys().next().value;
      this.arrows.delete(oldest);
      this.dirty.delete(oldest);
      this.forgotten++;
      // Unread while the view is paused: past a screenful the renderer redraws everything instead.
      if (this.evicted.length < LIMITS.arrows) this.evicted.push(oldest);
      else this.overflowed = true;
    }
  }

  /** The smallest y still worth drawing: the oldest kept arrow or mark. */
  top() {
    const first = this.arrows.values().next().value;
    const ys = [first ? first.y0 : this.lastY, this.marks.length ? this.marks[0].y : this.lastY];
    return Math.min(...ys);
  }

  /** Forget everything drawn so far (the Clear button); time keeps running down. */
  clear() {
    this.evicted.push(...this.arrows.keys());
    this.arrows.clear();
    this.dirty.clear();
    this.marks.length = 0;
    this.down.clear();
  }
}
