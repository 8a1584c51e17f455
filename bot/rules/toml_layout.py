"""Where things are written in a TOML rules file, so every problem can say `file:line:`.

`tomllib` gives values without positions. `scan` walks the text once (strings, multi-line
strings, comments, arrays and inline tables understood, so a `confirm = 0` inside a
description is not a key and an inline table's keys get their own lines) and records the
line of each element of `rules` (a `[[rules]]` header or an inline table in `rules = [...]`)
and of each key directly inside it. It also measures nesting, so a file nested deeper than
any rules file needs is refused before the parser recurses into it. It never raises:
whatever it cannot make sense of is left for `tomllib` to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Arrays, inline tables and dotted keys nested deeper than this are refused unread.
MAX_DEPTH = 20
# Runs the scanner may jump over at once (a 10,000-rule file is millions of characters):
# a bare key's characters, and a one-line string's characters up to a quote, `\` or newline.
_BARE_RUN = re.compile(r"[A-Za-z0-9_-]*")
_PLAIN_RUN = {'"': re.compile(r'[^"\\\n]*'), "'": re.compile(r"[^'\n]*")}


@dataclass
class Element:
    """One element of the `rules` array: its line and the line of each key directly in it."""

    line: int
    fields: dict[str, int] = field(default_factory=dict)


@dataclass
class Layout:
    """What `scan` found: the rules elements in order, top-level keys, and excess nesting."""

    rules: list[Element] = field(default_factory=list)
    top_keys: dict[str, int] = field(default_factory=dict)
    # Other top-level tables (`[digest]`, each `[[routes]]`) by name, with their keys' lines.
    tables: dict[str, list[Element]] = field(default_factory=dict)
    too_deep: int | None = None  # the line where nesting first exceeds MAX_DEPTH


def scan(text: str) -> Layout:
    """The layout of a TOML text (best effort on malformed text; never raises)."""
    scanner = _Scanner(text)
    scanner.run()
    return scanner.layout


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.layout = Layout()
        self.stack: list[str] = []  # open "[" and "{" of the value being read
        self.expect_key = True
        self.target: Element | None = None  # the [[rules]] table top-level keys belong to
        self.rules_depth: int | None = None  # stack depth inside `rules = [`
        self.rules_pending = False  # `rules =` read, its value not yet
        self.element_due = False  # the next value inside `rules = [` starts an element
        self.in_root = True  # no table header yet: keys are top-level keys

    def run(self) -> None:
        while self.pos < len(self.text) and self.layout.too_deep is None:
            self._step(self.text[self.pos])

    def _step(self, char: str) -> None:
        if char == "\n":
            self.line += 1
            self.pos += 1
            self.expect_key = self.expect_key or not self.stack
        elif char in " \t\r":
            self.pos += 1
        elif char == "#":
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end
        elif self.expect_key and not self.stack and char == "[":
            self._header()
        elif self.expect_key and char not in "]},":
            self._key()
        else:
            self._value(char)

    # --- keys and headers ---------------------------------------------------------------

    def _key(self) -> None:
        line = self.line
        parts = self._key_parts()
        self.expect_key = False
        if self.text.startswith("=", self.pos):
            self.pos += 1
        if not parts:
            self.pos += 1  # not a key at all: skip a character, the parser will say why
            return
        if len(self.stack) + len(parts) > MAX_DEPTH:
            self.layout.too_deep = line
            return
        self._record_key(parts[0], len(parts), line)

    def _record_key(self, name: str, count: int, line: int) -> None:
        depth = len(self.stack)
        if depth == 0 and self.in_root:
            self.layout.top_keys.setdefault(name, line)
            self.rules_pending = name == "rules" and count == 1
        elif depth == 0 and self.target is not None:
            self.target.fields.setdefault(name, line)
        elif self.rules_depth is not None and depth == self.rules_depth + 1:
            if self.stack[-1] == "{" and self.layout.rules:
                self.layout.rules[-1].fields.setdefault(name, line)

    def _header(self) -> None:
        line = self.line
        double = self.text.startswith("[[", self.pos)
        self.pos += 2 if double else 1
        parts = self._key_parts()
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end  # `]]`, a comment, or junk for tomllib
        if len(parts) > MAX_DEPTH:
            self.layout.too_deep = line
            return
        self.rules_pending, self.in_root = False, False
        if parts:
            self.layout.top_keys.setdefault(parts[0], line)
        self._enter_table(parts, double, line)

    def _enter_table(self, parts: list[str], double: bool, line: int) -> None:
        if parts == ["rules"] and double:
            self.target = Element(line)
            self.layout.rules.append(self.target)
        elif len(parts) > 1 and parts[0] == "rules" and self.target is not None:
            self.target.fields.setdefault(parts[1], line)  # a sub-table is a (bad) field
            self.target = None
        elif len(parts) == 1:
            self.target = Element(line)
            self.layout.tables.setdefault(parts[0], []).append(self.target)
        else:
            self.target = None

    def _key_parts(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blanks()
            part = self._key_part()
            if part is None:
                return parts
            parts.append(part)
            self._skip_blanks()
            if not self.text.startswith(".", self.pos):
                return parts
            self.pos += 1

    def _key_part(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        char = self.text[self.pos]
        if char in "\"'":
            start = self.pos + 1
            self._skip_string()
            return self.text[start : max(start, self.pos - 1)]
        start = self.pos
        self.pos = _BARE_RUN.match(self.text, self.pos).end()  # type: ignore[union-attr]
        return self.text[start : self.pos] if self.pos > start else None

    def _skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    # --- values --------------------------------------------------------------------------

    def _value(self, char: str) -> None:
        self._note_element(char)
        if char in "\"'":
            self._skip_string()
        elif char in "[{":
            self._open(char)
        elif char in "]}":
            self._close()
        elif char == ",":
            self.pos += 1
            self.expect_key = bool(self.stack) and self.stack[-1] == "{"
            self.element_due = self.rules_depth is not None and len(self.stack) == self.rules_depth
        else:
            self.pos += 1
        self.rules_pending = False

    def _note_element(self, char: str) -> None:
        inside = self.rules_depth is not None and len(self.stack) == self.rules_depth
        if inside and self.element_due and char not in ",]":
            self.layout.rules.append(Element(self.line))
            self.element_due = False

    def _open(self, char: str) -> None:
        self.stack.append(char)
        self.pos += 1
        if len(self.stack) > MAX_DEPTH:
            self.layout.too_deep = self.line
        if char == "[" and self.rules_pending and len(self.stack) == 1:
            self.rules_depth, self.element_due = 1, True
        self.rules_pending = False
        self.expect_key = char == "{"

    def _close(self) -> None:
        if self.stack:
            if self.rules_depth is not None and len(self.stack) == self.rules_depth:
                self.rules_depth = None  # the `rules` array is complete
            self.stack.pop()
        self.pos += 1
        self.expect_key = False

    def _skip_string(self) -> None:
        quote = self.text[self.pos]
        triple = self.text.startswith(quote * 3, self.pos)
        self.pos += 3 if triple else 1
        plain = None if triple else _PLAIN_RUN[quote]
        while self.pos < len(self.text):
            if plain is not None:
                self.pos = plain.match(self.text, self.pos).end()  # type: ignore[union-attr]
                if self.pos >= len(self.text):
                    return
            char = self.text[self.pos]
            if char == "\n" and not triple:
                return  # an unterminated string: tomllib reports it; the newline is counted
            escaped = char == "\\" and quote == '"'
            if escaped:
                self.pos += 1  # the escaped character never ends the string
                char = self.text[self.pos] if self.pos < len(self.text) else ""
            if char == "\n":
                self.line += 1
            elif escaped:
                pass
            elif char == quote and (not triple or self.text.startswith(quote * 3, self.pos)):
                self.pos += 3 if triple else 1
                self._skip_extra_quotes(quote, triple)
                return
            self.pos += 1

    def _skip_extra_quotes(self, quote: str, triple: bool) -> None:
        # `""""` closes a multi-line string that ends with a quote: up to two more belong to it.
        for _ in range(2 if triple else 0):
            if self.text.startswith(quote, self.pos):
                self.pos += 1
