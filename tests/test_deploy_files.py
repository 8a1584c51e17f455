"""The deploy files for two replicas (docs/high-availability.md) hold together.

Docker and systemd cannot run here; what can be checked is that the files name what exists:
the Dockerfile copies the packages the project installs, the compose file builds it and
runs the same command on both replicas against its own PostgreSQL, and the unit runs `run`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def test_the_dockerfile_copies_every_package_the_project_installs() -> None:
    copied = set(re.findall(r"^COPY (\S+) ", (DEPLOY / "Dockerfile").read_text(), re.M))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied
    assert all((ROOT / name).exists() for name in copied)


def test_compose_runs_two_identical_replicas_on_its_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.ha.yml").read_text())
    services = compose["services"]
    replicas = [s for name, s in services.items() if name != "postgres"]
    assert len(replicas) == 2
    for replica in replicas:
        assert (DEPLOY / replica["build"]["context"] / replica["build"]["dockerfile"]).exists()
        # The password is PGPASSWORD, not in the URL (tests/bot/test_settings_messages.py).
        assert replica["environment"]["ROTATION_DB"].startswith("postgresql://rotation@")
        assert "@postgres:5432/rotation" in replica["environment"]["ROTATION_DB"]
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert replicas[0]["build"] == replicas[1]["build"]
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "rotation"


def test_the_systemd_unit_runs_one_replica_and_restarts_it() -> None:
    unit = (DEPLOY / "rotation-bot@.service").read_text()
    assert "ExecStart=/opt/rotation-bot/.venv/bin/rotation-bot run\n" in unit
    assert "Restart=always" in unit
    assert "EnvironmentFile=/opt/rotation-bot/.env" in unit


def test_every_shipped_unit_and_compose_service_raises_the_open_file_limit() -> None:
    # An idle-connection flood exhausts 1,024 files; the door's caps need room under the limit.
    for unit in DEPLOY.glob("*.service"):
        limits = re.findall(r"^LimitNOFILE=(\d+)$", unit.read_text(), re.M)
        assert limits and int(limits[0]) >= 8192, unit.name
    for compose_file in DEPLOY.glob("docker-compose*.yml"):
        services = yaml.safe_load(compose_file.read_text())["services"]
        bots = [s for name, s in services.items() if name != "postgres"]
        assert bots, compose_file.name
        for bot in bots:
            nofile = bot["ulimits"]["nofile"]
            assert min(nofile["soft"], nofile["hard"]) >= 8192, compose_file.name
