"""Keep out of a start what it never uses: asyncio in pydantic-settings, rich's Markdown and
Traceback in typer's help, importlib.metadata for one version number.

- pydantic-settings imports asyncio at its top (about a sixth of a `status` start) only to
  run its own command-line apps, which the bot never does.
- typer's help module imports rich's Markdown (markdown-it) and Traceback (pygments) at its
  top, for the markdown markup mode and for pretty tracebacks: the bot uses neither
  (`pretty_exceptions_enable=False`, rich markup), yet every `--help` paid for them.

While such a module runs, a stand-in takes the unused module's place; the module keeps what
it took from it, and the stand-in imports the real thing the first time anything is asked of
it (an attribute, a call). Everything else imports the real modules: the stand-ins leave
`sys.modules` as soon as the module has run.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any


class _ModuleOnFirstUse(ModuleType):
    """A module whose first attribute asked imports the real one (the stand-in steps aside)."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


class _ClassOnFirstUse(type):
    """A class that is the real one (imported then) for every call and attribute."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real_class(cls)(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(_real_class(cls), name)


def _real_class(cls: type) -> Any:
    return getattr(importlib.import_module(cls.__module__), cls.__name__)


class _NamesOnFirstUse(ModuleType):
    """A module whose names (`from rich.markdown import Markdown`) are classes on first use."""

    def __getattr__(self, name: str) -> Any:
        return _ClassOnFirstUse(name, (), {"__module__": self.__name__})


# module -> the modules it imports but does not need at once, and the stand-in for each
_STAND_INS: dict[str, dict[str, Callable[[str], ModuleType]]] = {
    "pydantic_settings.main": {"asyncio": _ModuleOnFirstUse},
    "typer.rich_utils": {"rich.markdown": _NamesOnFirstUse, "rich.traceback": _NamesOnFirstUse},
}


class _WithStandIns:  # a loader (no importlib.abc base: importing it costs time)
    def __init__(self, inner: Any, stand_ins: dict[str, Callable[[str], ModuleType]]) -> None:
        self.inner = inner
        self.stand_ins = stand_ins

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        placed = {}
        for name, stand_in in self.stand_ins.items():
            if name not in sys.modules:
                placed[name] = sys.modules[name] = stand_in(name)
        try:
            self.inner.exec_module(module)
        finally:
            for name, stand_in in placed.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]


class _Finder:  # a meta path finder acting on the modules of _STAND_INS only
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in _STAND_INS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithStandIns(spec.loader, _STAND_INS[name])  # type: ignore[assignment]
        return spec


def install() -> None:
    """Act on the next import of each module of _STAND_INS (nothing for one already imported)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def installed_version(distribution: str) -> str | None:
    """`importlib.metadata.version(distribution)` (None where it raises PackageNotFoundError),
    without importing importlib.metadata (its
    email and zipfile imports cost a `status` start about as much as reading the database).

    Reads the `Version:` line of the distribution's `.dist-info/METADATA` in the first folder
    of sys.path that has one, as importlib.metadata does; anything less plain (several
    candidates in that folder, an egg, a zip on the path, no such line) asks it instead.
    """
    wanted = distribution.replace("-", "_").replace(".", "_").lower()
    for entry in sys.path:
        found = _metadata_candidates(entry or ".", wanted)
        if found is None:
            break  # a zip or something else importlib.metadata reads and we do not
        if found:
            version = _plain_version(found)
            if version is not None:
                return version
            break
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _metadata_candidates(folder: str, wanted: str) -> list[str] | None:
    """The `.dist-info`/`.egg-info` entries of `folder` named for `wanted`; None: not a folder."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    except OSError:
        return None
    return [
        os.path.join(folder, name)
        for name in names
        if name.endswith((".dist-info", ".egg-info"))
        and name.partition("-")[0].replace(".", "_").lower() == wanted
    ]


def _plain_version(found: list[str]) -> str | None:
    if len(found) != 1 or not found[0].endswith(".dist-info"):
        return None
    try:
        with open(os.path.join(found[0], "METADATA"), encoding="utf-8") as metadata_file:
            for line in metadata_file:
                if line.startswith("Version:"):
                    return line.removeprefix("Version:").strip()
                if not line.strip():
                    return None  # the headers ended without one
    except OSError:
        return None
    return None
