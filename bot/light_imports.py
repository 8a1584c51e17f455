"""Keep asyncio out of the starts that never use it (`status`, `outbox`, `rules list`).

pydantic-settings imports asyncio at its top (about a sixth of a `status` start) only to run
its own command-line apps, which the bot never does. While `pydantic_settings.main` runs, a
stand-in takes asyncio's place; the module keeps it, and the stand-in imports the real
asyncio the first time anything is asked of it. Everything else imports the real asyncio
(the chat service, discord.py, slack-bolt): the stand-in leaves `sys.modules` at once.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_TARGET = "pydantic_settings.main"


class _AsyncioOnFirstUse(ModuleType):
    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("asyncio") is self:
            del sys.modules["asyncio"]
        return getattr(importlib.import_module("asyncio"), name)


class _WithoutAsyncio:  # a loader (no importlib.abc base: importing it costs time)
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        stand_in = None
        if "asyncio" not in sys.modules:
            stand_in = sys.modules["asyncio"] = _AsyncioOnFirstUse("asyncio")
        try:
            self.inner.exec_module(module)
        finally:
            if stand_in is not None and sys.modules.get("asyncio") is stand_in:
                del sys.modules["asyncio"]


class _Finder:  # a meta path finder acting on one module only
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutAsyncio(spec.loader)  # type: ignore[arg-type]
        return spec


def install() -> None:
    """Act on the next import of pydantic-settings (nothing if it is already imported)."""
    if _TARGET not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
