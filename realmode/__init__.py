"""Real mode: every node its own OS process, talking JSON over HTTP.

The protocol stays in cluster/; this package holds only what a real world
needs around it: starting and stopping processes (processes.py), the fault
table every node enforces (fault_table.py), the HTTP transport (http_transport.py)
with its timer thread (timers.py), the node-to-node routes (node_server.py) and
the relay of a node's events to the front (event_relay.py).
"""
