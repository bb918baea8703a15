"""analytics/_frames.py:isin_text: membership of ids, the same answers as pandas' isin, missing never a member."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics._frames import isin_text


@pytest.mark.parametrize("dtype", ["str", "object"])
def test_membership_matches_pandas_and_missing_is_never_a_member(dtype: str) -> None:
    values = pd.Series(["C1", None, "C3", "C10", "c1", ""], dtype=dtype)
    members = {"C1", "C10", "", "C99"}
    got = isin_text(values, members)
    assert got.dtype == np.bool_
    assert got.tolist() == [True, False, False, True, False, True]  # case matters; "" is a value like any
    assert got.tolist() == values.isin(members).fillna(False).tolist()
    assert isin_text(values, {None}).tolist() == [False] * 6  # a missing id belongs to no set
    assert isin_text(pd.Index(values.dropna()), set()).tolist() == [False] * 5


def test_an_index_and_an_array_are_accepted() -> None:
    ids = [f"C{i}" for i in range(1000)]
    wanted = set(ids[::7])
    for values in (pd.Index(ids, dtype="str"), np.asarray(ids, dtype=object)):
        assert np.flatnonzero(isin_text(values, wanted)).tolist() == list(range(0, 1000, 7))
