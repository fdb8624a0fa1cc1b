"""Serve a class cluster with gunicorn: gunicorn -c gunicorn.conf.py

Settings come from REPLICALAB_* environment variables (see README). The
cluster lives in the memory of one process, so there is exactly one worker
process: two workers would be two unrelated clusters, and a student's write
and the next read could land in different ones. Concurrency comes from
threads instead; the cluster serializes its work under one lock.
"""
import os
import sys

from config import ConfigError, from_env  # the project is installed: pip install -r requirements.txt

try:
    _config = from_env().validate()
except ConfigError as error:
    sys.stderr.write(f"replicalab: {error}\n")
    sys.exit(2)

wsgi_app = "app:create_app()"
bind = f"{_config.host}:{_config.port}"
workers = 1  # one cluster = one process; never raise this
worker_class = "gthread"
threads = int(os.environ.get("REPLICALAB_THREADS", "8"))
timeout = 120
accesslog = "-"


def worker_exit(server, worker):
    """Stop the jobs, commit pending (batch) writes and close the nodes' files."""
    app = getattr(worker, "wsgi", None)
    if app is not None and "replicalab" in getattr(app, "extensions", {}):
        from app import shutdown
        shutdown(app)
