"""A parse cache for the rules file: its validated rules, kept beside the SQLite database.

Parsing a desk's 10,000-rule file (TOML, `parse_rule` per rule) takes 0.6-0.8 s at every
start, for a file that rarely changes. `rules validate` writes the cache when the file it
validates is the one in force (`ROTATION_RULES`) and the database exists, so the first check
after it reads the cache too; validating another file leaves the cache alone. The parsed
rules are kept in `<database>.rules-cache`, keyed on a digest of the rules text, the shipped
defaults, the package version and the source of the code that validates rules, so any edit
of the file or of that code misses. A cache that does not match is rebuilt; one that is
unreadable or corrupt (its payload digest disagrees) is logged once and rebuilt, never
trusted. Only a valid file is cached: an invalid one is parsed every time, so its problems
are reported exactly as without a cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Callable
from functools import cache
from pathlib import Path

from signals.rules import Rule

log = logging.getLogger(__name__)

SUFFIX = ".rules-cache"
_MAGIC = b"rotation-bot rules cache 1\n"
_DIGEST_BYTES = 64  # a sha256 in hex
# The code a cached rule depends on: a change in any of them invalidates every cache.
_MODEL_MODULES = (
    "signals/rules.py",
    "signals/rule_fields.py",
    "signals/names.py",
    "signals/windows.py",
    "bot/rules/files.py",
    "bot/rules/routing.py",
    "bot/rules/toml_layout.py",
    "bot/rules/quick_read.py",
    "bot/rules/parse_cache.py",
    "bot/platforms.py",
)
_ROOT = Path(__file__).resolve().parent.parent.parent
_warned: set[Path] = set()


def cache_path(db_path: Path | str) -> Path | None:
    """Where the cache of a database lives; None for a PostgreSQL URL (no folder to use) or
    a database file that does not exist (nothing is written where no database is)."""
    if not isinstance(db_path, Path) or not db_path.is_file():
        return None
    return db_path.with_name(f"{db_path.name}{SUFFIX}")


def cached_rules(
    where: Path | None, text: str, parse: Callable[[], list[Rule]], *, read: bool = True
) -> list[Rule]:
    """The rules `parse()` gives for `text`, from the cache at `where` when it matches.

    `parse` raises on an invalid file; nothing is then written. `read=False` parses even when
    the cache matches, and writes it (`rules validate`: the first check then reads it).
    """
    if where is None:
        return parse()
    key = cache_key(text)
    kept = read_cache(where, key) if read else None
    if kept is not None:
        return kept
    rules = parse()
    for rule in rules:
        rule.fingerprint()  # computed once here and kept in the cache: every check needs it
    write_cache(where, key, rules)
    return rules


def cache_key(text: str) -> bytes:
    """The hex digest naming what the parsed rules were computed from."""
    from bot.rules.files import default_rules_text

    digest = hashlib.sha256(model_fingerprint().encode())
    for part in (default_rules_text(), text):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part.encode("utf-8", "surrogatepass"))
    return digest.hexdigest().encode()


@cache
def model_fingerprint() -> str:
    """The package version and a digest of the source of the code that parses rules."""
    digest = hashlib.sha256(_package_version().encode())
    for name in _MODEL_MODULES:
        try:
            digest.update((_ROOT / name).read_bytes())
        except OSError:  # an installed copy without sources: the version alone names it
            digest.update(f"missing {name}".encode())
    return digest.hexdigest()


def _package_version() -> str:
    from bot.light_imports import installed_version  # not importlib.metadata: see there

    return installed_version("rotation-bot") or "unknown"


def read_cache(where: Path, key: bytes) -> list[Rule] | None:
    """The cached rules when the file exists, matches `key` and is whole; else None."""
    try:
        data = where.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        _warn_once(where, f"unreadable ({error.strerror or error})")
        return None
    header = len(_MAGIC) + 2 * (_DIGEST_BYTES + 1)
    if not data.startswith(_MAGIC) or len(data) < header:
        _warn_once(where, "not a rules cache or cut short")
        return None
    stored_key, payload_digest = data[len(_MAGIC) : header].split(b"\n")[:2]
    if stored_key != key:
        log.info("rules cache %s is for another rules file or version: rebuilding it", where)
        return None
    return _payload(where, data[header:], payload_digest)


def _payload(where: Path, payload: bytes, expected: bytes) -> list[Rule] | None:
    """The rules in a payload whose digest is `expected`; None (logged) when it is not whole."""
    if hashlib.sha256(payload).hexdigest().encode() != expected:
        _warn_once(where, "corrupt (its digest does not match)")
        return None
    try:
        # Written by this code and checked against its digest above: only a bug gets here.
        rules = pickle.loads(payload)  # noqa: S301
    except Exception as error:  # any unpickling failure means: rebuild
        _warn_once(where, f"unreadable ({type(error).__name__}: {error})")
        return None
    if not isinstance(rules, list) or not all(isinstance(rule, Rule) for rule in rules):
        _warn_once(where, "holds something other than rules")
        return None
    return rules


def write_cache(where: Path, key: bytes, rules: list[Rule]) -> None:
    """Write the cache whole (a reader never sees half of it); a failure is logged, not fatal."""
    payload = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest().encode()
    partial = where.with_name(f"{where.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(_MAGIC + key + b"\n" + digest + b"\n" + payload)
        os.replace(partial, where)
    except OSError as error:
        log.warning("rules cache %s not written: %s", where, error.strerror or error)
        partial.unlink(missing_ok=True)


def _warn_once(where: Path, why: str) -> None:
    if where not in _warned:
        _warned.add(where)
        log.warning("rules cache %s %s: ignoring it and parsing the rules file", where, why)
