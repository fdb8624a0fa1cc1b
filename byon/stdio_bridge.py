"""Run a student's node program and join its stdin/stdout to a callback.

The bridge starts the program (`child_process.spawn`), sends it `init` and
waits for `init_ok`, then writes each envelope it is given to the program's
stdin (a bounded queue and a writer thread, so `send` never blocks) and reads
its stdout on a reader thread: each line is checked (`envelope.parse_line`) and
handed to `on_message`, or reported to `on_problem` as a sentence naming the
node, the line and why. stderr lines go to `on_log`. The bridge knows nothing of
the network: whoever owns it routes the envelopes (a transport in real mode).
"""
from __future__ import annotations

import contextlib
import io
import itertools
import logging
import queue
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, List, Optional, Sequence, Union, cast

from . import child_process
from .envelope import MAX_LINE_BYTES, Envelope, MalformedLine, encode_line, parse_line, shown
from .program_status import exit_words

log = logging.getLogger(__name__)

INIT_SRC = "c0"  # the control plane's name when it sends init (Maelstrom's clients are c1, c2, ...)
MAX_LOG_CHARS = 2000  # a longer stderr line is cut
KEPT_LOG_LINES = 20  # the last stderr lines, quoted when the program exits
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # lines waiting for the program's stdin, at most


@dataclass(frozen=True)
class Problem:
    """Something a student's node did wrong, told so that the student can fix it."""

    node: str
    kind: str  # malformed_line | wrong_src | stdin_full | exited | no_init | init_error | not_started
    why: str
    line: str = ""  # the offending line, cut to a readable size

    def text(self) -> str:
        """One sentence (two with the line) for the console, the dashboard and the grader."""
        if self.line:
            return f"{self.node} printed a line that is not a valid message: {self.why}. The line: {self.line}"
        return f"{self.node}: {self.why}"

    def to_dict(self) -> dict:
        """The problem as JSON, with its sentence."""
        return {"node": self.node, "kind": self.kind, "why": self.why, "line": self.line, "message": self.text()}


class NodeStartError(RuntimeError):
    """The program did not start as a node: it is missing, exited at once, or never answered init."""

    def __init__(self, problem: Problem):
        super().__init__(problem.text())
        self.problem = problem


@dataclass
class BridgeStats:
    """Counters a view or a benchmark reads."""

    sent: int = 0
    received: int = 0
    malformed: int = 0
    dropped_full: int = 0
    log_lines: int = 0


class StdioBridge:
    """One student program run as node `node_id`, its messages handed to `on_message`."""

    def __init__(self, node_id: str, node_ids: Sequence[str], command: Union[str, Sequence[str]],
                 on_message: Callable[[Envelope], None],
                 on_log: Optional[Callable[[str, str], None]] = None,
                 on_problem: Optional[Callable[[Problem], None]] = None,
                 data_dir: Optional[str] = None, cwd: Optional[str] = None,
                 init_timeout_s: float = 5.0, max_queue: int = 10_000,
                 max_queued_bytes: int = MAX_QUEUED_BYTES):
        self.node_id = node_id
        self.node_ids = list(node_ids)
        self.command = command
        self.on_message = on_message
        self.on_log = on_log or (lambda node, text: log.info("%s: %s", node, text))
        self.on_problem = on_problem or (lambda problem: log.warning("%s", problem.text()))
        self.data_dir, self.cwd = data_dir, cwd
        self.init_timeout_s = init_timeout_s
        self.stats = BridgeStats()
        self.process: Optional[subprocess.Popen] = None
        self.last_log: Deque[str] = deque(maxlen=KEPT_LOG_LINES)
        self._outbox: queue.Queue = queue.Queue(max_queue)
        # Messages may be a megabyte each: 10,000 of them would be 10 GB, so the bytes are bounded too.
        self.max_queued_bytes = max_queued_bytes
        self._queued_bytes = 0
        self._queued_lock = threading.Lock()
        self._msg_ids = itertools.count(1)
        self._init_id = 0
        self._initialized = threading.Event()
        self._ended = threading.Event()  # stdout closed: the program exited (or closed it)
        self._init_error = ""
        self._stopping = False
        self._threads: List[threading.Thread] = []
        self.last_activity = time.monotonic()  # a line written to stdin or read from stdout

    # --- life cycle ---------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        """The program's PID (also its process group id), None before start."""
        return self.process.pid if self.process else None

    def running(self) -> bool:
        """Whether the program is still running."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the program, send init, and return once it answered init_ok; NodeStartError otherwise."""
        try:
            self.process = child_process.spawn(self.command, self.data_dir, self.node_id, self.cwd)
        except (OSError, ValueError) as error:
            raise NodeStartError(Problem(self.node_id, "not_started",
                                         f"cannot start {self.command!r}: {error}")) from None
        process = self.process
        for name, target in (("stdout", self._read_stdout), ("stderr", self._read_stderr),
                             ("stdin", self._write_stdin)):
            thread = threading.Thread(target=target, name=f"{self.node_id}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._init_id = next(self._msg_ids)
        self._enqueue({"src": INIT_SRC, "dest": self.node_id,
                       "body": {"type": "init", "msg_id": self._init_id, "node_id": self.node_id,
                                "node_ids": self.node_ids}})
        deadline = threading.Event()
        for _ in range(int(self.init_timeout_s * 50)):
            if self._initialized.is_set() or self._ended.is_set() or self._init_error:
                break
            deadline.wait(0.02)
        if self._initialized.is_set():
            return
        problem = self._start_problem(process)
        self.stop()
        self.on_problem(problem)
        raise NodeStartError(problem)

    def _start_problem(self, process: subprocess.Popen) -> Problem:
        """Why the program is not a running node after start."""
        if self._init_error:
            return Problem(self.node_id, "init_error", f"it answered init with an error: {self._init_error}")
        if self._ended.is_set():
            code = child_process.exit_code(process, 1)
            self._threads[1].join(1)  # let the last stderr lines arrive
            said = "; its last stderr lines: " + " | ".join(self.last_log) if self.last_log else \
                "; it wrote nothing on stderr"
            how = exit_words(code) if code is not None else "closed its stdout"
            return Problem(self.node_id, "exited", f"the program {how} before answering init{said}")
        return Problem(self.node_id, "no_init",
                       f"the program never answered init with init_ok (in_reply_to {self._init_id}) within "
                       f"{self.init_timeout_s:g} s; does it read stdin line by line and flush stdout?")

    def stop(self, grace_s: float = 1.0) -> Optional[int]:
        """Stop the program by its PID (its whole process group) and the threads; returns its exit code."""
        self._stopping = True
        code = child_process.stop(self.process, grace_s) if self.process else None
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)  # wakes the writer thread so that it ends
        for thread in self._threads:
            thread.join(2)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr) if self.process else ():
            if stream:
                stream.close()
        return code

    # --- to the program ---------------------------------------------------------

    def send(self, envelope: Union[Envelope, dict]) -> bool:
        """Queue one envelope for the program's stdin; never blocks.

        False (the message is lost, as a network may lose it) before the node answered
        init, once it stopped, or when the queue is full: init is always its first message.
        """
        if not self._initialized.is_set():
            return False
        data = envelope.to_dict() if isinstance(envelope, Envelope) else envelope
        return self._enqueue(data)

    def _enqueue(self, data: dict) -> bool:
        if self._stopping or self._ended.is_set():
            return False
        line = encode_line(data)
        try:
            with self._queued_lock:
                if self._queued_bytes + len(line) > self.max_queued_bytes:
                    raise queue.Full
                self._outbox.put_nowait(line)
                self._queued_bytes += len(line)
        except queue.Full:
            self.stats.dropped_full += 1
            if self.stats.dropped_full == 1 or self.stats.dropped_full % 1000 == 0:
                self.on_problem(Problem(self.node_id, "stdin_full",
                                        f"it is not reading its stdin fast enough: {self._outbox.qsize()} "
                                        f"messages ({self._queued_bytes} bytes) wait, so new ones are dropped "
                                        f"({self.stats.dropped_full} so far)"))
            return False
        return True

    def _write_stdin(self) -> None:
        stdin = self.process.stdin if self.process else None
        while stdin is not None:
            line = self._outbox.get()
            if line is None:
                return
            with self._queued_lock:
                self._queued_bytes -= len(line)
            try:
                stdin.write(line)
                self.stats.sent += 1
                self.last_activity = time.monotonic()
            except (BrokenPipeError, ValueError, OSError):
                return  # the program is gone; the stdout reader reports how it ended

    # --- from the program -------------------------------------------------------

    def _read_stdout(self) -> None:
        stdout = self.process.stdout if self.process else None
        if stdout is None:
            return
        reader = io.BufferedReader(cast(io.RawIOBase, stdout), 64 * 1024)
        try:
            while True:
                line = reader.readline(MAX_LINE_BYTES + 1)
                if not line:
                    break
                if not line.endswith(b"\n") and len(line) > MAX_LINE_BYTES:
                    self._malformed(line, f"the line is longer than {MAX_LINE_BYTES} bytes; it was skipped")
                    while line and not line.endswith(b"\n"):
                        line = reader.readline(MAX_LINE_BYTES)
                    continue
                self._handle_line(line)
        except (OSError, ValueError):
            pass  # the pipe was closed by stop()
        finally:
            self._ended.set()
            if not self._stopping and self._initialized.is_set():
                self.on_problem(Problem(self.node_id, "exited", self._exit_sentence()))

    def _exit_sentence(self) -> str:
        code = child_process.exit_code(self.process, 1) if self.process else None
        said = " Its last stderr line: " + self.last_log[-1] if self.last_log else ""
        return f"the program {exit_words(code)} while running as a node.{said}"

    def wait_quiet(self, quiet_s: float, max_s: float) -> bool:
        """Wait until nothing went to or came from the program for `quiet_s` (at most `max_s`); True if it did.

        A step mode delivery's story should include the program's answer, which comes a
        moment after its stdin got the message: another process, on its own time.
        """
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            idle = time.monotonic() - self.last_activity
            if idle >= quiet_s and self._outbox.empty():
                return True
            time.sleep(max(0.005, min(quiet_s - idle, deadline - time.monotonic(), 0.05)))
        return False

    def _handle_line(self, line: bytes) -> None:
        self.last_activity = time.monotonic()
        try:
            envelope = parse_line(line)
        except MalformedLine as error:
            self._malformed(line, error.why)
            return
        if envelope.src != self.node_id:
            self._malformed(line, f'"src" is {envelope.src!r} but this node is {self.node_id!r} '
                                  "(use the node_id that init gave you)")
            return
        body = envelope.body
        if not self._initialized.is_set() and body.get("in_reply_to") == self._init_id:
            if body["type"] == "init_ok":
                self._initialized.set()
            else:
                self._init_error = shown(str(body))
            return
        self.stats.received += 1
        try:
            self.on_message(envelope)
        except Exception:  # a bug on our side must not stop the student's node
            log.exception("handling a message of %s failed", self.node_id)

    def _malformed(self, line: bytes, why: str) -> None:
        self.stats.malformed += 1
        self.on_problem(Problem(self.node_id, "malformed_line", why, shown(line)))

    def _read_stderr(self) -> None:
        stderr = self.process.stderr if self.process else None
        if stderr is None:
            return
        reader = io.BufferedReader(cast(io.RawIOBase, stderr), 64 * 1024)
        try:
            while True:
                line = reader.readline(MAX_LOG_CHARS)
                if not line:
                    return
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                self.last_log.append(shown(text))
                self.stats.log_lines += 1
                self.on_log(self.node_id, text)
        except (OSError, ValueError):
            return
