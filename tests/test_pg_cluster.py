"""The PostgreSQL test cluster: a clear reason without the server, a failure under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import postgres_unavailable
from tests.pg_cluster import ClusterUnavailable, find_bin_dir


def test_without_the_server_binaries_the_reason_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterUnavailable, match="initdb, pg_ctl"):
        find_bin_dir(tmp_path)


def test_the_newest_installed_server_is_used(tmp_path: Path) -> None:
    for major in ("9", "15", "13"):
        (tmp_path / major / "bin").mkdir(parents=True)
        (tmp_path / major / "bin" / "initdb").touch()
    assert find_bin_dir(tmp_path) == tmp_path / "15" / "bin"


def test_a_missing_server_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="initdb failed"):
        postgres_unavailable("initdb failed")


def test_under_ci_a_missing_server_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="initdb failed"):
        postgres_unavailable("initdb failed")
