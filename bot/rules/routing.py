"""Where alerts go: a rule's own `destinations`, else the rules file's `[[routes]]`, else defaults.

A destination is `<platform>:<channel id>` (`discord:123456789012345678`, `slack:C0123456789`),
checked against the platform registry (`bot.platforms`). Routes work like Alertmanager's routing
tree flattened to a list: evaluated in file order, a route matches a rule that has all its
`tags` (and, when it lists `ids`, whose id is one of them); the first match wins unless it says
`continue = true`, then later matches add their destinations too. A rule nothing routes goes
to the configured default channels. The daily digest has its own `[digest] destinations`.

`destination_problems` is the one check of a destinations list, shared by rules files and
rules made in chat: it takes the strings as written and returns one message per problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.platforms import all_platforms, platform_of
from bot.rules.toml_layout import Element
from signals.rules import Rule

if TYPE_CHECKING:
    from bot.config import Settings

Route = Callable[[str], tuple[str, ...]]  # rule id -> destinations, from `router`
ROUTING_TABLES = ("routes", "digest")  # top-level tables of a rules file besides `rules`
ROUTE_KEYS = ("continue", "destinations", "ids", "tags")
DIGEST_KEYS = ("destinations",)


@dataclass(frozen=True)
class RouteTable:
    """One `[[routes]]` table: who it matches and where their alerts go."""

    destinations: tuple[str, ...]
    tags: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    keep_going: bool = False  # `continue = true`
    where: str = ""  # `path:line`, for messages and `rules show`

    def matches(self, rule: Rule) -> bool:
        """True when the rule has every tag of the route and, if it lists ids, one of them."""
        if self.ids and rule.id not in self.ids:
            return False
        return set(self.tags) <= set(rule.tags)


@dataclass(frozen=True)
class Routing:
    """The routes of a rules file and the digest's destinations (empty: the defaults)."""

    routes: tuple[RouteTable, ...] = ()
    digest: tuple[str, ...] = ()

    def destinations_of(self, rule: Rule, defaults: Sequence[str]) -> tuple[str, ...]:
        """Where the rule's alerts go: its own destinations, its routes', or the defaults."""
        return self.explain(rule, defaults)[0]

    def explain(self, rule: Rule, defaults: Sequence[str]) -> tuple[tuple[str, ...], str]:
        """The rule's destinations and why (`rule`, `route path:line`, `default`)."""
        if rule.destinations:
            return rule.destinations, "rule"
        found: list[str] = []
        why: list[str] = []
        for route in self.routes:
            if route.matches(rule):
                found += route.destinations
                why.append(f"route {route.where}")
                if not route.keep_going:
                    break
        if found:
            return tuple(dict.fromkeys(found)), ", ".join(why)
        return tuple(defaults), "default"

    def digest_destinations(self, defaults: Sequence[str]) -> tuple[str, ...]:
        """Where the daily digest goes."""
        return self.digest or tuple(defaults)

    def named(self, rules: Iterable[Rule]) -> list[str]:
        """Every destination the routes, the digest and the rules name, once, in order."""
        names = [d for route in self.routes for d in route.destinations]
        names += [*self.digest, *(d for rule in rules for d in rule.destinations)]
        return list(dict.fromkeys(names))


def router(routing: Routing, rules: Iterable[Rule], defaults: Sequence[str]) -> Route:
    """Rule id -> its alerts' destinations (the defaults for a rule no longer in force)."""
    by_id = {rule.id: rule for rule in rules}

    def route(rule_id: str) -> tuple[str, ...]:
        rule = by_id.get(rule_id)
        return tuple(defaults) if rule is None else routing.destinations_of(rule, defaults)

    return route


def destination_problems(values: Iterable[str]) -> list[str]:
    """One message per destination that is not `<platform>:<channel id>` (empty if all are)."""
    return [problem for value in values if (problem := _destination_problem(value))]


def _destination_problem(value: str) -> str | None:
    names = ", ".join(f"{p.name}:<channel id>" for p in all_platforms())
    platform = platform_of(value)
    if platform is None:
        prefix = value.partition(":")[0] if ":" in value else value
        return f"{value!r}: unknown platform {prefix[:40]!r}; write {names}"
    channel = value.removeprefix(f"{platform.name}:")
    if channel.startswith("dm:"):
        return f"{value!r}: a route names channels; DMs come from /subscribe"
    if not platform.is_route_channel(channel):
        return f"{value!r}: not a {platform.title} channel id; use {platform.route_channel_hint}"
    return None


def unroutable(settings: Settings, destinations: Iterable[str]) -> list[str]:
    """A line per destination whose platform the settings cannot post to by channel id."""
    problems = []
    for destination in dict.fromkeys(destinations):
        platform = platform_of(destination)
        if platform is not None and not platform.can_route(settings):
            problems.append(
                f"{destination}: {platform.title} is not configured to post to channels by id; "
                f"set {platform.route_setting}"
            )
    return problems


def unmatched_routes(routing: Routing, rules: Sequence[Rule]) -> list[str]:
    """Warnings for routes no rule in force matches (a typo in a tag or an id, most likely)."""
    return [
        f"{route.where}: warning: this route matches no rule"
        for route in routing.routes
        if not any(route.matches(rule) for rule in rules)
    ]


# Reading `[[routes]]` and `[digest]` from a parsed rules file


def parse_routing(
    data: Mapping[str, Any], tables: Mapping[str, list[Element]], source: str
) -> tuple[Routing, list[str]]:
    """The routing of a parsed rules file and its problems, each as `source:line: message`."""
    problems: list[str] = []
    routes = _routes(data.get("routes", []), tables.get("routes", []), source, problems)
    digest = _digest(data.get("digest", {}), tables.get("digest", []), source, problems)
    return Routing(tuple(routes), digest), problems


def _routes(
    raw: Any, elements: list[Element], source: str, problems: list[str]
) -> list[RouteTable]:
    if not isinstance(raw, list):
        problems.append(f"{source}:{_line(elements, 0)}: 'routes' must be [[routes]] tables")
        return []
    routes = []
    for index, table in enumerate(raw):
        element = elements[index] if index < len(elements) else Element(1)
        found = _table_problems(table, ROUTE_KEYS, element, f"routes[{index}]", source)
        found = found or _route_value_problems(table, element, index, source)
        if not found:
            routes.append(_route(table, f"{source}:{element.line}"))
        problems += found
    return routes


def _route(table: Mapping[str, Any], where: str) -> RouteTable:
    return RouteTable(
        destinations=tuple(dict.fromkeys(_strings(table.get("destinations")) or ())),
        tags=tuple(_strings(table.get("tags")) or ()),
        ids=tuple(_strings(table.get("ids")) or ()),
        keep_going=table.get("continue") is True,
        where=where,
    )


def _route_value_problems(
    table: Mapping[str, Any], element: Element, index: int, source: str
) -> list[str]:
    label = f"routes[{index}]"
    problems = [
        f"{source}:{element.fields.get(key, element.line)}: {label}: {key}: "
        "must be a list of strings"
        for key in ("tags", "ids")
        if key in table and _strings(table[key]) is None
    ]
    if "continue" in table and not isinstance(table["continue"], bool):
        line = element.fields.get("continue", element.line)
        problems.append(f"{source}:{line}: {label}: continue: must be true or false")
    problems += _destinations_at(table.get("destinations"), element, label, source)
    return problems


def _digest(raw: Any, elements: list[Element], source: str, problems: list[str]) -> tuple[str, ...]:
    element = elements[0] if elements else Element(1)
    if not isinstance(raw, dict):
        problems.append(f"{source}:{element.line}: 'digest' must be a table: [digest]")
        return ()
    found = _table_problems(raw, DIGEST_KEYS, element, "digest", source)
    found += _destinations_at(raw.get("destinations", []), element, "digest", source)
    problems += found
    return () if found else tuple(dict.fromkeys(raw.get("destinations", [])))


def _table_problems(
    table: Any, allowed: Sequence[str], element: Element, label: str, source: str
) -> list[str]:
    if not isinstance(table, dict):
        return [f"{source}:{element.line}: {label} must be a table of key = value lines"]
    return [
        f"{source}:{element.fields.get(key, element.line)}: {label}: {key}: unknown key; "
        f"allowed: {', '.join(allowed)}"
        for key in table
        if key not in allowed
    ]


def _destinations_at(raw: Any, element: Element, label: str, source: str) -> list[str]:
    line = element.fields.get("destinations", element.line)
    values = _strings(raw)
    if values is None:
        return [f"{source}:{line}: {label}: destinations: must be a list of strings"]
    if not values and label != "digest":
        return [f"{source}:{line}: {label}: destinations: required, at least one channel"]
    return [f"{source}:{line}: {label}: destinations: {p}" for p in destination_problems(values)]


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value]
    return None


def _line(elements: list[Element], index: int) -> int:
    return elements[index].line if index < len(elements) else 1
