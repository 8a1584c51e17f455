"""Figures a desk reads: a measure and its threshold never print as the same number."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from signals.formatting import (
    MAX_DECIMALS,
    distinct_decimals,
    fmt_bps_pair,
    fmt_pct_pair,
    fmt_value,
    fmt_value_pair,
)


def test_levels_keep_their_usual_decimals_when_they_differ_visibly():
    assert fmt_value_pair(3036.98, 3024.37) == ("3,036.98", "3,024.37")
    assert fmt_value_pair(0.3585, 0.3594) == ("0.3585", "0.3594")
    assert fmt_pct_pair(51.3, 50.0) == ("+51.3%", "+50.0%")
    assert fmt_bps_pair(282.4, 400) == ("+282 bps", "+400 bps")


def test_close_figures_get_the_decimals_that_tell_them_apart():
    assert fmt_value_pair(3024.3712, 3024.3681) == ("3,024.371", "3,024.368")
    assert fmt_value_pair(0.35851, 0.35849) == ("0.35851", "0.35849")
    assert fmt_pct_pair(50.04, 50.0) == ("+50.04%", "+50.00%")
    assert fmt_bps_pair(0.4, 0.0) == ("+0.4 bps", "+0.0 bps")


def test_equal_figures_and_nan_do_not_loop():
    assert distinct_decimals(1.0, 1.0, 2) == 2
    assert fmt_value_pair(math.nan, 1.0) == ("n/a", fmt_value(1.0))


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(finite, finite)
def test_two_figures_that_differ_by_a_visible_amount_never_read_the_same(a, b):
    shown_a, shown_b = fmt_value_pair(a, b)
    if abs(a - b) >= 10 ** -(MAX_DECIMALS - 1):
        assert shown_a != shown_b
