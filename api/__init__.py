"""HTTP routes, one blueprint per area; they parse, call the cluster and shape JSON."""
from . import cluster, events, faults, kv

BLUEPRINTS = [kv.bp, cluster.bp, faults.bp, events.bp]
