"""Build one app's applications around its cluster (create_app puts them in app.extensions)."""
from __future__ import annotations

from dataclasses import dataclass

from .alerts import Alerts
from .breaker import CircuitBreaker
from .client import StoreClient
from .dispatch import Dispatch
from .notifier import Notifier
from .sensors import Sensors


@dataclass
class Applications:
    """The applications of one cluster, each on the same store client."""

    dispatch: Dispatch
    sensors: Sensors
    alerts: Alerts


def build(manager) -> Applications:
    """The applications for `manager`'s cluster, configured from its settings."""
    config = manager.config
    store = StoreClient(manager)
    sensors = Sensors(store, config.sensor_window, config.sensor_threshold, config.sensor_z,
                      config.sensor_floors, config.seed)
    breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_ms)
    notifier = Notifier(timeout_ms=config.notifier_timeout_ms, seed=config.seed)
    return Applications(dispatch=Dispatch(store, config.dispatch_claim, config.dispatch_speed),
                        sensors=sensors, alerts=Alerts(store, sensors, breaker, notifier))
