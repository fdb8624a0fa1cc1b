"""Run labs: guided (print, request, explain, pause) or as an automated check.

Guided runs talk to a running server (--url) or to an in-process app; checks
always build a fresh in-process app with the virtual clock, so they are
deterministic and need no server.
"""
from __future__ import annotations

import html
import importlib
import json
import os
import re
import shlex
import sys
import threading
import time
from typing import Callable, List, Optional, TextIO

from api.pretty import pretty_json

from .clients import HttpClient  # noqa: F401 -- `runner.HttpClient` is the CLI's (and tests') name for it
from .steps import Lab, ObservationFailed, Step

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
DISPLAY_URL = "http://127.0.0.1:5000"
MAX_SHOWN_LINES = 60


def discover() -> List[Lab]:
    """Every lab folder (labN_name/check.py defining LAB), sorted by number."""
    labs = []
    for entry in sorted(os.listdir(LAB_DIR)):
        if entry.startswith("lab") and os.path.isfile(os.path.join(LAB_DIR, entry, "check.py")):
            labs.append(importlib.import_module(f"labs.{entry}.check").LAB)
    return sorted(labs, key=lambda lab: lab.number)


def find(number: int) -> Lab:
    """The lab with this number, or a LookupError listing the ones there are."""
    for lab in discover():
        if lab.number == number:
            return lab
    raise LookupError(f"There is no lab {number}; `python -m labs list` shows the labs.")


class InProcessClient:
    """Requests against a fresh in-process app (no server needed), or against `app`."""

    def __init__(self, settings: Optional[dict] = None, app=None):
        from app import create_app
        from config import simulation_config
        self.app = app if app is not None else create_app(simulation_config(**(settings or {})))
        self.url = DISPLAY_URL

    def request(self, method: str, path: str, body=None, headers: Optional[dict] = None):
        """Send one request (from any thread); returns (status code, parsed JSON)."""
        data = json.dumps(body) if body is not None else None
        response = self.app.test_client().open(path, method=method, data=data, headers=headers or {})
        if not response.is_json:  # a page (GET /check/view): the same shape HttpClient gives
            return response.status_code, {"raw": response.get_data(as_text=True)}
        return response.status_code, response.get_json()


def curl(url: str, method: str, path: str, body=None, token: bool = False,
         headers: Optional[dict] = None) -> str:
    """The curl command a student can type for this request (with the admin token header if the server has one)."""
    parts = ["curl"]
    if method != "GET":
        parts += ["-X", method]
    if token:  # the variable, not the secret: the screen may be shared
        parts += ["-H", "'Authorization: Bearer '\"$REPLICALAB_ADMIN_TOKEN\""]
    for name, value in (headers or {}).items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts.append(url + path)
    if body is not None:
        parts += ["-d", shlex.quote(json.dumps(body))]
    return " ".join(p if p.startswith("'") else shlex.quote(p) for p in parts)


def command(client, step: Step, method: str, path: str, body) -> str:
    """The curl command for one request of `step` against this client's server."""
    return curl(client.url, method, path, body, bool(getattr(client, "headers", None)), step.headers)


def waiting_requests(client) -> int:
    """How many requests wait in step mode for their quorum."""
    return client.request("GET", "/network/messages")[1]["waiting_requests"]


def start_background(client, step: Step, ctx: dict, show) -> dict:
    """Send a request that will wait (step mode) on its own thread; return once it waits."""
    method, path, body = step.resolve(ctx, None)
    if show:
        show(f"$ {command(client, step, method, path, body)}    # in a second terminal: it waits")
    before = waiting_requests(client)
    box: list = []
    thread = threading.Thread(target=lambda: box.append(client.request(method, path, body, step.headers)),
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not box and waiting_requests(client) <= before and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for a thread to send its request, not for the cluster
    if show:
        show("(no answer yet: the request waits for its quorum while the network is paused)"
             if not box else render(*box[0]))
    ctx.setdefault("_background", {})[step.save] = (thread, box)
    return {"requests": [[method, path, body]], "background": True}


def join_background(step: Step, ctx: dict, show) -> dict:
    """Wait for a background request's answer."""
    thread, box = ctx["_background"][step.join]
    thread.join(timeout=30)
    if not box:
        raise ObservationFailed(f"the {step.join} request never answered")
    status, answer = box[0]
    if show:
        show(f"(the {step.join} request answers now)\n{render(status, answer)}")
    return {"requests": [], "statuses": [status], "answers": [answer]}


def perform(client, step: Step, ctx: dict, show: Optional[Callable[[str], None]] = None) -> dict:
    """Send the step's request(s); returns what happened: requests, statuses, answers (no checks)."""
    if step.background:
        return start_background(client, step, ctx, show)
    if step.join:
        return join_background(step, ctx, show)
    if step.action:
        ctx["_client"] = client  # an action may ask the server too (lab 11 kills a process, then asks /health)
        answer = step.action(ctx)
        if show:
            show(answer.get("message", ""))
        return {"requests": [], "statuses": [step.status], "answers": [answer]}
    outcome: dict = {"requests": [], "statuses": [], "answers": []}
    for item in step.items(ctx):
        method, path, body = step.resolve(ctx, item)
        if show:
            show(f"$ {command(client, step, method, path, body)}")
        status, answer = client.request(method, path, body, step.headers)
        if show:
            show(render(status, answer, brief=step.each is not None, url=client.url + path))
        outcome["requests"].append([method, path, body])
        outcome["statuses"].append(status)
        outcome["answers"].append(answer)
    return outcome


def verify(step: Step, ctx: dict, outcome: dict) -> None:
    """Check the statuses, save the answer for later steps, check the observation.

    Works on a live outcome and on one read back from a report file (labs/teacher.py).
    """
    if outcome.get("background"):
        return  # its answer is checked by the step that joins it
    for index, status in enumerate(outcome["statuses"]):
        if status != step.status:
            answer = outcome["answers"][index] or {}
            source = (f"{outcome['requests'][index][0]} {outcome['requests'][index][1]}"
                      if outcome["requests"] else f"the {step.join} request")
            message = answer.get("message") if isinstance(answer, dict) else None
            raise ObservationFailed(f"expected HTTP {step.status} from {source}, got {status}: {message}")
    answer = outcome["answers"] if step.each is not None else outcome["answers"][0]
    if step.save or step.join:
        ctx[step.save or step.join] = answer
    if step.check:
        step.check(ctx, answer)


def run_step(client, step: Step, ctx: dict, show: Optional[Callable[[str], None]] = None) -> dict:
    """Send the step's request(s), check the status, save the answer, check the observation."""
    outcome = perform(client, step, ctx, show)
    verify(step, ctx, outcome)
    return outcome


def render(status: int, answer: dict, brief: bool = False, url: str = "") -> str:
    """The answer as the student sees it: status and JSON (long answers trimmed), or a page's summary."""
    if brief:
        return f"  -> {status}: {(answer or {}).get('message', '')}"
    if isinstance(answer, dict) and set(answer) == {"raw"}:
        return f"HTTP {status}\n{page_summary(answer['raw'], url)}"
    lines = pretty_json(answer).splitlines()
    if len(lines) > MAX_SHOWN_LINES:
        lines = lines[:MAX_SHOWN_LINES] + [f"  ... ({len(lines) - MAX_SHOWN_LINES} more lines)"]
    return f"HTTP {status}\n" + "\n".join(lines)


def page_summary(text: str, url: str) -> str:
    """A page answer (GET /check/view) in three lines: what it is, its size, where to open it."""
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    kind = "an HTML page" if title or "<html" in text[:200].lower() else "a non-JSON answer"
    named = f" titled {html.unescape(title.group(1).strip())!r}" if title else ""
    return (f"({kind}{named}, {len(text.encode('utf-8')):,} bytes: not printed here)\n"
            f"Open {url} in a browser to see it." if url else f"({kind}{named}, {len(text):,} characters)")


def lab_client(lab: Lab, real: bool = False):
    """A fresh cluster for the lab's check: in this process, or real processes for a real-mode lab (or `real`)."""
    if lab.mode == "real" or real:
        from labs.real_client import RealModeClient
        return RealModeClient(lab.settings)
    return InProcessClient(lab.settings)


def check(lab: Lab, out: TextIO = sys.stdout, real: bool = False) -> bool:
    """Run every step of `lab` on a fresh cluster (lab_client; `real`: node processes); True if all hold."""
    client = lab_client(lab, real)
    try:
        return _check(lab, client, out)
    finally:
        getattr(client, "close", lambda: None)()


def _check(lab: Lab, client, out: TextIO) -> bool:
    ctx: dict = {}
    for number, step in enumerate(lab.steps, 1):
        try:
            run_step(client, step, ctx)
        except ObservationFailed as failure:
            print(f"lab {lab.number} step {number} FAILED ({step.title}): {failure}", file=out)
            return False
        print(f"lab {lab.number} step {number} ok: {step.title}", file=out)
    print(f"lab {lab.number} ({lab.title}): all {len(lab.steps)} steps show what the README says",
          file=out)
    return True


def flag(name: str, value) -> str:
    """One run.py flag as a student types it: --batch-size 100."""
    return f"--{name.replace('_', '-')} {value}"


def server_command(lab: Lab) -> str:
    """The command that starts a server the way this lab's README says."""
    flags = " ".join(flag(name, value) for name, value in lab.server_settings().items())
    return f"python run.py --fresh{' ' + flags if flags else ''}"


def missing_flags(lab: Lab, config: dict) -> List[str]:
    """The flags a running server (its GET /config) lacks for this lab, e.g. ['--scheduler off']."""
    missing = [] if config.get("fresh") else ["--fresh"]
    return missing + [flag(name, value) for name, value in lab.server_settings().items()
                      if config.get(name) != value]


def server_mismatch(lab: Lab, client, rerun_hint: bool = True) -> Optional[str]:
    """A sentence naming the flags the server at client.url lacks for `lab`, or None if it fits."""
    status, answer = client.request("GET", "/config")
    if status != 200 or "config" not in (answer or {}):
        return f"{client.url} did not answer GET /config like a ReplicaLab server (HTTP {status})."
    missing = missing_flags(lab, answer["config"])
    if not missing:
        return None
    return (f"The server at {client.url} was not started the way lab {lab.number} needs: it lacks "
            f"{' '.join(missing)}. Stop it and start `{server_command(lab)}` (or POST /reset an "
            "otherwise right server)"
            + ("; then run the lab again, or pass --anyway to run it on this server as it is." if rerun_hint
               else "."))


def guided(lab: Lab, client, pause: bool = True, out: TextIO = sys.stdout,
           ask: Callable[[str], str] = input) -> bool:
    """Walk a student through `lab`: explain, show the curl, answer, what to notice."""
    def show(text: str) -> None:
        """Print one block of the guided run."""
        print(text, file=out)

    show(f"=== Lab {lab.number}: {lab.title} ===")
    show(f"(read labs/{lab.folder}/README.md for the background and the questions)\n")
    ctx: dict = {}
    ok = True
    for number, step in enumerate(lab.steps, 1):
        show(f"--- Step {number}/{len(lab.steps)}: {step.title} ---")
        if step.explain:
            show(step.explain)
        outcome: dict = {}
        try:
            outcome = perform(client, step, ctx, show)
            verify(step, ctx, outcome)
            verdict = "(observed as expected)" if step.check else ""
        except ObservationFailed as failure:
            what = str(failure).rstrip(". ")  # the failure may end a sentence of its own
            verdict = f"(!) this run did not show what the lab expects: {what}."
            if 401 in outcome.get("statuses", ()):  # the cause is known: no --fresh to blame
                verdict += (" The server has an admin token: pass it with --token TOKEN (or set "
                            "REPLICALAB_ADMIN_TOKEN) and run the lab again.")
            elif ok:  # the likely cause once, not after every step that follows from it
                verdict += (f" Was the server started with `{server_command(lab)}`, as "
                            f"labs/{lab.folder}/README.md says?")
            ok = False
        if step.notice:
            show(f"Notice: {step.notice_at(client.url)}")
        if verdict:
            show(verdict)
        if pause and number < len(lab.steps):
            ask("Press Enter for the next step...")
        show("")
    show(f"=== End of lab {lab.number}. Now answer the questions in labs/{lab.folder}/README.md ===")
    return ok
