"""HTTP routes, one blueprint per area; they parse, call the cluster and shape JSON."""
from . import (
               alerts,
               cas,
               dashboard,
               dispatch,
               events,
               faults,
               history,
               kv,
               lifecycle,
               metrics,
               network,
               overview,
               scenario,
               scheduler,
               sensors,
               spacetime,
)

BLUEPRINTS = [kv.bp, overview.bp, faults.bp, network.bp, scheduler.bp, events.bp, scenario.bp,
              cas.bp, dispatch.bp, sensors.bp, alerts.bp, dashboard.bp, lifecycle.bp, metrics.bp,
              history.bp, spacetime.bp]
