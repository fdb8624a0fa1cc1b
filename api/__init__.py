"""HTTP routes, one blueprint per area; they parse, call the cluster and shape JSON."""
from . import cluster, dashboard, events, faults, kv, network, scenario, scheduler

BLUEPRINTS = [kv.bp, cluster.bp, faults.bp, network.bp, scheduler.bp, events.bp, scenario.bp,
               dashboard.bp]
