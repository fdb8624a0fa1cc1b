"""A thin APScheduler adapter: periodic jobs that are plain functions of `now`.

The jobs themselves live in cluster/maintenance.py; APScheduler only calls them at
intervals. `run(name)` triggers one by hand. Tests and lab checks keep the
scheduler off and trigger jobs explicitly, so their runs stay deterministic.
"""
from __future__ import annotations

import os
from typing import Dict, Optional

from cluster.errors import NotFound

# job name -> (method of manager.jobs, config setting holding its interval in seconds, what it does)
JOBS = {
    "hint_retry": ("retry_hints", "hint_retry_s", "hand hints back to owners that are reachable again"),
    "anti_entropy": ("anti_entropy_round", "anti_entropy_s",
                     "each node compares Merkle trees with one peer and copies what differs"),
    "flush": ("flush_batches", "flush_s", "group-commit pending writes of batch-mode nodes"),
}

# Application jobs (apps/): job name -> (application, its method, interval setting, what it does)
APP_JOBS = {
    "dispatch_move": ("dispatch", "move", "dispatch_s",
                      "move busy drones one step toward their targets; pick up and deliver on arrival"),
    "sensor_simulate": ("sensors", "simulate", "sensors_s", "one simulated reading per floor of the building"),
    "alert_rules": ("alerts", "evaluate", "alerts_s", "evaluate alert rules on new readings; fire once per crossing"),
    "alert_outbox": ("alerts", "deliver", "alerts_s",
                     "send pending alerts to the notifier through the circuit breaker; retry failures"),
}


def should_start(debug: bool, environ=None) -> bool:
    """False in the watcher process of Flask's reloader, so jobs never run twice."""
    environ = os.environ if environ is None else environ
    return not debug or environ.get("WERKZEUG_RUN_MAIN") == "true"


class Scheduler:
    """Runs the maintenance jobs of one cluster on intervals, or by hand."""

    def __init__(self, manager, apps=None):
        self.manager = manager
        self.apps = apps  # apps/registry.Applications, whose jobs are in APP_JOBS
        self.last: Dict[str, dict] = {}
        self._aps = None

    def start(self) -> None:
        """Start the background APScheduler with every job on its interval."""
        from apscheduler.schedulers.background import BackgroundScheduler
        self._aps = BackgroundScheduler(daemon=True)
        for name, (_, setting, _) in self.table().items():
            if not getattr(self.manager.config, setting):
                continue  # an interval of 0 keeps a job to be run by hand (--sensors-s 0)
            self._aps.add_job(self._scheduled, "interval", seconds=getattr(self.manager.config, setting),
                              args=[name], id=name, max_instances=1, coalesce=True)
        self._aps.start()

    @property
    def running(self) -> bool:
        """True when jobs run on their own."""
        return self._aps is not None

    def _scheduled(self, name: str) -> None:
        with self.manager.lock:  # recorded in the order it starts acting, for scenario replays
            if name in APP_JOBS and self.manager.network.paused:
                return  # an application's request would wait for a student's steps; skip this turn
            self.manager.record({"job": name})
            if self.manager.config.clock == "virtual":
                self.run(name)  # whole, so that a replay (which runs it whole) gives the same log
                return
        # Outside the lock: each job takes it per slice (docs/architecture.md, "Background jobs"),
        # so a request waits behind one slice, never behind a whole job.
        self.run(name)

    def run(self, name: str) -> dict:
        """Run one job now; returns what it did."""
        table = self.table()
        if name not in table:
            raise NotFound(f"There is no job {name!r}; the jobs are {', '.join(table)}.", job=name)
        method = table[name][0]
        result = method(self.manager.clock.now())
        self.last[name] = {"at_time_ms": self.manager.clock.elapsed(), "result": result}
        return result

    def table(self) -> Dict[str, tuple]:
        """Every job this scheduler runs: name -> (bound method, interval setting, what it does)."""
        table = {name: (getattr(self.manager.jobs, method), setting, about)
                 for name, (method, setting, about) in JOBS.items()}
        if self.apps is not None:
            table.update({name: (getattr(getattr(self.apps, app), method), setting, about)
                          for name, (app, method, setting, about) in APP_JOBS.items()})
        return table

    def jobs(self) -> list:
        """Every job with its interval, next run time and last result."""
        listing = []
        for name, (_, setting, about) in self.table().items():
            job = self._aps.get_job(name) if self._aps else None
            next_run: Optional[str] = job.next_run_time.isoformat() if job and job.next_run_time else None
            every = getattr(self.manager.config, setting)
            if not self.running:
                next_run = "not scheduled (scheduler off)"
            elif not every:
                next_run = f"not scheduled (--{setting.replace('_', '-')} 0): POST /scheduler/run/{name}"
            listing.append({"job": name, "does": about, "every_s": every, "next_run": next_run,
                            "last_run": self.last.get(name)})
        return listing

    def shutdown(self) -> None:
        """Stop the background jobs."""
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
