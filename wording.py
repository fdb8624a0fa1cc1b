"""Counting words for answers, stories and reports: "1 key", "2 keys", "1 delivery", "3 deliveries".

One helper, used wherever a sentence counts something, so no answer says
"1 acks" or "delivery(ies)". It imports nothing, so every package (the
standalone checker too) may use it.
"""
from __future__ import annotations

from typing import Optional

_VOWELS = "aeiou"


def plural_of(noun: str) -> str:
    """The regular English plural: key -> keys, delivery -> deliveries, match -> matches."""
    if noun.endswith("y") and noun[-2:-1] not in _VOWELS:
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def plural(count: int, noun: str, many: Optional[str] = None) -> str:
    """`count` and the noun, singular for exactly 1: plural(1, "ack") == "1 ack", plural(2, "ack") == "2 acks"."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or plural_of(noun)}"


def agrees(count: int, one: str, many: str) -> str:
    """The verb form for `count` subjects: agrees(1, "differs", "differ") == "differs"."""
    return one if count == 1 else many
