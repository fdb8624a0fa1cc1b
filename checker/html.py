"""A picture of a verdict: one self-contained HTML page (no network, no build step).

Per key: one lane per client, each operation a bar from invocation to
completion (an info bar runs to the end: nobody saw it complete), numbered in
the order the search placed it — the whole linearization when the key is
linearizable, the longest linearizable prefix when it is not. The operations
that cannot be placed are red, with the sentence that explains why; hovering
a bar shows the partial linearization that ends with it (Porcupine's view).
Everything the history says is escaped or set as text, never as markup.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import math

from wording import agrees, plural

from .check import KeyReport, Verdict
from .explain import action, describe_op, shorten
from .history import Op, jsonable

__all__ = ["render_html", "MAX_DRAWN", "MAX_KEYS", "MAX_BARS", "CONTENT_SECURITY_POLICY"]

MAX_DRAWN = 1500  # bars per key; past that a window around what matters is drawn
MAX_KEYS = 40     # keys drawn; violations and unknown keys come first
MAX_BARS = 6000   # bars on the whole page (each a few hundred bytes: the page stays a few MB)


def render_html(verdict: Verdict, title: str = "Linearizability check") -> str:
    """The whole page for a verdict."""
    reports = sorted(verdict.reports, key=_importance)
    shown = reports[:MAX_KEYS]
    sections, left = [], MAX_BARS
    for n, report in enumerate(shown):
        sections.append(_section(n, report, max(0, min(MAX_DRAWN, left))))
        left -= min(len(report.ops), MAX_DRAWN)
    if len(reports) > len(shown):
        sections.append(f"<p class=note>{plural(len(reports) - len(shown), 'more key')} not drawn "
                        f"(all linearizable or skipped).</p>")
    data = {str(n): _hover_data(report) for n, report in enumerate(shown)}
    payload = json.dumps(data, default=repr).replace("<", "\\u003c")
    return _PAGE.format(title=html.escape(title), headline=html.escape(_headline(verdict)),
                        summary=html.escape(_summary(verdict)), sections="\n".join(sections),
                        payload=payload, css=_CSS, js=_JS)


def _importance(report: KeyReport) -> tuple:
    """Violations first, then keys left unknown, then the rest, each by key."""
    rank = {"not_linearizable": 0, "unknown": 1}.get(report.result, 2)
    return rank, report.reason == "skipped", repr(report.key)


def _headline(verdict: Verdict) -> str:
    """The verdict in a few words."""
    if verdict.result == "linearizable":
        return "Linearizable"
    if verdict.result == "not_linearizable":
        return "NOT linearizable"
    return "Unknown: a budget ran out before a verdict"


def _summary(verdict: Verdict) -> str:
    """What was checked, with which model and initial state."""
    reasons = ", ".join(f"{k!r}: {r}" for k, r in list(verdict.unknown_reasons.items())[:10])
    return (f"{plural(verdict.keys_checked, 'key')} decided, {plural(verdict.ops_checked, 'operation')}, "
            f"model {verdict.model}, every key starts at "
            f"{shorten(json.dumps(jsonable(verdict.initial), default=repr))}, "
            f"{verdict.elapsed_ms:.0f} ms" + (f"; undecided: {reasons}" if reasons else ""))


def _window(report: KeyReport, most: int) -> list[Op]:
    """The operations to draw: all of them, or `most` around the first unplaceable one."""
    ops = report.ops
    if len(ops) <= most:
        return ops
    focus = len(ops)
    if report.violation is not None:
        focus = next((i for i, op in enumerate(ops)
                      if op is report.violation.unplaceable[0]), len(ops)) + most // 5
    end = min(len(ops), max(most, focus))
    return ops[end - most:end]


def _section(n: int, report: KeyReport, most: int = MAX_DRAWN) -> str:
    """One key: its sentence, its lanes of bars, and the order the search found."""
    drawn = _window(report, most)
    blocking = report.violation.unplaceable[0] if report.violation else None
    position = {id(op): i for i, op in enumerate(report.order)}
    unplaceable = {id(op) for op in (report.violation.unplaceable if report.violation else [])}
    finite = [t for op in drawn for t in (op.call, op.ret) if not math.isinf(t)]
    start, end = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (end - start) or 1.0
    lanes: dict = {}
    for op in drawn:
        lanes.setdefault(op.process, []).append(op)
    rows = []
    for process in sorted(lanes, key=_lane_order):
        bars = []
        for op in lanes[process]:
            left = (op.call - start) / span * 96
            right = 100.0 if math.isinf(op.ret) else (op.ret - start) / span * 96 + 0.4
            classes = ["op", "info" if math.isinf(op.ret) else "done"]
            place = position.get(id(op))
            label = action(op)
            if place is not None:
                classes.append("placed")
                label = f"{place + 1}. {label}"
            if id(op) in unplaceable:
                classes.append("unplaceable")
            tip = describe_op(op)
            if op is blocking and report.violation is not None:
                tip = f"{tip}\n{report.violation.message}."  # once: the sentence is about this bar
            elif id(op) in unplaceable:
                tip = f"{tip}\nNot placed either: no order got past the first operation that cannot be placed."
            bars.append(f'<div class="{" ".join(classes)}" data-key="{n}" '
                        f'data-place="{-1 if place is None else place}" '
                        f'style="left:{left:.3f}%;width:{max(right - left, 0.6):.3f}%" '
                        f'data-describe="{html.escape(tip)}">{html.escape(label)}</div>')
        rows.append(f'<div class=lane><span class=who>{html.escape(shorten(str(process), 40))}</span>'
                    f'<div class=track>{"".join(bars)}</div></div>')
    note = ""
    if len(drawn) < len(report.ops):
        note = (f"<p class=note>{len(drawn)} of {len(report.ops)} operations drawn "
                f"(the window around the point that matters).</p>")
    return (f'<section class="key {report.result}" id="key-{n}">'
            f"<h2>{html.escape(_key_name(report.key))}: "
            f"{html.escape(report.result.replace('_', ' '))}</h2>"
            f"<p class=sentence>{html.escape(_sentence(report))}</p>{note}"
            f'<div class=timeline>{"".join(rows)}</div>{_order_list(report)}</section>')


def _lane_order(process) -> tuple:
    """Numbered clients in numeric order, then named ones by name."""
    numeric = isinstance(process, (int, float)) and not isinstance(process, bool)
    return (0, process, "") if numeric else (1, 0, str(process))


def _key_name(key) -> str:
    """'key "x"', or 'the history' for a history without keys."""
    return "the history" if key is None else f"key {shorten(json.dumps(jsonable(key), default=repr))}"


def _sentence(report: KeyReport) -> str:
    """Why this key got its verdict, in one sentence."""
    if report.violation is not None:
        return report.violation.message + "."
    if report.result == "linearizable":
        left_out = len(report.ops) - len(report.order)
        extra = (f"; {plural(left_out, 'operation')} whose outcome is unknown (info) "
                 f"{agrees(left_out, 'is', 'are')} left out: they may never have happened") if left_out else ""
        return (f"Linearizable: the {len(report.order)} numbered operations, in this order, "
                f"explain every answer{extra}.")
    if report.reason == "skipped":
        return "Not checked: the check stopped at the first violation (another key)."
    return (f"Unknown: the {report.reason} budget ran out before the search decided this key "
            f"(a verdict is never guessed).")


def _order_list(report: KeyReport) -> str:
    """The linearization (or longest linearizable prefix) as a numbered list."""
    if not report.order and report.violation is None:
        return ""
    heading = ("Longest linearizable prefix, in order" if report.violation is not None
               else "Linearization, in order")
    shown = report.order[-200:]
    first = len(report.order) - len(shown) + 1
    items = "".join(f"<li>{html.escape(describe_op(op))}</li>" for op in shown)
    blocked = ""
    if report.violation is not None:
        blocked = ("<p class=blocked>Cannot be placed next:</p><ul class=unplaceable-list>"
                   + "".join(f"<li>{html.escape(describe_op(op))}</li>"
                             for op in report.violation.unplaceable) + "</ul>")
    return (f"<details open><summary>{heading} ({len(report.order)} ops)</summary>"
            f'<ol class=linearization start="{first}">{items}</ol>{blocked}</details>')


def _hover_data(report: KeyReport) -> dict:
    """What the hover panel needs: the order's labels and, on a violation, its sentence."""
    return {"order": [f"process {shorten(str(op.process), 40)}: {action(op)}" for op in report.order],
                    "violation": report.violation.message if report.violation else None}


_CSS = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{margin:.2em 0}.summary{color:#555}
.key{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:1em 0}
.key.not_linearizable{border-color:#c33}.key.unknown{border-color:#c90}
.lane{display:flex;align-items:center;height:26px}
.who{width:7em;flex:none;font:12px monospace;overflow:hidden;text-overflow:ellipsis}
.track{position:relative;flex:1;height:22px;background:#fafafa;border-bottom:1px dotted #ddd}
.op{position:absolute;top:2px;height:18px;box-sizing:border-box;font:11px monospace;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding:1px 3px;border-radius:3px;cursor:default;
 background:#dde6f0;border:1px solid #9ab}
.op.placed{background:#cfe8cf;border-color:#6a6}
.op.info{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#f8f8f8 4px,#f8f8f8 8px);
 border-style:dashed}
.op.info.placed{background:repeating-linear-gradient(45deg,#cfe8cf,#cfe8cf 4px,#e8f4e8 4px,#e8f4e8 8px)}
.op.unplaceable{background:#f6c6c6;border:2px solid #c00;color:#900;font-weight:bold;z-index:2}
.op:hover{outline:2px solid #333;z-index:3}
.sentence{font-weight:500}.key.not_linearizable .sentence{color:#900}
.note{color:#777;font-style:italic}
.unplaceable-list li{color:#900}
#tip{position:fixed;display:none;max-width:40em;background:#fff;border:1px solid #333;
 box-shadow:2px 2px 6px #0003;padding:.5em .8em;font:12px monospace;z-index:10;white-space:pre-wrap}
"""

_JS = """
const data = JSON.parse(document.getElementById('verdict-data').textContent);
const tip = document.getElementById('tip');
function partial(key, place, bar) {
  const d = data[key]; const lines = [];
  if (place >= 0) {
    const upto = d.order.slice(0, place + 1); const from = Math.max(0, upto.length - 30);
    if (from > 0) lines.push('... ' + from + ' earlier operations');
    upto.slice(from).forEach((t, i) => lines.push((from + i + 1) + '. ' + t));
    lines.unshift('Partial linearization ending with this operation:');
  } else if (bar.classList.contains('unplaceable')) {
    lines.push('Cannot be placed after the longest linearizable prefix (' + d.order.length +
               ' operations), which ends:');
    d.order.slice(-10).forEach(t => lines.push('  ' + t));
  } else if (bar.classList.contains('info')) {
    lines.push('Left out: its outcome is unknown (info), so it may never have happened.');
  } else {
    lines.push('Not placed: the search stopped before reaching it.');
  }
  return lines.join('\\n');
}
document.querySelectorAll('.op').forEach(bar => {
  bar.addEventListener('mouseenter', ev => {
    tip.textContent = bar.dataset.describe + '\\n\\n' + partial(bar.dataset.key, +bar.dataset.place, bar);
    tip.style.display = 'block';
    tip.style.left = Math.min(ev.clientX + 12, innerWidth - 420) + 'px';
    tip.style.top = (ev.clientY + 16) + 'px';
  });
  bar.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
});
"""

_PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta name=viewport content="width=device-width, initial-scale=1">
<style>{css}</style></head>
<body>
<h1 id=headline>{headline}</h1>
<p class=summary>{summary}</p>
<p class=note>Meaning (Jepsen's): ok happened; fail did not happen and is left out; info may
or may not have happened. A fail cas that carries "observed" (ReplicaLab's 409) compared and
saw another value: it happened and did not apply.</p>
<p class=note>One lane per client; each bar runs from invocation to completion (a striped bar
never completed: info). Green bars are numbered in the order the search placed them; red
bars cannot be placed. Hover a bar for the partial linearization that ends with it.</p>
{sections}
<div id=tip></div>
<script type="application/json" id=verdict-data>{payload}</script>
<script>{js}</script>
</body></html>
"""

# For a server that sends the page: only this page's own script runs (the history's text
# is escaped anyway); inline style attributes place the bars; it may sit in a same-site frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    + "'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
      "frame-ancestors 'self'")
