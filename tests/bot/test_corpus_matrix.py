"""Issue 19's table in the suite: the worst rows on both paths and in both modes.

`tests/bot/corpus_matrix.py` runs a corpus variant through the CSV files or the Yahoo and FRED
stand-ins (the real yfinance), in hindsight (`backtest`) or live (`check` each evening around
the damage), and counts against the clean run of the same path and mode. The history starts
in mid-2022 to keep this module quick; `bench/bad_data_matrix.py` runs every variant, every
path and mode, on the whole history.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.corpus_kit import ALL_VARIANTS
from tests.bot.corpus_matrix import Corpus, Tally, compare, stand_ins

SINCE = "2022-06-01"
BOTH = [(path, mode) for path in ("file", "stand-in") for mode in ("hindsight", "live")]
# (variant, path, mode): every path and mode for the worst row, the stand-ins live (where a
# desk meets them) and the files in hindsight for the others; the rest run in the bench (the
# Fed rows through the FRED stand-in: tests/bot/test_identity_shapes.py; the re-base refetch:
# tests/bot/test_screen_every_path.py).
CASES = [
    *[("index x10 for two sessions", *pm) for pm in BOTH],
    ("index and ETF x1.25 the same day", "file", "hindsight"),
    ("index and ETF x1.25 the same day", "stand-in", "live"),
    ("IWB's prices in IWM's file from a date on", "file", "hindsight"),
    ("IWB's prices in IWM's file from a date on", "stand-in", "live"),
    ("partial bar stored on the eve of a record", "stand-in", "live"),
    ("Fed upper bound below the lower over a weekend", "file", "hindsight"),
    ("bill yield 50 bps low for three sessions", "file", "hindsight"),
    ("bill yield 50 bps low for three sessions", "stand-in", "hindsight"),
    ("S&P 500 and SPY x1.15 the same day", "file", "hindsight"),
    ("IWM dated a session early from a date on", "file", "hindsight"),
    ("IWM dated a session early from a date on", "stand-in", "hindsight"),
]


def _ids(cases: list) -> list[str]:
    return [" / ".join(c.values if hasattr(c, "values") else c) for c in cases]


# What cannot be told from a real move (docs/data-quality.md, "What a desk can rely on").
EXPECTED: dict[tuple[str, str, str], tuple[int, int, list[int]]] = {
    # IWM's real prices never arrive: its own records and its spread to IWB are lost (31 of
    # the 91 real events since mid-2022), and nothing false fires on IWB's prices.
    ("IWB's prices in IWM's file from a date on", "file", "hindsight"): (0, 31, []),
    # IWM's bars from the shift on are held (dated a session early: signals/session_shift.py),
    # so its own records and its spread to IWB are lost the same way; nothing false fires.
    ("IWM dated a session early from a date on", "file", "hindsight"): (0, 31, []),
    ("IWM dated a session early from a date on", "stand-in", "hindsight"): (0, 31, []),
}


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    with stand_ins() as fakes:
        yield Corpus(
            shared_data, tmp_path_factory.mktemp("matrix"), fakes, since=SINCE, evenings=(3, 4)
        )


@pytest.mark.parametrize(("name", "path", "mode"), CASES, ids=_ids(CASES))
def test_a_variant_alerts_nothing_false_and_misses_nothing(
    name: str, path: str, mode: str, corpus: Corpus, tmp_path: Path
) -> None:
    (variant,) = [v for v in ALL_VARIANTS if v.name == name]
    tally = corpus.run(variant, path, mode, tmp_path)
    assert tally.tracebacks == 0
    assert not tally.skipped and not tally.refused, tally
    found = (len(tally.false), len(tally.missed), [late for _, late in tally.moved])
    assert found == EXPECTED.get((name, path, mode), (0, 0, [])), tally


def test_one_session_late_counts_as_moved_and_a_stranger_as_false() -> None:
    clean = {("r", "fired", "2024-03-13"): "2024-03-13", ("r", "fired", "2024-06-03"): "2024-06-03"}
    events = {
        ("r", "fired", "2024-03-14"): "2024-03-14",  # a session late
        ("r", "fired", "2024-06-03"): "2024-06-04",  # announced an evening late (live)
        ("r", "reversed", "2024-03-15"): "2024-03-15",
    }
    tally = compare(events, clean)
    assert tally.moved == [(("r", "fired", "2024-03-13"), 1), (("r", "fired", "2024-06-03"), 1)]
    assert (tally.false, tally.missed) == ([("r", "reversed", "2024-03-15")], [])
    assert compare({}, clean).missed == sorted(clean)
    assert isinstance(compare(clean, clean), Tally) and compare(clean, clean).moved == []
