"""Issue 12 item 7: the replicas registry, on both engines, and how status reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import load_settings
from bot.service.health import collect_health, render_lines
from storage import replicas
from storage.db import Store

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def identity(name: str, started: datetime) -> dict[str, object]:
    return {
        "id": f"{name}:1", "host": name, "pid": 1, "version": "0.1.0",
        "engine": "postgresql", "started_at": started.isoformat(),
    }  # fmt: skip


def test_a_replica_is_announced_as_follower_then_leads_then_stops(fresh_db: Store) -> None:
    replicas.announce(fresh_db, identity("a", T0), T0)
    assert [r["role"] for r in replicas.list_replicas(fresh_db)] == ["follower"]

    replicas.set_role(fresh_db, "a:1", "leader", T0 + timedelta(seconds=1))
    replicas.beat(fresh_db, "a:1", T0 + timedelta(seconds=6))
    (row,) = replicas.list_replicas(fresh_db)
    assert (row["role"], row["leader_since"]) == ("leader", "2026-03-02T15:00:01.000+00:00")
    assert row["last_seen"] == "2026-03-02T15:00:06.000+00:00"

    replicas.set_role(fresh_db, "a:1", "stopped", T0 + timedelta(seconds=7))
    (row,) = replicas.list_replicas(fresh_db)
    assert (row["role"], row["leader_since"]) == ("stopped", None)


def test_status_shows_the_leader_the_followers_and_the_gone(fresh_db: Store) -> None:
    now = T0 + timedelta(minutes=5)
    for name, seen in (("a", 60), ("b", 2), ("c", 1)):
        replicas.announce(fresh_db, identity(name, T0), now - timedelta(seconds=seen))
    # a led first, hung (not seen for a minute); b took over later.
    replicas.set_role(fresh_db, "a:1", "leader", T0)
    replicas.beat(fresh_db, "a:1", now - timedelta(seconds=60))
    replicas.set_role(fresh_db, "b:1", "leader", now - timedelta(seconds=2))

    health = collect_health(fresh_db, now, load_settings(None))

    states = {row["id"]: row["state"] for row in health.replicas}
    assert states == {"a:1": "gone", "b:1": "leader", "c:1": "follower"}
    assert health.leader is not None and health.leader["id"] == "b:1"
    assert health.to_dict()["leader"] == "b:1"
    lines = render_lines(health)
    assert "replicas: 3 (leader b:1 since 2026-03-02T15:04:58.000+00:00)" in lines
    assert not any("no replica leads" in problem for problem in health.problems)


def test_two_live_leader_rows_show_one_leader_the_latest(fresh_db: Store) -> None:
    # A leader that woke from a hang says `leader` until it notices; the newer one leads.
    now = T0 + timedelta(minutes=1)
    for name in ("a", "b"):
        replicas.announce(fresh_db, identity(name, T0), now)
    replicas.set_role(fresh_db, "a:1", "leader", now - timedelta(seconds=3))
    replicas.set_role(fresh_db, "b:1", "leader", now)

    health = collect_health(fresh_db, now, load_settings(None))

    assert [r["state"] for r in health.replicas] == ["leader", "follower"]
    assert health.leader is not None and health.leader["id"] == "b:1"


def test_live_replicas_without_a_leader_are_a_problem(fresh_db: Store) -> None:
    replicas.announce(fresh_db, identity("a", T0), T0)

    health = collect_health(fresh_db, T0, load_settings(None))

    assert "no replica leads: nothing evaluates until one takes the lease" in health.problems


def test_the_leader_prunes_replicas_long_gone(fresh_db: Store) -> None:
    replicas.announce(fresh_db, identity("old", T0), T0)
    replicas.announce(fresh_db, identity("new", T0), T0 + timedelta(hours=2))

    assert replicas.prune(fresh_db, T0 + timedelta(hours=1)) == 1
    assert [r["id"] for r in replicas.list_replicas(fresh_db)] == ["new:1"]


def test_a_new_leader_demotes_a_row_its_lost_leader_could_not_correct(fresh_db: Store) -> None:
    # "a" lost the lease while the database was away: its write of "follower" failed.
    for name in ("a", "b"):
        replicas.announce(fresh_db, identity(name, T0), T0)
    replicas.set_role(fresh_db, "a:1", "leader", T0)
    replicas.set_role(fresh_db, "b:1", "leader", T0 + timedelta(seconds=1))
    roles = {r["id"]: (r["role"], r["leader_since"]) for r in replicas.list_replicas(fresh_db)}
    assert roles == {"a:1": ("follower", None), "b:1": ("leader", "2026-03-02T15:00:01.000+00:00")}

    # Its next beat writes its role again; the stuck note shows, then clears.
    replicas.beat(fresh_db, "a:1", T0 + timedelta(seconds=2), "for 40 s: x", "follower")
    replicas.beat(fresh_db, "b:1", T0 + timedelta(seconds=2), None, "leader")
    rows = {r["id"]: r for r in replicas.list_replicas(fresh_db)}
    assert rows["a:1"]["stalled"] == "for 40 s: x" and rows["b:1"]["stalled"] is None
    assert rows["b:1"]["leader_since"] == "2026-03-02T15:00:01.000+00:00"  # kept by a beat


def test_status_tells_a_stuck_leader_from_a_working_one(fresh_db: Store) -> None:
    now = T0 + timedelta(minutes=5)
    for name in ("a", "b"):
        replicas.announce(fresh_db, identity(name, T0), now)
    replicas.set_role(fresh_db, "a:1", "leader", now)
    note = "for 45 s: every job failing: StorageError: gone"
    replicas.beat(fresh_db, "a:1", now, note, "leader")
    health = collect_health(fresh_db, now, load_settings(None))
    assert f"leader a:1 is stuck {note}" in health.problems
    (line,) = [line for line in render_lines(health) if line.strip().startswith("a:1")]
    assert line.endswith(f"stuck {note}")

    replicas.beat(fresh_db, "a:1", now, None, "leader")  # working again
    health = collect_health(fresh_db, now, load_settings(None))
    assert not [p for p in health.problems if "stuck" in p]


def test_registry_instants_default_to_the_database_clock(fresh_db: Store) -> None:
    # A replica whose host runs hours ahead would otherwise look alive long after it died,
    # and as leader prune every other row.
    from storage.stamps import server_now

    replicas.announce(fresh_db, identity("a", T0))
    replicas.announce(fresh_db, identity("b", T0), T0)  # seen long ago
    replicas.beat(fresh_db, "a:1", role="leader")
    (row,) = [r for r in replicas.list_replicas(fresh_db) if r["id"] == "a:1"]
    seen = datetime.fromisoformat(str(row["last_seen"]))
    assert abs(seen - server_now(fresh_db)) < timedelta(seconds=5)
    assert replicas.prune_gone(fresh_db, timedelta(hours=1)) == 1
    assert [r["id"] for r in replicas.list_replicas(fresh_db)] == ["a:1"]
