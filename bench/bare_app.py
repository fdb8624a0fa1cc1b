"""The ceiling: a minimal Flask app with the same routes, doing no cluster work.

Served exactly like ReplicaLab (bench/servers.py), it measures what Flask,
gunicorn or the development server cost by themselves; the benchmarks report
ReplicaLab's figures as a ratio of this app's.
"""
from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/health")
def health():
    """Answer that the server is up."""
    return jsonify(status="success")


@app.post("/write")
def write():
    """Parse the JSON body and answer with its key, as /write does."""
    data = request.get_json(force=True)
    return jsonify(status="success", key=data["key"], value=data["value"])


@app.get("/read/<path:key>")
def read(key):
    """Answer with the key, as /read does."""
    return jsonify(status="success", key=key, value=None)


@app.delete("/delete/<path:key>")
def delete(key):
    """Answer with the key, as /delete does."""
    return jsonify(status="success", key=key, deleted=True)


def create_app():
    """The app, for gunicorn's app factory syntax."""
    return app
