"""Where the database is: a SQLite file path or a PostgreSQL URL (never one taken for the other).

Kept free of heavy imports so that `bot.config` can tell the two apart while reading settings.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

URL_SCHEMES = ("postgresql://", "postgres://")
_ANY_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_database_url(target: object) -> bool:
    """True when `target` names a PostgreSQL server (a URL), never a file path."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def looks_like_other_url(target: object) -> bool:
    """True for a URL of another scheme (`mysql://`, `sqlite:///`): neither a path nor ours."""
    return isinstance(target, str) and bool(_ANY_URL.match(target)) and not is_database_url(target)


def url_password(url: str) -> str | None:
    """The password in a database URL, if it has one (a secret: logs never show it)."""
    return urlsplit(url).password


def hide_password(url: str) -> str:
    """`url` with its password replaced by `***`, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
