"""Child processes that can never outlive their parent, stopped and signalled by PID.

Every node process of real mode is started here. Three rules keep a lab
machine free of orphans, also when the parent is killed with `kill -9`:

- the child asks Linux to SIGKILL it when its parent dies (prctl
  PR_SET_PDEATHSIG, set between fork and exec), and checks at once that the
  parent did not die before that request was made;
- the child leads its own process group, so a Ctrl+C typed at the front's
  terminal reaches the front only, and the front stops each child in order;
- children are started from one long-lived thread: Linux sends the death
  signal when the *thread* that forked the child ends, so a child started from
  a short-lived request thread (a restart from /recover) would die with it.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import requests

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
STOP_GRACE_S = 2.0  # SIGTERM first; SIGKILL after this many seconds


class ChildFailed(RuntimeError):
    """A child process exited, or never answered its health URL, while we waited for it."""


@dataclass
class Child:
    """One started process: how it was started (to restart it) and its Popen."""

    name: str
    argv: List[str]
    popen: subprocess.Popen
    env: Optional[Dict[str, str]] = None
    cwd: Optional[str] = None
    log_path: Optional[str] = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The operating system's process id."""
        return self.popen.pid

    def exit_code(self) -> Optional[int]:
        """The exit status (negative: killed by that signal), or None while it runs."""
        return self.popen.poll()


def _die_with_parent_hook() -> Callable[[], None]:
    """The function run in the child between fork and exec (built before forking)."""
    # Resolve libc and prctl in the parent: the child must not load libraries or take locks
    # between fork and exec (another thread of the parent may have held them at fork time).
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        os.setpgid(0, 0)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody would signal us
            os.kill(os.getpid(), signal.SIGKILL)
    return hook


_spawner: Optional[ThreadPoolExecutor] = None
_spawner_lock = threading.Lock()


def _spawn_thread() -> ThreadPoolExecutor:
    """The one long-lived thread that forks every child (see the module docstring)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realmode-spawner")
        return _spawner


def popen_dying_with_us(argv: List[str], **popen_args) -> subprocess.Popen:
    """subprocess.Popen(argv, **popen_args) as a child in its own process group that dies with us.

    Forked by the one spawner thread, with the death signal set between fork and exec;
    `popen_args` must not ask for a new session (the hook makes the child a group leader).
    """
    hook = _die_with_parent_hook()
    return _spawn_thread().submit(lambda: subprocess.Popen(argv, preexec_fn=hook, **popen_args)).result()


def start(argv: List[str], name: str = "", env: Optional[Dict[str, str]] = None,
          cwd: Optional[str] = None, log_path: Optional[str] = None) -> Child:
    """Start `argv` as a child that dies with this process; its output goes to `log_path` (or nowhere)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # the child keeps its own copy
    try:
        popen = popen_dying_with_us(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, close_fds=True)
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]
    return Child(name or os.path.basename(argv[0]), list(argv), popen, env, cwd, log_path)


def is_alive(pid: int) -> bool:
    """True while `pid` is a running or stopped process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def send_signal(target: Union[Child, int], sig: int) -> bool:
    """Send `sig` to a child (or a bare PID); False if it was already gone."""
    if isinstance(target, Child):
        if target.exit_code() is not None:
            return False
        pid = target.pid
    else:
        pid = target
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def pause(target: Union[Child, int], wait_s: float = 2.0) -> bool:
    """SIGSTOP: the process keeps its memory and files but runs and answers nothing.

    A signal is delivered when the kernel next schedules the process, which on a busy
    machine can be after we return; so wait (at most `wait_s`) until /proc says stopped,
    and whoever asked, and whatever they check next, sees a stopped process.
    """
    if not send_signal(target, signal.SIGSTOP):
        return False
    pid = target.pid if isinstance(target, Child) else target
    deadline = time.monotonic() + wait_s
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.002)
    return True


def process_state(pid: Optional[int]) -> Optional[str]:
    """The process state letter from /proc (R, S, T for stopped, Z...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def running(pid: Optional[int]) -> bool:
    """True while the process exists and is not stopped (SIGSTOP or a tracer's stop)."""
    return process_state(pid) not in ("T", "t", None)


def resume(target: Union[Child, int]) -> bool:
    """SIGCONT: a stopped process runs again where it was."""
    return send_signal(target, signal.SIGCONT)


def kill(target: Union[Child, int]) -> bool:
    """SIGKILL, as `kill -9` from a terminal: no goodbye, no flush; the child is reaped."""
    sent = send_signal(target, signal.SIGKILL)
    _reap(target, timeout_s=5.0)
    return sent


def _reap(target: Union[Child, int], timeout_s: float) -> bool:
    """Wait until the process is gone; True if it went within `timeout_s`."""
    if isinstance(target, Child):
        try:
            target.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_s
    while is_alive(target):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def stop(target: Union[Child, int], grace_s: float = STOP_GRACE_S) -> Optional[int]:
    """SIGTERM, then SIGKILL after `grace_s`; returns the exit code of a child (None for a bare PID)."""
    stop_all([target], grace_s)
    return target.exit_code() if isinstance(target, Child) else None


def stop_all(targets: Sequence[Union[Child, int]], grace_s: float = STOP_GRACE_S) -> None:
    """Stop several processes at once: SIGTERM to all, then reap each against one deadline, SIGKILL the rest.

    Stopping one after another costs the sum of their clean exits; at once, the longest.
    """
    asked = [t for t in targets if send_signal(t, signal.SIGTERM)]
    for target in asked:
        send_signal(target, signal.SIGCONT)  # a stopped process cannot act on SIGTERM until it runs again
    deadline = time.monotonic() + grace_s
    for target in asked:
        if not _reap(target, max(0.0, deadline - time.monotonic())):
            send_signal(target, signal.SIGKILL)
            _reap(target, 5.0)


def restart(child: Child, grace_s: float = STOP_GRACE_S) -> Child:
    """Stop the child if it still runs, then start it again with the same command, env and log."""
    stop(child, grace_s)
    return start(child.argv, child.name, child.env, child.cwd, child.log_path)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it; the caller binds it soon after)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, child: Optional[Child] = None, timeout_s: float = 10.0,
                 headers: Optional[Dict[str, str]] = None) -> dict:
    """Poll `url` until it answers 200 with JSON; returns that JSON.

    Raises ChildFailed if `child` exits first or the time runs out, with a
    sentence saying which.
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if child is not None and child.exit_code() is not None:
            raise ChildFailed(f"{child.name} (pid {child.pid}) exited with code {child.exit_code()} "
                              f"before answering {url}" + (f"; see {child.log_path}" if child.log_path else ""))
        try:
            answer = requests.get(url, timeout=0.5, headers=headers)
            if answer.status_code == 200:
                return answer.json()
            last = f"HTTP {answer.status_code}"
        except (requests.RequestException, ValueError) as error:
            last = type(error).__name__
        time.sleep(0.05)
    raise ChildFailed(f"{url} did not answer within {timeout_s:g} s (last: {last})")
