"""One Config with defaults, read from environment variables and CLI flags.

Each setting is declared once in SETTINGS; the CLI flag (--name-with-dashes),
the environment variable (REPLICALAB_NAME) and the --help text come from it.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, fields
from typing import Dict, List, Optional

ENV_PREFIX = "REPLICALAB_"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ConfigError(ValueError):
    """A setting is invalid; the message is one sentence a student understands."""


@dataclass
class Config:
    """Every setting of a ReplicaLab cluster and its HTTP server."""

    nodes: int = 5
    rf: int = 3
    r: int = 2
    w: int = 2
    seed: int = 0
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: str = "./data"
    storage: str = "sqlite"
    durability: str = "sync"
    consistency: str = "eventual"
    conflicts: str = "lww"
    max_history: int = 10_000
    batch_size: int = 16
    clock: str = "wall"
    vnodes: int = 128
    latency_min_ms: int = 1
    latency_max_ms: int = 10
    request_timeout_ms: int = 100
    client_timeout_ms: int = 30_000
    cache_items: int = 10_000
    cache_bytes: int = 16 * 1024 * 1024
    max_key_length: int = 512
    max_value_bytes: int = 1024 * 1024
    max_events: int = 100_000
    narrate: str = "all"
    admin_token: Optional[str] = None
    scheduler: str = "on"
    hint_retry_s: int = 10
    anti_entropy_s: int = 30
    flush_s: int = 2
    fresh: bool = False
    allowed_origins: str = ""
    allowed_hosts: str = ""
    max_streams: int = 4
    stream_heartbeat_s: int = 2
    dispatch_claim: str = "cas"
    dispatch_s: int = 1
    dispatch_speed: int = 5
    sensors_s: int = 0  # the simulated building is opt-in: it would bury a student's own narration
    sensor_floors: int = 3
    sensor_window: int = 60
    sensor_threshold: int = 40
    sensor_z: int = 3
    alerts_s: int = 2
    breaker_failures: int = 3
    breaker_cooldown_ms: int = 5000
    notifier_timeout_ms: int = 1000
    time_scale: int = 1  # student programs' clocks (run.py cluster --node-cmd): this many times slower

    def validate(self, sources: Optional[Dict[str, str]] = None) -> Config:
        """Raise ConfigError with one clear sentence if the settings cannot work.

        `sources` maps each setting the student gave to its flag or environment
        variable, so a sentence names what was actually set (REPLICALAB_R=5, not
        --r 5) and which values are defaults.
        """
        known = sources is not None  # from_args says where every setting came from
        given = sources or {}

        def named(name: str) -> str:
            """The flag or variable that set `name`."""
            return given.get(name, f"--{_flag(name)}")

        def shown(name: str) -> str:
            """The setting with its value: --r 5, REPLICALAB_R=5, or --rf 3 (the default)."""
            value = getattr(self, name)
            where = given.get(name, "")
            if where.startswith(ENV_PREFIX):
                return f"{where}={value}"
            default = " (the default)" if known and not where else ""
            return f"--{_flag(name)} {value}{default}"
        positive = ["nodes", "rf", "r", "w", "vnodes", "batch_size", "request_timeout_ms",
                    "client_timeout_ms", "hint_retry_s", "anti_entropy_s", "flush_s",
                    "cache_items", "cache_bytes", "max_key_length", "max_value_bytes",
                    "max_events", "max_history", "max_streams", "stream_heartbeat_s", "dispatch_s", "dispatch_speed",
                    "sensor_floors", "sensor_window", "sensor_z", "alerts_s", "breaker_failures",
                    "breaker_cooldown_ms", "notifier_timeout_ms", "time_scale"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{named(name)} must be at least 1 (got {getattr(self, name)}).")
        if self.sensors_s < 0:
            raise ConfigError(f"{named('sensors_s')} must be 0 (no simulated building) or more (got {self.sensors_s}).")
        if self.rf > self.nodes:
            raise ConfigError(f"The replication factor, {shown('rf')}, cannot exceed the number "
                              f"of nodes, {shown('nodes')}: each key needs {self.rf} distinct nodes.")
        for name in ("r", "w"):
            if getattr(self, name) > self.rf:
                raise ConfigError(f"{shown(name)} is larger than {shown('rf')}: a "
                                  f"quorum cannot need more answers than there are replicas.")
        if not 0 <= self.latency_min_ms <= self.latency_max_ms:
            raise ConfigError(f"Latency must satisfy 0 <= {named('latency_min_ms')} <= {named('latency_max_ms')} "
                              f"(got {self.latency_min_ms} and {self.latency_max_ms}).")
        if not 0 < self.port < 65536:
            raise ConfigError(f"{named('port')} must be between 1 and 65535 (got {self.port}).")
        if self.admin_token is not None and not self.admin_token.strip():
            raise ConfigError(f"{named('admin_token')} is empty, which would leave the fault endpoints open "
                              "while looking protected: give a real token, or leave the setting out.")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{named(name)} must be one of {', '.join(allowed)} "
                                  f"(got {getattr(self, name)!r}).")
        if self.conflicts == "siblings" and self.consistency == "linearizable":
            raise ConfigError(f"{shown('conflicts')} cannot go with {shown('consistency')}: a linearizable "
                              "register has one value, never siblings.")
        return self

    def exposure_warning(self) -> Optional[str]:
        """A sentence when the server is reachable beyond this machine with no admin token."""
        if self.host in LOOPBACK or self.admin_token:
            return None
        return (f"listening on {self.host} without --admin-token: anyone who can reach this machine can "
                "fail, wipe and partition the cluster. Set REPLICALAB_ADMIN_TOKEN (or --admin-token).")

    def origins(self) -> List[str]:
        """The allowed web origins, as a list."""
        return [o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",") if o.strip()]

    def hosts(self) -> List[str]:
        """The allowed host names (beyond IP addresses and localhost), as a list."""
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    def public_dict(self) -> dict:
        """Return the settings for /config, with the admin token hidden."""
        data = asdict(self)
        data["admin_token"] = "(set)" if self.admin_token else None
        return data

    def replace(self, **changes) -> Config:
        """Return a copy with some settings changed (not validated)."""
        data = asdict(self)
        data.update(changes)
        return Config(**data)


CHOICES = {
    "storage": ("sqlite", "memory"),
    "durability": ("sync", "batch"),
    "consistency": ("eventual", "linearizable"),
    "conflicts": ("lww", "siblings"),
    "clock": ("wall", "virtual"),
    "narrate": ("all", "ops", "off"),
    "scheduler": ("on", "off"),
    "dispatch_claim": ("cas", "read-write"),
}

HELP = {
    "nodes": "number of replica nodes in the cluster",
    "rf": "replication factor N: how many nodes keep a copy of each key",
    "r": "read quorum: answers a read waits for (overridable per request with ?r=)",
    "w": "write quorum: acknowledgements a write waits for (overridable with \"w\" in the body)",
    "seed": "seed of the network's random generator (latencies); same seed + same requests = same event log",
    "host": "address the HTTP server listens on",
    "port": "port the HTTP server listens on",
    "data_dir": "directory holding each node's sqlite files",
    "storage": "sqlite (durable, one file per node) or memory (lost on exit; used by tests)",
    "durability": "sync: commit to disk before acknowledging; batch: commit in groups of --batch-size",
    "consistency": "eventual: sloppy quorums and last-writer-wins; linearizable: ABD over strict majorities "
                   "(no stand-ins: 503 instead), per request with ?consistency=",
    "conflicts": "lww: concurrent writes resolve by last-writer-wins; siblings: version vectors keep "
                 "concurrent writes side by side for the client to merge",
    "max_history": "client operations kept for /history and /check (older ones are dropped, and said so)",
    "batch_size": "writes per group commit when --durability batch",
    "clock": "wall: simulated time follows real time; virtual: time moves only by simulated latencies",
    "vnodes": "virtual nodes per node on the consistent-hash ring",
    "latency_min_ms": "smallest simulated network latency of one message",
    "latency_max_ms": "largest simulated network latency of one message",
    "request_timeout_ms": "simulated time a coordinator waits for a replica before trying the next node",
    "client_timeout_ms": "real time an HTTP request waits for its quorum in step mode before answering 504",
    "cache_items": "per-node LRU cache limit: number of records",
    "cache_bytes": "per-node LRU cache limit: total bytes of cached records",
    "max_key_length": "longest key accepted, in characters",
    "max_value_bytes": "largest value accepted, in bytes of its JSON encoding",
    "max_events": "events kept in memory for /events (older ones are forgotten)",
    "narrate": "console narration: all events, ops (no per-message lines) or off",
    "admin_token": "when set, fault and admin endpoints require 'Authorization: Bearer <token>'",
    "scheduler": "on: run periodic jobs (hint retry, anti-entropy, batch flush); off: only by hand",
    "hint_retry_s": "seconds between hint delivery retries (scheduler on)",
    "anti_entropy_s": "seconds between anti-entropy rounds (scheduler on)",
    "flush_s": "seconds between group commits of pending batch writes (scheduler on)",
    "fresh": "start from empty storage (deletes the nodes' files in --data-dir, nothing else)",
    "allowed_origins": "comma-separated web origins (https://host:port) whose pages may call this server; "
                       "its own pages and curl always may",
    "allowed_hosts": "comma-separated host names this server answers to besides IP addresses and localhost "
                     "(protects against DNS rebinding); * allows any",
    "max_streams": "most /events/stream clients at once (keep it below the server's thread count)",
    "stream_heartbeat_s": "seconds between keep-alive lines on /events/stream (how fast a gone client is noticed)",
    "dispatch_claim": "how /dispatch/assign claims a drone: cas (Paxos, safe) or read-write (naive, lab 7)",
    "dispatch_s": "seconds between drone movement steps (scheduler on)",
    "dispatch_speed": "distance a drone covers per movement step",
    "sensors_s": "seconds between simulated building readings (scheduler on; 0, the default: only by hand "
                 "with POST /scheduler/run/sensor_simulate)",
    "sensor_floors": "floors of the simulated building (sensors floor-1 .. floor-N)",
    "sensor_window": "readings kept per sensor: the rolling window of its statistics",
    "sensor_threshold": "a reading above this value is an anomaly (static threshold)",
    "sensor_z": "a reading this many standard deviations from the window's mean is an anomaly",
    "alerts_s": "seconds between alert rule evaluations and outbox deliveries (scheduler on)",
    "breaker_failures": "consecutive notifier failures that open the circuit breaker",
    "breaker_cooldown_ms": "cluster-clock ms an open breaker waits before a half-open trial",
    "notifier_timeout_ms": "a notifier slower than this counts as failed (the alert may still arrive)",
    "time_scale": "with --node-cmd: every program's clock runs this many times slower (its timers and the "
                  "times it compares), so you can step its messages by hand (docs/node-protocol.md)",
}


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _parse(name: str, raw: str):
    """Convert a raw string to the type of setting `name`, or raise ConfigError."""
    default = getattr(Config(), name)
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false (got {raw!r}).")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number (got {raw!r}).") from None
    return raw


def env_sources(environ=None) -> Dict[str, str]:
    """The settings given by REPLICALAB_* variables: setting name -> variable name."""
    environ = os.environ if environ is None else environ
    return {f.name: ENV_PREFIX + f.name.upper() for f in fields(Config)
            if ENV_PREFIX + f.name.upper() in environ}


def from_env(environ=None, base: Optional[Config] = None) -> Config:
    """Return `base` (or the defaults) overridden by REPLICALAB_* environment variables."""
    environ = os.environ if environ is None else environ
    config = base or Config()
    for f in fields(Config):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            setattr(config, f.name, _parse(f.name, raw))
    return config


def build_parser() -> argparse.ArgumentParser:
    """Return the argparse parser of run.py: one flag per setting, documented."""
    parser = argparse.ArgumentParser(
        prog="python run.py",
        description="Start a ReplicaLab cluster: a replicated key-value store you can "
                    "break and watch recover. Every flag can also be set with an "
                    f"environment variable {ENV_PREFIX}<NAME> (e.g. {ENV_PREFIX}NODES=7).")
    defaults = Config()
    for f in fields(Config):
        default = getattr(defaults, f.name)
        help_text = f"{HELP[f.name]} (env {ENV_PREFIX}{f.name.upper()}"
        if isinstance(default, bool):
            parser.add_argument(f"--{_flag(f.name)}", dest=f.name, action="store_true",
                                default=None, help=help_text + ")")
            continue
        help_text += f", default {default})"
        kind = int if isinstance(default, int) else str
        parser.add_argument(f"--{_flag(f.name)}", dest=f.name, type=kind, default=None,
                            choices=CHOICES.get(f.name), help=help_text)
    return parser


def from_args(argv=None, environ=None, parser=None) -> Config:
    """Return the Config for run.py: defaults, then environment, then CLI flags; validated."""
    args = (parser or build_parser()).parse_args(argv)
    config = from_env(environ)
    sources = env_sources(environ)
    for f in fields(Config):
        value = getattr(args, f.name)
        if value is not None:
            setattr(config, f.name, value)
            sources[f.name] = f"--{_flag(f.name)}"  # the flag wins over the variable
    return config.validate(sources)


def simulation_config(**overrides) -> Config:
    """Settings for tests and lab checks: virtual clock, memory storage, silent console."""
    return Config(**{"storage": "memory", "clock": "virtual", "narrate": "off", "scheduler": "off",
                     **overrides})
