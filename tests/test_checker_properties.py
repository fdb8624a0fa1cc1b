"""Property tests of the linearizability checker against generated and brute-forced histories."""
import itertools
import json
import unittest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.reference_wgl import reference_check
from checker import check_history
from checker.formats import parse_history
from checker.history import by_key, pair
from checker.models import MODELS, freeze
from tests.helpers import ROOT  # noqa: F401  (puts the project on sys.path)

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
VALUES = st.integers(0, 2)
KEYS = st.sampled_from(["a", "b"])


@st.composite
def store_ops(draw):
    """(f, key, value) of one store operation."""
    f = draw(st.sampled_from(["read", "write", "cas", "delete"]))
    value = [draw(VALUES), draw(VALUES)] if f == "cas" else draw(VALUES)
    return f, draw(KEYS), None if f in ("read", "delete") else value


@st.composite
def linearizable_histories(draw):
    """A sequential run of the store, each op stretched into an interval around its instant.

    Operation i takes effect at time 10*i; its interval reaches back and forward
    at random, so intervals overlap, but each still contains its own instant.
    Some updates end `info`, and half of those never take effect.
    """
    ops = draw(st.lists(store_ops(), min_size=1, max_size=25))
    state: dict = {}
    planned: list = []
    for i, (f, key, value) in enumerate(ops):
        lost = f != "read" and draw(st.integers(0, 5)) == 0
        applied = not lost or draw(st.booleans())
        kind, out = ("info" if lost else "ok"), value
        if f == "read":
            out = state.get(key)
        elif f == "write" and applied:
            state[key] = value
        elif f == "delete" and applied:
            state.pop(key, None)
        elif f == "cas":
            matched = state.get(key) == value[0]
            if matched and applied:
                state[key] = value[1]
            if not matched and not lost:
                kind = "fail"
        start = 10 * i - draw(st.integers(0, 30))
        end = 10 * i + draw(st.integers(0, 30))
        planned.append((start, end, f, key, value, kind, out))
    free: list[int] = []  # each process's last completion time
    events = []
    for start, end, f, key, value, kind, out in sorted(planned):
        process = next((p for p, t in enumerate(free) if t < start), len(free))
        free[process:process + 1] = [end]
        events.append({"process": process, "type": "invoke", "f": f, "key": key,
                       "value": value, "time": start})
        done = {"process": process, "type": kind, "f": f, "key": key, "value": out, "time": end}
        if kind == "fail":
            done["observed"] = None  # ReplicaLab's 409: the compare happened and lost
        events.append(done)
    events.sort(key=lambda e: (e["time"], e["type"] != "invoke"))
    return events


@st.composite
def random_histories(draw):
    """Tiny histories with random outputs: some linearizable, many not."""
    n = draw(st.integers(1, 6))
    streams: dict = {}
    for _ in range(n):
        f, key, value = draw(store_ops())
        kind = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"]))
        out = draw(st.one_of(st.none(), VALUES)) if f == "read" else value
        process = draw(st.integers(0, 2))
        done = {"process": process, "type": kind, "f": f, "key": key, "value": out}
        if kind == "fail" and draw(st.booleans()):
            done["observed"] = None  # half the fails say the compare happened (ReplicaLab)
        streams.setdefault(process, []).extend([
            {"process": process, "type": "invoke", "f": f, "key": key, "value": value}, done])
    events = []
    while any(streams.values()):
        process = draw(st.sampled_from(sorted(p for p, s in streams.items() if s)))
        events.append(streams[process].pop(0))
    return events


def brute_force(events, model_name="store"):
    """Linearizable by enumeration: some order of all ok ops and any subset of info ops."""
    model = MODELS[model_name]
    for ops in by_key(pair(parse_history(json.dumps(events), "json"))).values():
        sure = [o for o in ops if o.status == "ok"]
        maybe = [o for o in ops if o.status == "info"]
        if not any(_some_order(model, sure + list(extra))
                   for r in range(len(maybe) + 1)
                   for extra in itertools.combinations(maybe, r)):
            return False
    return True


def _some_order(model, ops):
    """Is there a permutation respecting real time that the model accepts?"""
    for order in itertools.permutations(ops):
        if any(b.ret < a.call for i, a in enumerate(order) for b in order[i + 1:]):
            continue  # b finished before a started, yet comes after it
        state, fits = model.init(), True
        for o in order:
            value = freeze(o.value) if o.f != "read" else None
            output = freeze(o.output) if o.f == "read" else o.output
            fits, state = model.step(state, (o.f, value), output)
            if not fits:
                break
        if fits:
            return True
    return False


class PropertyTest(unittest.TestCase):
    """The search agrees with generated truths and with brute force."""

    @SETTINGS
    @given(linearizable_histories())
    def test_histories_of_a_linearizable_store_pass(self, events):
        """A history built around a sequential run of the store is always linearizable."""
        verdict = check_history(events, "store")
        self.assertTrue(verdict.linearizable, verdict.to_dict())

    @SETTINGS
    @given(random_histories())
    def test_search_agrees_with_brute_force(self, events):
        """On tiny random histories the verdict equals exhaustive enumeration's."""
        self.assertEqual(check_history(events, "store").linearizable, brute_force(events),
                         events)

    @SETTINGS
    @given(linearizable_histories(), st.integers(0, 10 ** 6), st.sampled_from([None, 0, 1, 2, 7]))
    def test_search_agrees_with_the_plain_reference_wgl(self, events, pick, wrong):
        """With one read's answer changed, the optimised search and a plain WGL agree key by key."""
        reads = [e for e in events if e["f"] == "read" and e["type"] == "ok"]
        if reads:
            reads[pick % len(reads)]["value"] = wrong
        for ops in by_key(pair(parse_history(json.dumps(events), "json"))).values():
            expected, _ = reference_check(MODELS["store"], ops)
            verdict = check_history([dict(e) for e in events if e["key"] == ops[0].key], "store")
            self.assertEqual(verdict.linearizable, expected, events)

    def test_brute_force_sees_both_verdicts(self):
        """The brute-force oracle itself says yes and no where it should."""
        ok = [{"process": 0, "type": "invoke", "f": "write", "key": "a", "value": 1},
              {"process": 0, "type": "ok", "f": "write", "key": "a", "value": 1},
              {"process": 1, "type": "invoke", "f": "read", "key": "a", "value": None},
              {"process": 1, "type": "ok", "f": "read", "key": "a", "value": 1}]
        self.assertTrue(brute_force(ok))
        ok[-1]["value"] = 2
        self.assertFalse(brute_force(ok))


if __name__ == "__main__":
    unittest.main()
