"""FredSource against a local fake of FRED's CSV download (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date

import pytest

from bot.config import load_settings
from bot.sources.base import SourceError
from bot.sources.fred import FredSource
from signals.models import SeriesPoint
from tests.fakes.fred import Failure, FakeFred, serve_fred

DGS10 = [
    ("2024-01-02", "3.95"),
    ("2024-01-03", "3.91"),
    ("2024-01-15", "."),  # holiday, old-style missing marker
    ("2024-01-16", ""),  # new-style missing marker
    ("2024-01-17", "4.10"),
]


@pytest.fixture
def fred() -> Iterator[FakeFred]:
    with serve_fred(
        FakeFred(series={"DGS10": DGS10, "DFEDTARU": [("2024-01-02", "5.50")]})
    ) as fake:
        yield fake


class Sleeps(list[float]):
    """A sleep function that records delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(fake: FakeFred, sleeps: Sleeps | None = None, **kwargs: object) -> FredSource:
    options: dict[str, object] = {"retries": 3, "timeout": 2.0, "base_delay": 1.0}
    options |= kwargs
    return FredSource(
        fake.url, sleep=Sleeps() if sleeps is None else sleeps, jitter=lambda: 0.5, **options
    )  # type: ignore[arg-type]


def test_downloads_series_and_skips_missing_observations(fred: FakeFred) -> None:
    points = make_source(fred).fetch_one("DGS10")
    assert points == [
        SeriesPoint("DGS10", date(2024, 1, 2), 3.95, "fred"),
        SeriesPoint("DGS10", date(2024, 1, 3), 3.91, "fred"),
        SeriesPoint("DGS10", date(2024, 1, 17), 4.10, "fred"),
    ]
    assert fred.requests == [{"id": "DGS10"}]


def test_accepts_the_older_date_header(fred: FakeFred) -> None:
    fred.header = "DATE"
    assert [p.value for p in make_source(fred).fetch_one("DGS10")] == [3.95, 3.91, 4.10]


def test_start_date_is_sent_as_cosd_and_respected(fred: FakeFred) -> None:
    points = make_source(fred).fetch_one("dgs10", date(2024, 1, 3))
    assert fred.requests == [{"id": "DGS10", "cosd": "2024-01-03"}]
    assert [(p.series_id, p.date) for p in points] == [
        ("DGS10", date(2024, 1, 3)),
        ("DGS10", date(2024, 1, 17)),
    ]


def test_fetch_series_returns_every_id(fred: FakeFred) -> None:
    points = make_source(fred).fetch_series(["DFEDTARU", "DGS10"], None)
    assert {p.series_id for p in points} == {"DFEDTARU", "DGS10"}
    assert len(points) == 4


def test_unknown_id_is_one_clear_line_without_retrying(fred: FakeFred) -> None:
    sleeps = Sleeps()
    with pytest.raises(SourceError) as caught:
        make_source(fred, sleeps).fetch_one("NOSUCHID")
    message = str(caught.value)
    assert "NOSUCHID" in message and "404" in message and "\n" not in message
    assert sleeps == [] and len(fred.requests) == 1


def test_html_page_with_status_200_is_reported(fred: FakeFred) -> None:
    fred.html_ok.add("DGS10")
    with pytest.raises(SourceError, match="HTML page instead of CSV for 'DGS10'"):
        make_source(fred).fetch_one("DGS10")


def test_5xx_is_retried_with_growing_jittered_backoff(fred: FakeFred) -> None:
    fred.fail_next("DGS10", Failure(503), Failure(502))
    sleeps = Sleeps()
    points = make_source(fred, sleeps).fetch_one("DGS10")
    assert len(points) == 3
    assert len(fred.requests) == 3
    # base 1s doubling, equal jitter at 0.5: 0.75 of each ceiling
    assert sleeps == [0.75, 1.5]


def test_429_obeys_retry_after(fred: FakeFred) -> None:
    fred.fail_next("DGS10", Failure(429, retry_after="3", body=b"Too Many Requests"))
    sleeps = Sleeps()
    assert len(make_source(fred, sleeps).fetch_one("DGS10")) == 3
    assert sleeps == [3.0]


def test_retry_after_is_capped(fred: FakeFred) -> None:
    fred.fail_next("DGS10", Failure(429, retry_after="86400"))
    sleeps = Sleeps()
    make_source(fred, sleeps).fetch_one("DGS10")
    assert sleeps == [60.0]


def test_gives_up_after_retries_with_one_line(fred: FakeFred) -> None:
    fred.fail_next("DGS10", *[Failure(500)] * 5)
    sleeps = Sleeps()
    with pytest.raises(SourceError) as caught:
        make_source(fred, sleeps, retries=2).fetch_one("DGS10")
    assert str(caught.value) == (
        "FRED download of DGS10 failed after 3 attempts: HTTP 500 Internal Server Error"
    )
    assert len(sleeps) == 2 and len(fred.requests) == 3


def test_timeout_is_retried(fred: FakeFred) -> None:
    fred.fail_next("DGS10", Failure(200, delay=0.6))
    sleeps = Sleeps()
    points = make_source(fred, sleeps, timeout=0.2).fetch_one("DGS10")
    assert len(points) == 3
    assert len(sleeps) == 1


def test_truncated_answer_is_retried(fred: FakeFred) -> None:
    cut = Failure(200, body=b"observation_date,DGS10\n2024-01-02,3.9", truncate=True)
    fred.fail_next("DGS10", cut)
    sleeps = Sleeps()
    assert len(make_source(fred, sleeps).fetch_one("DGS10")) == 3
    assert len(sleeps) == 1


def test_unreachable_host_is_retried_like_yahoo() -> None:
    # Issue 24: it failed at once, though the docs said "retried like Yahoo".
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    source = FredSource(f"http://127.0.0.1:{port}/graph/fredgraph.csv", sleep=sleeps)
    with pytest.raises(
        SourceError, match=rf"after 5 attempts: cannot reach FRED at 127.0.0.1:{port}"
    ):
        source.fetch_one("DGS10")
    assert len(sleeps) == 4  # ROTATION_FETCH_RETRIES' default, with backoff


def test_malformed_csv_names_series_and_line(fred: FakeFred) -> None:
    fred.series["DGS10"] = [("2024-01-02", "3.95"), ("2024-01-03", "n/a!")]
    with pytest.raises(SourceError, match=r"FRED DGS10, line 3: unparsable value 'n/a!'"):
        make_source(fred).fetch_one("DGS10")


def test_from_settings_uses_the_configured_url_and_limits(fred: FakeFred) -> None:
    settings = load_settings(None, fred_url=fred.url, fetch_retries=1, fetch_timeout=5.0)
    source = FredSource.from_settings(settings, sleep=Sleeps())
    assert (source.url, source.retries, source.timeout) == (fred.url, 1, 5.0)
    assert len(source.fetch_one("DFEDTARU")) == 1
