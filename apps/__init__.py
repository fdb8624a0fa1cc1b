"""Applications on the replicated store: dispatch, sensors, alerts.

They keep all their state in the store and reach it only through
apps/client.py's StoreClient; the store knows nothing about them.
"""
