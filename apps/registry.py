"""Build one app's applications around its cluster (create_app puts them in app.extensions)."""
from __future__ import annotations

from dataclasses import dataclass

from .client import StoreClient
from .dispatch import Dispatch


@dataclass
class Applications:
    """The applications of one cluster, each on the same store client."""

    dispatch: Dispatch


def build(manager) -> Applications:
    """The applications for `manager`'s cluster, configured from its settings."""
    config = manager.config
    store = StoreClient(manager)
    return Applications(dispatch=Dispatch(store, config.dispatch_claim, config.dispatch_speed))
