// The message loop of a lab 12 node in JavaScript (Node.js): done for you.
// Same protocol and same helpers as python/node_loop.py (docs/node-protocol.md):
//   node.on("read", handler); node.reply(msg, body); node.error(msg, code, text);
//   node.rpc(dest, body, callback, timeoutMs)  // callback(replyBody or null on timeout)
//   node.after(100, fn)  // fn() in 100 ms;  node.now()  // seconds on this node's clock
// Node.js runs every handler and timer on one thread, so no locks are needed.
// Timers and now() follow the node's clock, which runs REPLICALAB_TIME_SCALE times slower than
// real time when that variable is set (python run.py cluster --time-scale 50): stepping messages
// by hand then takes seconds of yours while only milliseconds pass for the node. Use node.after
// and node.now(), never setTimeout or Date.now(), so your timeouts slow down with it.
"use strict";
const fs = require("fs");
const path = require("path");
const { performance } = require("perf_hooks");
const readline = require("readline");

const codes = { TIMEOUT: 0, NOT_SUPPORTED: 10, TEMPORARILY_UNAVAILABLE: 11, MALFORMED_REQUEST: 12,
  CRASH: 13, KEY_DOES_NOT_EXIST: 20, PRECONDITION_FAILED: 22 };

// A lin-kv key (any JSON value) as a Map key that survives a JSON file.
const keyName = (key) => JSON.stringify(key);

// Debugging output goes to stderr: stdout is for messages only.
const log = (...parts) => process.stderr.write(parts.join(" ") + "\n");

// How many times slower than real time this node's clock runs: $REPLICALAB_TIME_SCALE, else 1.
function timeScale() {
  const raw = (process.env.REPLICALAB_TIME_SCALE || "").trim() || "1";
  const scale = Number(raw);
  if (!(scale > 0 && Number.isFinite(scale))) {
    log(`REPLICALAB_TIME_SCALE=${JSON.stringify(raw)} is not a positive number; the clock runs at real speed`);
    return 1;
  }
  return scale;
}

class Node {
  constructor() {
    this.nodeId = null;
    this.nodeIds = [];
    this.handlers = { init: (msg) => this.onInit(msg) };
    this.onStart = [];
    this.nextMsgId = 1;
    this.waiting = new Map(); // msg_id of our request -> callback for its reply
    this.timeScale = timeScale();
  }

  // Seconds on this node's clock (real time slowed by REPLICALAB_TIME_SCALE); only differences mean anything.
  now() { return performance.now() / 1000 / this.timeScale; }

  // Call fn() once, delayMs from now on this node's clock; returns a handle for clearTimeout.
  after(delayMs, fn) { return setTimeout(fn, Math.min(delayMs * this.timeScale, 2 ** 31 - 1)); }

  send(dest, body) {
    const full = Object.assign({ msg_id: this.nextMsgId++ }, body);
    process.stdout.write(JSON.stringify({ src: this.nodeId, dest, body: full }) + "\n");
    return full.msg_id;
  }

  reply(request, body) {
    this.send(request.src, Object.assign({}, body, { in_reply_to: request.body.msg_id }));
  }

  error(request, code, text) {
    this.reply(request, { type: "error", code, text });
  }

  rpc(dest, body, callback, timeoutMs = 1000) {
    const msgId = this.send(dest, body);
    const timer = this.after(timeoutMs, () => {
      if (this.waiting.delete(msgId)) callback(null);
    });
    this.waiting.set(msgId, (reply) => { clearTimeout(timer); callback(reply); });
    return msgId;
  }

  // Relay a client's request to `dest` and its answer back; error 0 if `dest` stays silent.
  forward(request, dest, timeoutMs = 2000) {
    const body = Object.assign({}, request.body);
    delete body.msg_id;
    delete body.in_reply_to;
    this.rpc(dest, body, (answer) => {
      if (answer === null) return this.error(request, codes.TIMEOUT, `${dest} did not answer within ${timeoutMs} ms`);
      const relayed = Object.assign({}, answer);
      delete relayed.msg_id;
      delete relayed.in_reply_to;
      this.reply(request, relayed);
    }, timeoutMs);
  }

  on(kind, handler) { this.handlers[kind] = handler; }

  peers() { return this.nodeIds.filter((n) => n !== this.nodeId); }

  onInit(msg) {
    this.nodeId = msg.body.node_id;
    this.nodeIds = msg.body.node_ids.slice();
    this.reply(msg, { type: "init_ok" });
    log(`${this.nodeId} started; cluster: ${this.nodeIds.join(", ")}`);
    this.onStart.forEach((fn) => fn());
  }

  dispatch(line) {
    let msg;
    try {
      msg = JSON.parse(line);
      if (typeof msg.body !== "object" || msg.body === null) throw new Error("no body");
    } catch (e) {
      log("ignoring a line that is not a message:", line.slice(0, 200));
      return;
    }
    const body = msg.body;
    if (this.nodeId === null && body.type !== "init") {
      log("ignoring a message that came before init:", line.slice(0, 200));
      return;
    }
    const callback = this.waiting.get(body.in_reply_to);
    if (callback) {
      this.waiting.delete(body.in_reply_to);
      callback(body);
    } else if (this.handlers[body.type]) {
      this.handlers[body.type](msg);
    } else if (body.in_reply_to === undefined) {
      this.error(msg, codes.NOT_SUPPORTED, `this node does not handle ${JSON.stringify(body.type)} messages`);
    }
  }

  run() {
    const lines = readline.createInterface({ input: process.stdin, terminal: false });
    lines.on("line", (line) => { if (line.trim()) this.dispatch(line); });
    lines.on("close", () => process.exit(0));
  }
}

// A node's durable state: one JSON file in $REPLICALAB_DATA_DIR, replaced atomically
// (write a temporary file, fsync it, rename it over the old one).
class Storage {
  constructor(nodeId, initial) {
    const folder = process.env.REPLICALAB_DATA_DIR || "";
    if (folder) fs.mkdirSync(folder, { recursive: true }); // run by hand, it may not exist yet
    this.path = folder ? path.join(folder, `${nodeId}.json`) : "";
    this.state = initial;
    if (this.path && fs.existsSync(this.path)) {
      this.state = JSON.parse(fs.readFileSync(this.path, "utf8"));
      log(`${nodeId} recovered its state from ${this.path}`);
    }
  }

  save() {
    if (!this.path) return;
    const temporary = this.path + ".tmp";
    const fd = fs.openSync(temporary, "w");
    fs.writeSync(fd, JSON.stringify(this.state));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temporary, this.path);
  }
}

module.exports = { Node, Storage, codes, keyName, log };
