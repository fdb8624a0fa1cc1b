"""Start ReplicaLab: python run.py [cluster | node] [--nodes 5 --rf 3 --r 2 --w 2 --seed 0 --port 5000 ...].

- `python run.py`: the simulated cluster (the default): every node in this process.
- `python run.py cluster`: real mode: the same API, each node its own OS process.
- `python run.py node --id N --listen HOST:PORT ...`: one node process (the front starts these).

Every flag also reads from an environment variable (REPLICALAB_<NAME>); run
`python run.py --help` for the list. Invalid settings stop the start with one
sentence, not a traceback.
"""
from __future__ import annotations

import signal
import socket
import sqlite3
import sys

from cluster.errors import ReplicaLabError
from config import ConfigError, build_parser, from_args
from wording import plural


def storage_words(config) -> str:
    """Where the data lives, in words: a directory for sqlite, nowhere for memory."""
    if config.storage == "memory":
        return "memory storage (nothing on disk: the data ends with the server)"
    return f"sqlite storage in {config.data_dir} ({config.durability})"


RESTART_NOTE = ("Restarted on the nodes' files in {data_dir}: their data is kept, but every node starts "
                "alive and every fault (down nodes, partitions, link faults, clock skews, a paused network) "
                "is cleared. Start with --fresh for an empty cluster.\n")


def program_data_words(config) -> str:
    """Where student programs keep their data, as far as ReplicaLab knows (it cannot see the data itself)."""
    from byon.node_host import program_dirs
    return f"each program keeps its own data in REPLICALAB_DATA_DIR ({program_dirs(config.data_dir)})"


def banner(config, restarted: bool = False, real: bool = False, down_programs=None) -> str:
    """The lines printed before serving: what runs where, and a first command to try.

    `down_programs` (bring your own node: a line per node whose program is not running, maybe
    none) replaces the quorum and storage words, which describe ReplicaLab's own nodes.
    """
    url = f"http://{config.host}:{config.port}"
    where = ("real mode: one OS process per node (GET /nodes gives their pids), "
             if real else "")
    if down_programs is not None:
        head = (f"ReplicaLab: {where}{config.nodes} nodes, each a program of yours (docs/node-protocol.md); "
                f"{program_data_words(config)}\n" + "".join(f"{line}\n" for line in down_programs))
    else:
        head = (f"ReplicaLab: {where}{config.nodes} nodes, RF={config.rf}, R={config.r}, W={config.w}, "
                f"seed {config.seed}, {config.clock} clock, {storage_words(config)}\n"
                + (RESTART_NOTE.format(data_dir=config.data_dir) if restarted else ""))
    return (head +
            f"Listening on {url}. Try:\n"
            f"  curl -X POST {url}/write -d '{{\"key\":\"color\",\"value\":\"blue\"}}'\n"
            f"  curl {url}/read/color\n"
            f"  curl {url}/nodes\n"
            f"Dashboard: open {url}/dashboard in a browser.\n"
            "The lines below narrate what the cluster does, one per event. Ctrl+C stops.")


def port_problem(host: str, port: int):
    """Why the server cannot listen on host:port, or None if it can."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the real server does: sockets of a server that just stopped linger in TIME_WAIT,
        # and without this the probe would call a free port busy for up to a minute.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def stop_on_sigterm() -> None:
    """Make SIGTERM stop the server as Ctrl+C does, so `main`'s finally block flushes and closes.

    Python's default SIGTERM ends the process at once: batched writes that were
    acknowledged would never reach the disk. Werkzeug's server loop ends quietly
    on KeyboardInterrupt, so SIGTERM raises that.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


def ignore_stop_signals() -> None:
    """While shutting down, a second Ctrl+C or SIGTERM must not cut the flush short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main(argv=None) -> int:
    """Parse settings, build the app, serve it; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["node"]:
        from realmode.node_process import main as node_main
        return node_main(argv[1:])
    real = argv[:1] == ["cluster"]
    if real:
        argv = argv[1:]
    elif any(arg == "--node-cmd" or arg.startswith("--node-cmd=") for arg in argv):
        print("replicalab: --node-cmd runs your program as real processes: use python run.py cluster "
              "--node-cmd \"python3 my_node.py\" (docs/node-protocol.md).", file=sys.stderr)
        return 2
    parser = build_parser()
    if real:
        parser.add_argument("--node-addresses", metavar="0=HOST:PORT,...", default=None,
                            help="real mode, multi-host: join nodes already running elsewhere instead of starting them")
        parser.add_argument("--intake", metavar="HOST:PORT", default=None,
                            help="real mode: where the front takes the nodes' events (their --front URL)")
        parser.add_argument("--node-cmd", action="append", metavar="[N=]CMD", default=None,
                            help="bring your own node (docs/node-protocol.md): run CMD as every node, or N=CMD "
                                 "as node N only (repeatable; the other nodes run lab 12's model answer)")
        parser.add_argument("--node-model", type=int, default=3, choices=(1, 2, 3),
                            help="with --node-cmd N=CMD: the lab 12 model stage the other nodes run (default 3)")
    parser.add_argument("--replay", metavar="FILE", help="replay a scenario file (GET /scenario) on a "
                        "fresh virtual-clock cluster, then serve it for inspection")
    try:
        config = from_args(argv, parser=parser)
        args = parser.parse_args(argv)
        replay_file = args.replay
        scenario_data = None
        if replay_file:
            from labs import replay
            scenario_data = replay.load(replay_file)
            config = replay.replay_config(scenario_data, host=config.host, port=config.port,
                                          narrate=config.narrate)
            ignored = [f"--{name.replace('_', '-')}" for name in ("data_dir", "storage", "fresh", "clock")
                       if getattr(args, name) is not None]
            if ignored:
                print(f"replicalab: note: {', '.join(ignored)} not used: a replay always runs on a fresh "
                      "virtual-clock cluster in memory.", file=sys.stderr)
    except ConfigError as error:
        print(f"replicalab: {error}", file=sys.stderr)
        return 2
    problem = port_problem(config.host, config.port)
    if problem:
        print(f"replicalab: cannot listen on {config.host}:{config.port} ({problem}). Is another "
              "server running there? Stop it or choose another port with --port.", file=sys.stderr)
        return 1
    from app import create_app, shutdown  # imported late so --help stays fast
    from db import DataDirBusy, has_node_files
    restarted = config.storage == "sqlite" and not config.fresh and has_node_files(config.data_dir)
    world = None
    node_cmds: dict = {}
    if real:
        from functools import partial

        from realmode.front import ProcessWorld
        from realmode.node_process import parse_peers
        try:
            addresses = parse_peers(args.node_addresses) if args.node_addresses else None
        except ConfigError as error:
            print(f"replicalab: --node-addresses: {error}", file=sys.stderr)
            return 2
        if args.node_cmd:
            from byon.node_cmd import describe, node_commands
            try:
                node_cmds = node_commands(args.node_cmd, config.nodes, args.node_model)
            except ReplicaLabError as error:
                print(f"replicalab: {error.message}", file=sys.stderr)
                return 2
            if addresses is not None:
                print("replicalab: --node-cmd starts the nodes itself; it cannot join --node-addresses.",
                      file=sys.stderr)
                return 2
            # The maintenance jobs run ReplicaLab's protocol (hints, anti-entropy): a student's node has none.
            config = config.replace(scheduler="off")
            print("Bring your own node: each node runs a program speaking docs/node-protocol.md:\n"
                  + describe(node_cmds, args.node_model), file=sys.stderr)
        world = partial(ProcessWorld, addresses=addresses, intake=args.intake, node_cmds=node_cmds)
    try:
        app = create_app(config, world_factory=world)
    except DataDirBusy as error:
        print(f"replicalab: {error}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as error:
        print(f"replicalab: could not open storage in {config.data_dir!r}: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:  # realmode.processes.ChildFailed: a node process did not come up
        print(f"replicalab: a node process did not start: {error}", file=sys.stderr)
        return 1
    if scenario_data is not None:
        from labs import replay
        replay.replay(scenario_data, app)
        print(f"Replayed {plural(len(scenario_data['requests']), 'request')} from {replay_file}.", file=sys.stderr)
    down_programs = None
    if real and node_cmds:
        from byon.program_status import down_programs as down_lines
        down_programs = down_lines(app.extensions["replicalab"])
    print(banner(config, restarted, real, down_programs), file=sys.stderr, flush=True)
    if config.exposure_warning():
        print(f"replicalab: warning: {config.exposure_warning()}", file=sys.stderr, flush=True)
    from api.server_errors import JSONErrorRequestHandler
    stop_on_sigterm()
    try:
        app.run(host=config.host, port=config.port, threaded=True, use_reloader=False,
                request_handler=JSONErrorRequestHandler)
    except KeyboardInterrupt:
        pass  # a signal that arrived before the server loop took over: stop as cleanly
    finally:
        ignore_stop_signals()
        shutdown(app)
        kept = (f"every acknowledged write, delete and CAS is on disk in {config.data_dir}"
                if config.storage == "sqlite" else "memory storage: the data ended with the server")
        if real and node_cmds:  # what a student's program saved is its own business
            kept = f"{program_data_words(config)}, whatever it saved there before it was stopped"
        print(f"replicalab: stopped; {kept}.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
