"""The database behind the `Store` handle (see DEVELOPERS.md).

sqlite-utils imports pandas and numpy whenever they are installed, only to map their scalar
types to column types when it infers a table's schema from Python values, which the storage
modules never ask it to do (every table is created by a migration's DDL). Importing pandas
costs most of a CLI start, so `sqlite_utils.db` runs with both hidden: the commands that only
read the database (`status`, `outbox`, `rules list`) start without them. The hook acts only
when sqlite-utils is first imported after this package, and only on that one module.

sqlite-utils' package imports its whole `Database` (click, pluggy, dateutil: about as much
as typer) even for `from sqlite_utils.migrations import Migrations`, which every storage
module needs at import and which imports nothing else. So the package's names (`Database`,
`Migrations`, `hookimpl`, ...) are looked up on first use instead: a command that only reads
(storage/sqlite_reading.py) never imports `sqlite_utils.db`.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_HIDDEN = ("pandas", "numpy")


class _WithoutPandas:  # a loader (no importlib.abc base: importing it slows `--help`)
    """Runs one module with pandas and numpy unimportable, then puts them back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        saved = {name: sys.modules.get(name) for name in _HIDDEN}
        for name in _HIDDEN:
            sys.modules[name] = None  # type: ignore[assignment]  # `import` raises ImportError
        try:
            self.inner.exec_module(module)
        finally:
            for name, kept in saved.items():
                if kept is None:
                    del sys.modules[name]
                else:
                    sys.modules[name] = kept


# sqlite_utils/__init__.py: each name and the submodule that defines it.
_PACKAGE_NAMES = {
    "Database": "db",
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    "Migrations": "migrations",
    "ANY": "utils",
    "suggest_column_types": "utils",
}


class _NamesOnFirstUse:  # a loader for the package: its names are imported when first asked
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__all__ = sorted(_PACKAGE_NAMES)  # type: ignore[attr-defined]
        module.__getattr__ = _package_name  # type: ignore[attr-defined]


def _package_name(name: str) -> Any:
    if name not in _PACKAGE_NAMES:
        raise AttributeError(f"module 'sqlite_utils' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sqlite_utils.{_PACKAGE_NAMES[name]}"), name)


_LOADERS = {"sqlite_utils.db": _WithoutPandas, "sqlite_utils": _NamesOnFirstUse}


class _SqliteUtilsFinder:  # a meta path finder
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        loader = _LOADERS.get(name)
        if loader is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = loader(spec.loader)  # type: ignore[assignment]
        return spec


if "sqlite_utils" not in sys.modules:
    sys.meta_path.insert(0, _SqliteUtilsFinder())
