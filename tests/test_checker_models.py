"""The checker's meanings and models: :ok/:fail/:info per kind, initial states, mutex, set, fifo-queue."""
import itertools
import json
import unittest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import MODELS, check_history, check_text
from checker.formats import parse_history
from checker.history import by_key, pair
from tests.helpers import ROOT  # noqa: F401  (puts the project on sys.path)

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def run(*ops, key="k"):
    """Events of operations run one after another: (process, f, value-or-output, type)."""
    events = []
    for process, f, value, kind in ops:
        returns = f in ("read", "get", "dequeue")
        events.append({"process": process, "type": "invoke", "f": f, "key": key,
                       "value": None if returns else value})
        events.append({"process": process, "type": kind, "f": f, "key": key, "value": value})
    return events


def verdict(events, model, **kw):
    """The checker's linearizable flag (True, False or None)."""
    return check_history(events, model, **kw).linearizable


class MeaningTableTest(unittest.TestCase):
    """Each rule of the docs/api.md table: what ok, fail and info mean per operation kind."""

    def test_fail_never_happened_whatever_its_kind(self):
        """A :fail write, cas, add, enqueue, acquire or dequeue had no effect and is removed."""
        cases = [("register", [(0, "write", 1, "ok"), (1, "write", 2, "fail"), (2, "read", 1, "ok")]),
                 ("register", [(0, "write", 1, "ok"), (1, "cas", [1, 2], "fail"), (2, "read", 1, "ok")]),
                 ("set", [(0, "add", 1, "ok"), (1, "add", 2, "fail"), (2, "read", [1], "ok")]),
                 ("fifo-queue", [(0, "enqueue", 1, "fail"), (1, "dequeue", None, "ok")]),
                 ("fifo-queue", [(0, "enqueue", 1, "ok"), (1, "dequeue", 1, "fail"),
                                 (2, "dequeue", 1, "ok")]),
                 ("mutex", [(0, "acquire", None, "ok"), (1, "acquire", None, "fail"),
                            (0, "release", None, "ok")])]
        for model, ops in cases:
            events = run(*ops)  # type: ignore[misc]  # ops is a list of op tuples, mypy widens it to object
            self.assertTrue(verdict(events, model), (model, ops))
            happened = [dict(e, type="ok") if e["type"] == "fail" else e for e in events]
            self.assertFalse(verdict(happened, model), ("had it happened", model, ops))

    def test_failed_read_says_nothing(self):
        """A :fail read of a value nobody wrote is removed, so it is no violation."""
        self.assertTrue(verdict(run((0, "write", 1, "ok"), (1, "read", 7, "fail")), "register"))
        self.assertFalse(verdict(run((0, "write", 1, "ok"), (1, "read", 7, "ok")), "register"))

    def test_info_read_is_dropped(self):
        """An :info read constrains nothing: a value nobody wrote is fine."""
        self.assertTrue(verdict(run((0, "write", 1, "ok"), (1, "read", 7, "info")), "register"))

    def test_info_update_may_or_may_not_have_happened(self):
        """An :info write, cas, add, enqueue or dequeue may have taken effect, or not."""
        pairs = [("register", (1, "write", 2, "info"), (2, "read", 2, "ok"), (2, "read", 1, "ok")),
                 ("register", (1, "cas", [1, 2], "info"), (2, "read", 2, "ok"), (2, "read", 1, "ok")),
                 ("set", (1, "add", 2, "info"), (2, "read", [1, 2], "ok"), (2, "read", [1], "ok")),
                 ("fifo-queue", (1, "enqueue", 2, "info"), (2, "dequeue", 1, "ok"),
                  (2, "dequeue", 1, "ok"))]
        first = {"register": (0, "write", 1, "ok"), "set": (0, "add", 1, "ok"),
                 "fifo-queue": (0, "enqueue", 1, "ok")}
        for model, unknown, saw_it, did_not in pairs:
            self.assertTrue(verdict(run(first[model], unknown, saw_it), model), (model, "took effect"))
            self.assertTrue(verdict(run(first[model], unknown, did_not), model), (model, "never did"))

    def test_info_dequeue_may_have_taken_the_head(self):
        """An :info dequeue may have removed the head, so the next dequeue may see the second element."""
        events = run((0, "enqueue", 1, "ok"), (0, "enqueue", 2, "ok"), (1, "dequeue", None, "info"),
                     (2, "dequeue", 2, "ok"))
        self.assertTrue(verdict(events, "fifo-queue"))
        events[5]["type"] = "fail"  # a dequeue that certainly did not happen
        self.assertFalse(verdict(events, "fifo-queue"))

    def test_replicalab_409_cas_keeps_its_meaning(self):
        """A fail cas carrying `observed` (our 409) compared and lost: impossible right after writing 1."""
        events = run((0, "write", 1, "ok"), (1, "cas", [1, 2], "fail"))
        self.assertTrue(verdict(events, "store"))
        events[-1]["observed"] = {"value": 1}
        self.assertFalse(verdict(events, "store"))


class InitialStateTest(unittest.TestCase):
    """Every model states its initial state, and a history or the command line can change it."""

    def test_kv_starts_at_empty_string_as_porcupine(self):
        """A 6.5840-style get of a key nobody wrote returns "": linearizable under kv; null is not."""
        events = run((0, "get", "", "ok"), (1, "append", "x", "ok"), (0, "get", "x", "ok"))
        self.assertTrue(verdict(events, "kv"))
        self.assertFalse(verdict(events, "kv", initial=None))
        self.assertEqual(check_history(events, "kv").to_dict()["initial"], "")

    def test_register_starts_at_nil_or_a_chosen_value(self):
        """Knossos's cas-register starts at nil, or at the value the test chooses (--initial)."""
        events = run((0, "cas", [0, 1], "ok"), (1, "read", 1, "ok"))
        self.assertFalse(verdict(events, "register"))
        self.assertTrue(verdict(events, "register", initial=0))

    def test_edn_with_initial_value_from_the_command_line(self):
        """A Jepsen EDN history whose register starts at 0 checks with --initial 0 only."""
        edn = ("{:process 0, :type :invoke, :f :read, :value nil}\n"
               "{:process 0, :type :ok, :f :read, :value 0}\n"
               "{:process 1, :type :invoke, :f :cas, :value [0 5]}\n"
               "{:process 1, :type :fail, :f :cas, :value [0 5]}\n")
        self.assertFalse(check_text(edn).linearizable)
        self.assertTrue(check_text(edn, initial=0).linearizable)

    def test_json_document_carries_model_and_initial(self):
        """{"history": [...], "model": ..., "initial": ...} sets both; the caller still overrides."""
        doc = json.dumps({"history": run((0, "dequeue", 5, "ok")), "model": "fifo-queue",
                          "initial": [5, 6]})
        result = check_text(doc)
        self.assertEqual((result.linearizable, result.model), (True, "fifo-queue"))
        self.assertFalse(check_text(doc, initial=[]).linearizable)

    def test_impossible_initial_state_is_refused(self):
        """An initial state the model cannot hold is a ValueError that says what it expects."""
        for model, bad in (("set", 5), ("fifo-queue", "x"), ("mutex", 3)):
            with self.assertRaises(ValueError, msg=model) as caught:
                check_history(run((0, "read", [], "ok")), model, initial=bad)
            self.assertIn("initial state", str(caught.exception))

    def test_history_operations_choose_the_default_model(self):
        """EDN with append/get is checked as kv, with acquire/release as mutex, without --model."""
        kv = "\n".join(["{:process 0, :type :invoke, :f :get, :key \"a\", :value nil}",
                        "{:process 0, :type :ok, :f :get, :key \"a\", :value \"\"}"])
        self.assertEqual(check_text(kv).model, "kv")
        self.assertTrue(check_text(kv).linearizable)  # Porcupine: an unwritten key reads ""
        lock = "\n".join(["{:process 0, :type :invoke, :f :acquire, :value nil}",
                          "{:process 0, :type :ok, :f :acquire, :value nil}"])
        self.assertEqual(check_text(lock).model, "mutex")


class ModelVerdictTest(unittest.TestCase):
    """Valid and invalid histories of the mutex, set and fifo-queue models."""

    def test_mutex_cannot_be_held_twice(self):
        """Two overlapping acquires cannot both succeed without a release between them."""
        both = [{"process": p, "type": t, "f": "acquire", "key": None, "value": None}
                for p, t in ((0, "invoke"), (1, "invoke"), (0, "ok"), (1, "ok"))]
        self.assertFalse(verdict(both, "mutex"))
        handed = run((0, "acquire", None, "ok"), (0, "release", None, "ok"),
                     (1, "acquire", None, "ok"))
        self.assertTrue(verdict(handed, "mutex"))
        self.assertFalse(verdict(run((0, "release", None, "ok")), "mutex"))

    def test_set_read_sees_every_completed_add(self):
        """A read after two completed adds that misses one is a violation; EDN sets compare as sets."""
        self.assertFalse(verdict(run((0, "add", 1, "ok"), (1, "add", 2, "ok"), (2, "read", [1], "ok")), "set"))
        self.assertTrue(verdict(run((0, "add", 1, "ok"), (1, "add", 2, "ok"), (2, "read", [2, 1], "ok")), "set"))
        edn = ("{:process 0 :type :invoke :f :add :value 1}\n{:process 0 :type :ok :f :add :value 1}\n"
               "{:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value #{1}}\n")
        self.assertTrue(check_text(edn, "set").linearizable)

    def test_queue_is_first_in_first_out(self):
        """Dequeues return elements in enqueue order; an empty queue dequeues null."""
        self.assertTrue(verdict(run((0, "enqueue", 1, "ok"), (0, "enqueue", 2, "ok"),
                                    (1, "dequeue", 1, "ok"), (1, "dequeue", 2, "ok"),
                                    (1, "dequeue", None, "ok")), "fifo-queue"))
        bad = run((0, "enqueue", 1, "ok"), (0, "enqueue", 2, "ok"), (1, "dequeue", 2, "ok"))
        result = check_history(bad, "fifo-queue")
        self.assertFalse(result.linearizable)
        self.assertIn("dequeue -> 2", result.violations[0].message)


SPECS = {  # model -> (operation kinds, a value for an update)
    "mutex": ["acquire", "release"],
    "set": ["add", "read"],
    "fifo-queue": ["enqueue", "dequeue"],
}


def apply(model, state, f, value):
    """A plain, independent implementation of each model: (allowed?, output, new state)."""
    if model == "mutex":
        return (not state, None, True) if f == "acquire" else (state, None, False)
    if model == "set":
        return (True, None, state | {value}) if f == "add" else (True, sorted(state), state)
    if f == "enqueue":
        return True, None, state + (value,)
    return True, (state[0] if state else None), state[1:]


INITIAL = {"mutex": False, "set": frozenset(), "fifo-queue": ()}


@st.composite
def model_histories(draw, model):
    """A sequential run of `model` stretched into overlapping intervals; some updates end info."""
    state, planned = INITIAL[model], []
    for i in range(draw(st.integers(1, 14))):
        f = draw(st.sampled_from(SPECS[model]))
        value = draw(st.integers(0, 2)) if f in ("add", "enqueue") else None
        allowed, out, new = apply(model, state, f, value)
        if not allowed:
            continue
        lost = f != "read" and draw(st.integers(0, 5)) == 0
        if not lost or draw(st.booleans()):
            state = new
        kind = "info" if lost else "ok"
        shown = out if f in ("read", "dequeue") else value
        planned.append((10 * i - draw(st.integers(0, 25)), 10 * i + draw(st.integers(0, 25)),
                        f, value, kind, shown))
    free: list = []
    events: list = []
    for start, end, f, value, kind, shown in sorted(planned):
        process = next((p for p, t in enumerate(free) if t < start), len(free))
        free[process:process + 1] = [end]
        events.append({"process": process, "type": "invoke", "f": f, "key": None,
                       "value": value, "time": start})
        events.append({"process": process, "type": kind, "f": f, "key": None,
                       "value": shown, "time": end})
    events.sort(key=lambda e: (e["time"], e["type"] != "invoke"))
    return events


@st.composite
def tiny_histories(draw, model):
    """Up to 5 operations with random outputs and completions: some linearizable, many not."""
    streams: dict = {}
    for _ in range(draw(st.integers(1, 5))):
        f = draw(st.sampled_from(SPECS[model]))
        value = draw(st.integers(0, 1)) if f in ("add", "enqueue") else None
        if f == "read":
            out = draw(st.lists(st.integers(0, 1), max_size=2, unique=True))
        elif f == "dequeue":
            out = draw(st.one_of(st.none(), st.integers(0, 1)))
        else:
            out = value
        kind = draw(st.sampled_from(["ok", "ok", "info", "fail"]))
        process = draw(st.integers(0, 2))
        streams.setdefault(process, []).extend([
            {"process": process, "type": "invoke", "f": f, "key": None, "value": value},
            {"process": process, "type": kind, "f": f, "key": None, "value": out}])
    events = []
    while any(streams.values()):
        process = draw(st.sampled_from(sorted(p for p, s in streams.items() if s)))
        events.append(streams[process].pop(0))
    return events


def brute_force(events, name):
    """Linearizable by enumeration: some real-time-respecting order of all ok ops and some info ops."""
    model = MODELS[name]
    for ops in by_key(pair(parse_history(json.dumps(events), "json"))).values():
        sure = [o for o in ops if o.status == "ok"]
        maybe = [o for o in ops if o.status == "info"]
        if not any(_fits(model, sure + list(extra)) for r in range(len(maybe) + 1)
                   for extra in itertools.combinations(maybe, r)):
            return False
    return True


def _fits(model, ops):
    """Does some permutation respecting real time pass the model's step?"""
    for order in itertools.permutations(ops):
        if any(b.ret < a.call for i, a in enumerate(order) for b in order[i + 1:]):
            continue
        state, fits = model.init(), True
        for o in order:
            fits, state = model.step(state, *model.prepare(o))
            if not fits:
                break
        if fits:
            return True
    return False


def each_model(histories):
    """(model name, history) pairs over the three new models."""
    return st.sampled_from(sorted(SPECS)).flatmap(lambda n: histories(n).map(lambda e: (n, e)))


class ModelPropertyTest(unittest.TestCase):
    """Generated histories of each new model against a sequential run and against brute force."""

    @SETTINGS
    @given(each_model(model_histories))
    def test_runs_of_each_model_are_linearizable(self, case):
        """A history stretched around a sequential run of mutex, set or fifo-queue always passes."""
        name, events = case
        self.assertTrue(verdict(events, name), case)

    def test_search_agrees_with_brute_force(self):
        """On tiny random mutex, set and fifo-queue histories the verdict equals enumeration's."""
        seen: dict = {name: set() for name in SPECS}

        @SETTINGS
        @given(each_model(tiny_histories))
        def agree(case):
            name, events = case
            expected = brute_force(events, name)
            seen[name].add(expected)
            self.assertEqual(verdict(events, name), expected, case)
        agree()
        self.assertEqual(seen, {name: {True, False} for name in SPECS},
                         "the generator yields both verdicts for every model")


if __name__ == "__main__":
    unittest.main()
