#!/usr/bin/env node
// Lab 12 model answer, stage 1, in JavaScript (teacher's mode): node_ids[0] holds the only copy;
// every other node forwards each client request to it and relays the answer. Correct (one copy
// is trivially linearizable) and unavailable as soon as the holder is down or cut off.
"use strict";
const { Node, Storage, codes, keyName, log } = require("./node_loop");

const node = new Node();
let store = null;
const holder = () => node.nodeIds[0];

node.onStart.push(() => { store = new Storage(node.nodeId, {}); });

function serve(kind, apply) {
  node.on(kind, (request) => {
    if (node.nodeId !== holder()) return node.forward(request, holder());
    apply(request, request.body, keyName(request.body.key));
  });
}

serve("read", (request, body, key) => {
  if (!(key in store.state)) return node.error(request, codes.KEY_DOES_NOT_EXIST, "no such key");
  node.reply(request, { type: "read_ok", value: store.state[key] });
});

serve("write", (request, body, key) => {
  store.state[key] = body.value;
  store.save();
  node.reply(request, { type: "write_ok" });
});

serve("cas", (request, body, key) => {
  if (!(key in store.state)) return node.error(request, codes.KEY_DOES_NOT_EXIST, "no such key");
  if (JSON.stringify(store.state[key]) !== JSON.stringify(body.from)) {
    return node.error(request, codes.PRECONDITION_FAILED,
      `expected ${JSON.stringify(body.from)}, but the value is ${JSON.stringify(store.state[key])}`);
  }
  store.state[key] = body.to;
  store.save();
  node.reply(request, { type: "cas_ok" });
});

log("stage 1 model (JavaScript): waiting for init");
node.run();
