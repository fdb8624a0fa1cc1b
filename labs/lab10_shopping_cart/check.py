"""Lab 10 — the Dynamo shopping cart: siblings instead of last-writer-wins, and the union merge's anomaly."""
from labs.placement import names, replica, stand_in
from labs.steps import Lab, Step, expect


def items(answer) -> list:
    """The carts of a read's live siblings, each sorted, sorted."""
    return sorted(sorted(s["value"]) for s in answer["siblings"] if not s["deleted"])


def union(ctx, name) -> list:
    """The client's merge of the siblings saved under `name`: the set union of every cart."""
    return sorted({item for s in ctx[name]["siblings"] if not s["deleted"] for item in s["value"]})


def add_to_cart(read, extra, minus=(), side=1):
    """A body that writes the cart read in `read` plus `extra` minus `minus`, with that read's context."""
    def body(ctx):
        cart = sorted((set(ctx[read]["value"]) | set(extra)) - set(minus))
        return {"key": "cart", "value": cart, "context": ctx[read]["context"],
                "coordinator": replica(ctx, 0 if side == 0 else 1)}
    return body


def check_first(ctx, answer):
    """The first write supersedes nothing and has the first dot of its coordinator."""
    expect(answer["supersedes"].startswith("nothing"), "a write without context supersedes nothing")
    expect(answer["dot"].endswith(": 1}"), "its dot is its coordinator's first write of cart")


def check_partition(ctx, answer):
    """A and its stand-in on one side."""
    expect(answer["faults"]["partition"][0] == sorted(names(replica(ctx, 0), stand_in(ctx))),
           "one side holds the primary A and the stand-in S; the other side the rest")


def check_side(ctx, answer):
    """Each side's write succeeds and supersedes exactly what its client read."""
    expect(answer["quorum"]["met"], "the write succeeds on its side of the partition (W=2)")
    expect(answer["supersedes"] == "what its context saw: " + ctx["first"]["context_vector"],
           "it supersedes exactly what the client's context saw: the cart it read")


def check_siblings(expected):
    """A read that returns exactly these carts as concurrent siblings."""
    def check(ctx, answer):
        expect(items(answer) == expected, f"the read returns both carts as siblings: {expected}")
        expect(answer["value"] is None and "concurrent" in answer["conflict"],
               "no single value: the answer says why the two are siblings (concurrent)")
        expect("concurrent siblings" in answer["message"], "the message asks the client to merge them")
    return check


def check_one(expected):
    """A read that returns one cart."""
    def check(ctx, answer):
        expect(len(answer["siblings"]) == 1 and sorted(answer["value"]) == expected,
               f"one value again: {expected}")
    return check


def check_merge_write(ctx, answer):
    """The merge supersedes both siblings: its context saw them both."""
    expect(answer["quorum"]["met"], "the merged cart is written")
    expect(answer["supersedes"].startswith("what its context saw"), "it carries the read's context")


def check_held(ctx, answer):
    """Held puts carry the context the client sent plus the write's own dot."""
    puts = [m for m in answer["messages"] if m["kind"] == "put"]
    expect(len(puts) == 2, "two puts wait in flight, to the other two replicas")
    expect(all(m["context_vector"] == ctx["phone"]["context_vector"] for m in puts),
           "each put carries the write's context: what the client read, plus the new dot")
    expect(all(len(m["siblings"]) == 1 for m in puts), "and exactly one new sibling")
    expect(all("tea" in m["siblings"][0]["value"] for m in puts), "whose whole cart, tea included, is shown")


LAB = Lab(10, "The shopping cart: siblings instead of last-writer-wins", "lab10_shopping_cart",
          settings={"conflicts": "siblings"}, server={"scheduler": "off"}, steps=[
    Step("Start a cart", "POST", "/write", body={"key": "cart", "value": ["milk"]}, save="first",
         check=check_first, notice="keep the answer's context: it says which writes this client has seen."),
    Step("Where does cart live?", "GET", "/placement/cart", save="placement",
         notice="call the replicas A, B, C and the first fallback S."),
    Step("Partition: A and S on one side", "POST", "/partition",
         body=lambda ctx: {"groups": [[replica(ctx, 0), stand_in(ctx)]]}, check=check_partition),
    Step("Alice, on A's side, adds eggs", "POST", "/write", body=add_to_cart("first", ["eggs"], side=0),
         check=check_side, notice="she sends back the context of the cart she read."),
    Step("Bob, on the other side, adds bread", "POST", "/write", body=add_to_cart("first", ["bread"]),
         check=check_side, notice="last-writer-wins (lab 4) would keep only one of these two carts."),
    Step("Heal the partition", "POST", "/heal"),
    Step("Read the cart from all replicas", "GET", "/read/cart?r=3", save="both",
         check=check_siblings([["bread", "milk"], ["eggs", "milk"]]),
         notice="neither write had seen the other: both stay, with their dots, for the client to merge."),
    Step("Merge by set union and write it back", "POST", "/write",
         body=lambda ctx: {"key": "cart", "value": union(ctx, "both"), "context": ctx["both"]["context"]},
         check=check_merge_write),
    Step("Read the merged cart", "GET", "/read/cart?r=3", save="merged",
         check=check_one(["bread", "eggs", "milk"]), notice="no item was lost."),
    Step("Partition again", "POST", "/partition",
         body=lambda ctx: {"groups": [[replica(ctx, 0), stand_in(ctx)]]}),
    Step("Alice removes milk", "POST", "/write", body=add_to_cart("merged", [], minus=["milk"], side=0)),
    Step("Bob adds jam", "POST", "/write", body=add_to_cart("merged", ["jam"])),
    Step("Heal again", "POST", "/heal"),
    Step("Read: two siblings again", "GET", "/read/cart?r=3", save="again",
         check=check_siblings([["bread", "eggs"], ["bread", "eggs", "jam", "milk"]])),
    Step("Merge by union: milk is back", "POST", "/write",
         body=lambda ctx: {"key": "cart", "value": union(ctx, "again"), "context": ctx["again"]["context"]},
         check=lambda ctx, a: expect("milk" in a["siblings"][0]["value"],
                                     "the union brings back the milk Alice removed"),
         notice="a union cannot tell 'Alice removed milk' from 'Bob never saw milk removed'."),
    Step("Read the cart before the next write", "GET", "/read/cart", save="before"),
    Step("Pause the network", "POST", "/network/pause"),
    Step("Alice's phone adds tea with its context", "POST", "/write",
         body=lambda ctx: {"key": "cart", "value": sorted(set(ctx["before"]["value"]) | {"tea"}),
                           "context": ctx["before"]["context"], "coordinator": replica(ctx, 0), "w": 1},
         save="phone", notice="W=1: A's own copy answers at once; its puts to B and C wait."),
    Step("What is in flight?", "GET", "/network/messages", check=check_held),
    Step("Resume the network", "POST", "/network/resume"),
    Step("Read the cart", "GET", "/read/cart?r=3",
         check=lambda ctx, a: expect(len(a["siblings"]) == 1 and "tea" in a["value"],
                                     "one cart with tea: the context superseded the merged cart")),
])
