"""A small EDN reader: the subset Jepsen histories use.

Maps, vectors, lists, sets, keywords, symbols, strings with escapes, characters,
integers (with an optional N), floats (with an optional M), ratios, nil,
true/false, comments, `#_` discards and tagged literals (`#inst "..."`,
`#jepsen.history.Op{...}`: the tag is dropped and the value kept).
Vectors and lists become Python lists, sets frozensets, maps dicts.
"""
from __future__ import annotations

import math
import re

__all__ = ["EDNError", "Keyword", "Symbol", "MAX_DIGITS", "loads", "read_form", "skip_space"]

MAX_DIGITS = 100  # a longer number is not a time, process or value worth the cost of reading


class EDNError(ValueError):
    """Text that is not valid EDN; `pos` is the character offset of the problem."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"{message} (at character {pos + 1})")
        self.pos = pos


class Keyword(str):
    """An EDN keyword; it equals the plain string of its name, so :write == "write"."""

    def __repr__(self) -> str:
        return ":" + str(self)


class Symbol(str):
    """An EDN symbol other than nil/true/false."""

    def __repr__(self) -> str:
        return str(self)


_WHITESPACE = " \t\r\n,"
_DELIMITERS = _WHITESPACE + "()[]{}\";"
_NUMBER = re.compile(r"[+-]?\d+(?:(/\d+)|(\.\d*)?([eE][+-]?\d+)?)([NM]?)$")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r",
            "b": "\b", "f": "\f", "/": "/"}
_CHAR_NAMES = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r",
               "backspace": "\b", "formfeed": "\f"}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def loads(text: str):
    """Parse exactly one EDN form from `text`; anything but whitespace after it is an error."""
    value, end = read_form(text, 0)
    end = skip_space(text, end)
    if end < len(text):
        raise EDNError("unexpected text after the form", end)
    return value


def read_form(text: str, pos: int = 0):
    """Read one form starting at `pos`; return (value, position after it)."""
    return _Reader(text).form(pos)


def skip_space(text: str, pos: int) -> int:
    """Position of the next character that is not whitespace, a comma or a comment."""
    n = len(text)
    while pos < n:
        c = text[pos]
        if c in _WHITESPACE or c == "\ufeff":
            pos += 1
        elif c == ";":
            while pos < n and text[pos] != "\n":
                pos += 1
        else:
            break
    return pos


def _hashable(value):
    """Map keys and set members must hash; vectors used as keys become tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((_hashable(k), _hashable(v)) for k, v in value.items()), key=repr))
    return value


class _Reader:
    """Recursive-descent reader over one string."""

    def __init__(self, text: str):
        self.text = text

    def form(self, pos: int):
        """Read the form at `pos` (after whitespace)."""
        text = self.text
        pos = skip_space(text, pos)
        if pos >= len(text):
            raise EDNError("unexpected end of input", pos)
        c = text[pos]
        if c in "([{":
            items, end = self.sequence(pos + 1, _CLOSERS[c])
            if c == "{":
                return self.mapping(items, pos), end
            return items, end
        if c in ")]}":
            raise EDNError(f"unexpected '{c}'", pos)
        if c == '"':
            return self.string(pos + 1)
        if c == "#":
            return self.dispatch(pos)
        if c == "\\":
            return self.character(pos)
        end = pos
        while end < len(text) and text[end] not in _DELIMITERS:
            end += 1
        return self.atom(text[pos:end], pos), end

    def sequence(self, pos: int, closer: str):
        """Read forms up to `closer`; return (list, position after the closer)."""
        items: list = []
        start = pos - 1
        while True:
            pos = skip_space(self.text, pos)
            if pos >= len(self.text):
                raise EDNError(f"missing '{closer}'", start)
            if self.text[pos] == closer:
                return items, pos + 1
            value, pos = self.form(pos)
            items.append(value)

    @staticmethod
    def mapping(items: list, pos: int) -> dict:
        """Pair up a map's forms; keyword keys become plain strings."""
        if len(items) % 2:
            raise EDNError("a map needs an even number of forms", pos)
        result = {}
        for k, v in zip(items[0::2], items[1::2]):
            key = str(k) if isinstance(k, Keyword) else _hashable(k)
            result[key] = v
        return result

    def string(self, pos: int):
        """Read a string body after its opening quote."""
        text, out, start = self.text, [], pos - 1
        while True:
            end = pos
            while end < len(text) and text[end] not in '"\\':
                end += 1
            out.append(text[pos:end])
            if end >= len(text):
                raise EDNError("unterminated string", start)
            if text[end] == '"':
                return _whole_characters("".join(out), start), end + 1
            esc = text[end + 1:end + 2]
            if esc == "u":
                digits = text[end + 2:end + 6]
                if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                    raise EDNError("bad \\u escape", end)
                out.append(chr(int(digits, 16)))
                pos = end + 6
            elif esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                pos = end + 2
            else:
                raise EDNError(f"bad escape '\\{esc}'", end)

    def dispatch(self, pos: int):
        """`#{...}` sets, `#_` discards and `#tag form` tagged literals."""
        text = self.text
        nxt = text[pos + 1:pos + 2]
        if nxt == "{":
            items, end = self.sequence(pos + 2, "}")
            try:
                return frozenset(_hashable(i) for i in items), end
            except TypeError:
                raise EDNError("a set member cannot be hashed", pos) from None
        if nxt == "_":
            _, end = self.form(pos + 2)
            return self.form(end)
        end = pos + 1
        while end < len(text) and text[end] not in _DELIMITERS:
            end += 1
        if end == pos + 1:
            raise EDNError("'#' must start a set, a discard or a tag", pos)
        # A tagged literal carries its data in the next form; the tag only names a type.
        return self.form(end)

    def character(self, pos: int):
        """`\\c`, `\\newline`, `\\uXXXX` as a one-character string."""
        text = self.text
        end = pos + 2
        while end < len(text) and text[end] not in _DELIMITERS:
            end += 1
        name = text[pos + 1:end]
        if not name:
            raise EDNError("empty character literal", pos)
        if len(name) == 1:
            return name, end
        if name in _CHAR_NAMES:
            return _CHAR_NAMES[name], end
        if re.fullmatch(r"u[0-9a-fA-F]{4}", name):
            return _whole_characters(chr(int(name[1:], 16)), pos), end
        raise EDNError(f"unknown character literal '\\{name}'", pos)

    @staticmethod
    def atom(token: str, pos: int):
        """nil, true, false, numbers, keywords and symbols."""
        if token == "nil":
            return None
        if token == "true":
            return True
        if token == "false":
            return False
        if token.startswith(":"):
            if len(token) == 1:
                raise EDNError("empty keyword", pos)
            return Keyword(token[1:])
        match = _NUMBER.match(token)
        if match:
            ratio, frac, exp, _suffix = match.groups()
            body = token.rstrip("NM")
            if len(body) > MAX_DIGITS:
                raise EDNError(f"a number of {len(body)} characters is too long (at most "
                               f"{MAX_DIGITS})", pos)
            if ratio:
                num, den = body.split("/")
                if int(den) == 0:
                    raise EDNError(f"the ratio {token} divides by zero", pos)
                return int(num) / int(den)
            number = float(body) if (frac or exp) else int(body)
            if isinstance(number, float) and not math.isfinite(number):
                raise EDNError(f"the number {token} is too large to be a finite number", pos)
            return number
        if token[0].isdigit() or (token[0] in "+-" and token[1:2].isdigit()):
            raise EDNError(f"bad number '{token}'", pos)
        return Symbol(token)


def _whole_characters(text: str, pos: int) -> str:
    """Join `\\uD83D\\uDE00`-style surrogate pairs into one character, as JSON readers do, and
    refuse a lone half: no UTF-8 answer (or checker report) could carry it."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        half = next(c for i, c in enumerate(text) if "\ud800" <= c <= "\udfff" and not _paired(text, i))
        raise EDNError(f"a string holds a lone surrogate (\\u{ord(half):04x}), half of a UTF-16 pair: "
                       "send the whole character", pos) from None


def _paired(text: str, i: int) -> bool:
    """Whether the surrogate at `i` is one half of a high-low pair."""
    if text[i] <= "\udbff":
        return i + 1 < len(text) and "\udc00" <= text[i + 1] <= "\udfff"
    return i > 0 and "\ud800" <= text[i - 1] <= "\udbff"
