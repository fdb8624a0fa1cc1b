#!/usr/bin/env python3
"""A student-style node for bench/real_mode.py: pings a peer through ReplicaLab and times the pongs.

Speaks docs/node-protocol.md on stdin/stdout and imports nothing of ReplicaLab.
A client `read` with {"key": "bench", "to": "n1", "count": N, "window": W}
makes it send N pings to `to` with at most W in flight, each answered by a
pong; it replies read_ok with the counts, the seconds, messages/s and the
round-trip p50/p99 in ms. Every other node answers pings with pongs.
"""
import json
import sys
import time


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main():
    me, next_id = None, 0
    run = None  # the measurement in progress
    for line in sys.stdin:
        message = json.loads(line)
        body, src = message["body"], message["src"]
        kind = body.get("type")
        if kind == "init":
            me = body["node_id"]
            send({"src": me, "dest": src, "body": {"type": "init_ok", "in_reply_to": body["msg_id"]}})
        elif kind == "ping":
            send({"src": me, "dest": src, "body": {"type": "pong", "in_reply_to": body["msg_id"]}})
        elif kind == "read" and body.get("key") == "bench":
            run = {"client": src, "request": body["msg_id"], "to": body["to"], "left": body["count"],
                   "count": body["count"], "sent": {}, "rtts": [], "started": time.perf_counter()}
            for _ in range(min(body["window"], body["count"])):
                next_id = ping(run, me, next_id)
        elif kind == "pong" and run is not None:
            sent_at = run["sent"].pop(body["in_reply_to"], None)
            if sent_at is not None:
                run["rtts"].append((time.perf_counter() - sent_at) * 1000)
            if run["left"]:
                next_id = ping(run, me, next_id)
            elif not run["sent"]:
                finish(run, me)
                run = None


def ping(run, me, next_id):
    next_id += 1
    run["left"] -= 1
    run["sent"][next_id] = time.perf_counter()
    send({"src": me, "dest": run["to"], "body": {"type": "ping", "msg_id": next_id}})
    return next_id


def finish(run, me):
    seconds = time.perf_counter() - run["started"]
    rtts = sorted(run["rtts"])
    value = {"pings": run["count"], "pongs": len(rtts), "seconds": round(seconds, 3),
             "messages_per_s": int(2 * len(rtts) / seconds) if seconds else 0,
             "p50_ms": round(rtts[len(rtts) // 2], 3) if rtts else None,
             "p99_ms": round(rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))], 3) if rtts else None}
    send({"src": me, "dest": run["client"], "body": {"type": "read_ok", "in_reply_to": run["request"],
                                                      "value": value}})


if __name__ == "__main__":
    main()
