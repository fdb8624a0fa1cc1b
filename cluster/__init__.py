"""The cluster's mechanisms, one file each, named after what a student looks for.

replication.py (at the top) composes them into a ReplicationManager; the map
of which file holds which mechanism is in docs/architecture.md.
"""
