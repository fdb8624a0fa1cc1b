// Lab 12 model answers in JavaScript, stages 2 and 3 (teacher's mode): the same engine as
// python/replica.py, without the planted bugs (those are in the Python models).
// Stage 2, primary-backup: the primary sends each change to every backup it believes alive and
//   answers once they all acknowledged; a backup that stops hearing the primary takes over.
// Stage 3, majority leader: a primary of a numbered view serves only once a majority joined the
//   view and gave it their data; a change counts once a majority stored it; a read (and a cas
//   that fails its compare) first checks with a majority that this node is still the primary.
// State per key is [value, version]; a version is [view, sequence], so a later view's change wins.
"use strict";
const { Node, Storage, codes, keyName, log } = require("./node_loop");

const HEARTBEAT_MS = 100, SUSPECT_MS = 1500, RESEND_MS = 100, ROUND_MS = 1000, FORWARD_MS = 2500;
const MAX_QUEUE = 200;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const newer = (a, b) => a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1]; // is version a above version b?

class Replica {
  constructor(stage) {
    this.stage = stage;
    this.node = new Node();
    for (const kind of ["read", "write", "cas"]) this.node.on(kind, (m) => this.onClient(m));
    this.node.on("replicate", (m) => this.onReplicate(m));
    this.node.on("prepare_view", (m) => this.onPrepareView(m));
    this.node.onStart.push(() => this.start());
    this.queue = [];
    this.busy = false;
    this.sequence = 0;
    this.heard = new Map();
    this.preparingSince = 0;
  }

  get view() { return this.store.state.view; }
  primary(view = this.view) { return this.node.nodeIds[view % this.node.nodeIds.length]; }
  majority() { return Math.floor(this.node.nodeIds.length / 2) + 1; }
  ready() {
    return this.stage < 3 || this.primary() !== this.node.nodeId || this.store.state.led === this.view;
  }

  start() {
    const first = this.node.nodeId === this.node.nodeIds[0];
    this.store = new Storage(this.node.nodeId, { view: 0, data: {}, led: first ? 0 : null });
    this.sequence = Math.max(0, ...Object.values(this.store.state.data).map(([, version]) => version[1]));
    for (const peer of this.node.peers()) this.heard.set(peer, this.node.now());
    this.node.after(HEARTBEAT_MS, () => this.tick());
  }

  storeChange(key, value, version) {
    const current = this.store.state.data[key];
    if (current !== undefined && !newer(version, current[1])) return false;
    this.store.state.data[key] = [value, version];
    this.store.save();
    return true;
  }

  adopt(view) {
    if (view > this.view) {
      this.store.state.view = view;
      this.store.save();
    }
  }

  // --- clients ---------------------------------------------------------------------------

  onClient(request) {
    const body = request.body;
    if (this.primary() !== this.node.nodeId) {
      if ((body.hops || 0) >= 2) return this.node.error(request, codes.TEMPORARILY_UNAVAILABLE, "no primary known");
      body.hops = (body.hops || 0) + 1;
      return this.node.forward(request, this.primary(), FORWARD_MS);
    }
    if (!this.ready() || this.queue.length >= MAX_QUEUE) {
      return this.node.error(request, codes.TEMPORARILY_UNAVAILABLE, "the primary is not ready; try again");
    }
    this.queue.push(request);
    this.nextOperation();
  }

  nextOperation() {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const request = this.queue.shift();
    const body = request.body;
    if (this.primary() !== this.node.nodeId || !this.ready()) {
      // Queued while this node led a view it has since left (a round heard of a newer one): applied
      // now, the change would carry the new view's number from a node that does not lead it.
      this.node.error(request, codes.TEMPORARILY_UNAVAILABLE, "this node is no longer the primary; try again");
      this.busy = false;
      return this.nextOperation();
    }
    const key = keyName(body.key);
    const current = this.store.state.data[key];
    const finish = (answer, code, text) => {
      if (code === undefined) this.node.reply(request, answer);
      else this.node.error(request, code, text);
      this.busy = false;
      this.nextOperation();
    };
    if (body.type === "read" || (body.type === "cas" && (current === undefined || !same(current[0], body.from)))) {
      const afterCheck = (ok) => { // a read happens only if this node is still the primary
        if (!ok) return finish(null, codes.TEMPORARILY_UNAVAILABLE, "lost contact with a majority; not applied");
        if (current === undefined) return finish(null, codes.KEY_DOES_NOT_EXIST, "no such key");
        if (body.type === "read") return finish({ type: "read_ok", value: current[0] });
        finish(null, codes.PRECONDITION_FAILED, `expected ${JSON.stringify(body.from)}, the value is ` +
          JSON.stringify(current[0]));
      };
      return this.stage < 3 ? afterCheck(true) : this.round(null, afterCheck);
    }
    const value = body.type === "write" ? body.value : body.to;
    this.sequence += 1;
    const version = [this.view, this.sequence];
    const before = this.store.state.data[key];
    this.storeChange(key, value, version);
    // The change names the client's key as the client gave it: step mode lists it with that key.
    this.round({ key: body.key, value, version }, (ok) => {
      if (ok) return finish({ type: `${body.type}_ok` });
      // Not on enough replicas: take it back here, so no read of this node returns a value a
      // later primary may never have heard of.
      const now = this.store.state.data[key];
      if (now !== undefined && same(now[1], version)) {
        if (before === undefined) delete this.store.state.data[key];
        else this.store.state.data[key] = before;
        this.store.save();
      }
      finish(null, codes.TIMEOUT, "not enough replicas acknowledged in time; the change may still appear");
    });
  }

  // --- replication rounds ----------------------------------------------------------------

  neededAcks() {
    if (this.stage === 2) {
      const now = this.node.now();
      return [...this.heard.values()].filter((t) => now - t < SUSPECT_MS / 1000).length;
    }
    return this.majority() - 1;
  }

  round(change, callback) {
    const needed = this.neededAcks(), acked = new Set(), view = this.view;
    const deadline = this.node.now() + ROUND_MS / 1000;
    let done = false;
    const settle = (ok) => { if (!done) { done = true; callback(ok); } };
    const onAck = (peer, answer) => {
      if (done || answer === null) return;
      if ((answer.view ?? view) > view) { this.adopt(answer.view); return settle(false); } // step down
      acked.add(peer);
      if (acked.size >= needed) settle(true);
    };
    const sendMissing = () => {
      if (done) return;
      if (this.node.now() > deadline) return settle(false);
      for (const peer of this.node.peers()) {
        if (!acked.has(peer)) {
          this.node.rpc(peer, { type: "replicate", view, change }, (answer) => onAck(peer, answer), ROUND_MS);
        }
      }
      this.node.after(RESEND_MS, sendMissing);
    };
    if (needed === 0) return settle(true);
    sendMissing();
  }

  onReplicate(message) {
    const body = message.body;
    this.heard.set(message.src, this.node.now());
    if (body.view < this.view) return this.node.reply(message, { type: "replicate_ok", view: this.view });
    this.adopt(body.view);
    // Only the view's primary makes changes.
    if (body.change && message.src === this.primary(body.view)) {
      this.storeChange(keyName(body.change.key), body.change.value, body.change.version);
    }
    this.node.reply(message, { type: "replicate_ok", view: this.view });
  }

  // --- failure detection and views -------------------------------------------------------

  tick() {
    this.node.after(HEARTBEAT_MS, () => this.tick());
    const me = this.node.nodeId;
    if (this.primary() === me && !this.ready() && this.node.now() - this.preparingSince > ROUND_MS / 1000) {
      this.becomePrimary(this.view); // the earlier attempt (or the one before a crash) did not finish
    }
    if (this.primary() === me) {
      for (const peer of this.node.peers()) {
        this.node.rpc(peer, { type: "replicate", view: this.view, change: null },
          (answer) => this.heardFrom(peer, answer), HEARTBEAT_MS * 3);
      }
      return;
    }
    const silent = this.node.now() - (this.heard.get(this.primary()) || 0);
    const patience = (SUSPECT_MS + 300 * this.node.nodeIds.indexOf(me) + Math.random() * 200) / 1000;
    if (silent > patience) {
      let view = this.view + 1;
      while (this.primary(view) !== me) view += 1;
      this.heard.set(this.primary(), this.node.now()); // wait a full patience before trying again
      this.becomePrimary(view);
    }
  }

  heardFrom(peer, answer) {
    if (answer === null) return;
    this.heard.set(peer, this.node.now());
    if ((answer.view || 0) > this.view) this.adopt(answer.view);
  }

  becomePrimary(view) {
    log(`${this.node.nodeId}: the primary is silent; trying to lead view ${view}`);
    this.adopt(view);
    if (this.stage === 2) return; // naive: take over without asking anyone
    this.preparingSince = this.node.now();
    const answers = new Map();
    const completeIfMajority = () => {
      if (answers.size + 1 < this.majority()) return; // a majority's data holds every acknowledged change
      for (const data of answers.values()) {
        for (const [key, [value, version]] of Object.entries(data)) this.storeChange(key, value, version);
      }
      this.store.state.led = view;
      this.store.save();
      log(`${this.node.nodeId}: primary of view ${view}`);
    };
    const onAnswer = (peer, answer) => {
      if (answer === null || this.view !== view || this.ready()) return;
      if ((answer.view ?? view) > view) return this.adopt(answer.view);
      answers.set(peer, answer.data);
      completeIfMajority();
    };
    for (const peer of this.node.peers()) {
      this.node.rpc(peer, { type: "prepare_view", view }, (answer) => onAnswer(peer, answer), ROUND_MS);
    }
    completeIfMajority(); // a one-node cluster is its own majority
  }

  onPrepareView(message) {
    const view = message.body.view;
    if (view < this.view) {
      return this.node.reply(message, { type: "prepare_view_ok", view: this.view, data: {} });
    }
    this.adopt(view);
    this.heard.set(message.src, this.node.now());
    this.node.reply(message, { type: "prepare_view_ok", view, data: this.store.state.data });
  }
}

function main(stage) {
  log(`stage ${stage} model (JavaScript): waiting for init`);
  new Replica(stage).node.run();
}

module.exports = { Replica, main };
