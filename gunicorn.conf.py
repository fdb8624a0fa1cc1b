"""Serve a class cluster with gunicorn: gunicorn -c gunicorn.conf.py

Settings come from REPLICALAB_* environment variables (see README). The
cluster lives in the memory of one process, so there is exactly one worker
process: two workers would be two unrelated clusters, and a student's write
and the next read could land in different ones. Concurrency comes from
threads instead; the cluster serializes its work under one lock.
"""
import os
import sys

from api.server_errors import MAX_REQUEST_LINE, JSONErrorThreadWorker
from config import ConfigError, env_sources, from_env  # the project is installed: pip install -r requirements.txt
from db import DataDirBusy, DataDirLock, remove_node_files

threads = int(os.environ.get("REPLICALAB_THREADS", "8"))
try:
    _config = from_env().validate(env_sources())
    if _config.max_streams > threads - 2:
        raise ConfigError(f"REPLICALAB_MAX_STREAMS={_config.max_streams} leaves too few of the "
                          f"REPLICALAB_THREADS={threads} threads for other requests: each live-event "
                          "stream holds a thread, so keep it at most the thread count minus 2.")
    if _config.storage == "sqlite":
        _lock = DataDirLock(_config.data_dir)  # refuse now, in one sentence, not in the worker
        if _config.fresh:
            remove_node_files(_config.data_dir)  # fresh once, for this server start, under its lock
        _lock.release()
except (ConfigError, DataDirBusy) as error:
    sys.stderr.write(f"replicalab: {error}\n")
    sys.exit(2)
# "Fresh" means once per server start. The master has just emptied the directory; a worker
# it starts now or respawns later (after a crash, or a worker killed by the OOM killer) must
# open the class's data, not wipe it. Workers inherit this environment.
os.environ["REPLICALAB_FRESH"] = "0"
if _config.exposure_warning():
    sys.stderr.write(f"replicalab: warning: {_config.exposure_warning()}\n")

wsgi_app = "app:create_app()"
bind = f"{_config.host}:{_config.port}"
workers = 1  # one cluster = one process; never raise this
worker_class = JSONErrorThreadWorker  # gthread, with JSON instead of HTML for malformed requests
timeout = 120
# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): two
# servers (a class's and a test's) would take it from each other, and the first to stop deletes
# the other's. ReplicaLab needs none (older versions ignore this setting).
control_socket_disable = True
accesslog = "-"
# Any key the app accepts (512 characters, up to 12 bytes each percent-encoded) fits in the
# request line, so every key that can be written can be read and deleted.
limit_request_line = MAX_REQUEST_LINE


def worker_exit(server, worker):
    """Stop the jobs, commit pending (batch) writes and close the nodes' files."""
    app = getattr(worker, "wsgi", None)
    if app is not None and "replicalab" in getattr(app, "extensions", {}):
        from app import shutdown
        shutdown(app)
