"""Bring your own node: run a student's program that speaks Maelstrom's protocol as a replica.

`envelope.py` checks each line a program prints, `child_process.py` starts and
stops the program, `stdio_bridge.py` joins its stdin/stdout to a callback, and
`lin_kv.py` maps ReplicaLab's client operations to lin-kv requests and their
replies to Jepsen outcomes. docs/node-protocol.md is the student's side of it.
"""
