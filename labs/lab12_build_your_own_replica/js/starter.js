#!/usr/bin/env node
// Lab 12 starter in JavaScript: a lin-kv node whose message loop works (node_loop.js) and
// whose replication is yours to write. As it stands every node keeps its own copy and never
// talks to the others. The TODOs are the same stages as python/starter.py.
"use strict";
const { Node, Storage, codes, keyName, log } = require("./node_loop");

const node = new Node();
let store = null;

node.onStart.push(() => {
  store = new Storage(node.nodeId, {});
  // TODO stage 1 (single copy): one node (node.nodeIds[0]) holds the data; the others forward
  //   each client request with node.rpc(...) and relay the answer with node.reply(request, answer).
  // TODO stage 2 (primary-backup): the primary sends each change to every backup and answers the
  //   client only once all acknowledged it; resend a change until it is acknowledged.
  // TODO stage 3 (quorums): any node serves; every operation reaches a majority (prepare, accept).
});

node.on("read", (request) => {
  const key = keyName(request.body.key);
  if (!(key in store.state)) return node.error(request, codes.KEY_DOES_NOT_EXIST, "no such key");
  node.reply(request, { type: "read_ok", value: store.state[key] });
});

node.on("write", (request) => {
  store.state[keyName(request.body.key)] = request.body.value;
  store.save(); // acknowledge only what is durable
  node.reply(request, { type: "write_ok" });
});

node.on("cas", (request) => {
  const key = keyName(request.body.key);
  if (!(key in store.state)) return node.error(request, codes.KEY_DOES_NOT_EXIST, "no such key");
  const current = store.state[key];
  if (JSON.stringify(current) !== JSON.stringify(request.body.from)) {
    return node.error(request, codes.PRECONDITION_FAILED,
      `expected ${JSON.stringify(request.body.from)}, but the value is ${JSON.stringify(current)}`);
  }
  store.state[key] = request.body.to;
  store.save();
  node.reply(request, { type: "cas_ok" });
});

log("starter node (JavaScript): waiting for init on stdin");
node.run();
