"""analytics/_frames.py:one_batch: what every week derives from the same input frame is derived once, and the
figures are the same as without it."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import analytics._frames as frames
from analytics._frames import one_batch, transaction_ledger


def _transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["b", "a", None, "b", "a"],
            "business_day": [dt.date(2026, 1, d) for d in (5, 1, 2, 9, 12)],
            "amount": [10.0, 5.0, 3.0, -2.0, 7.5],
        }
    )


def test_inside_a_batch_the_ledger_of_a_frame_is_built_once_and_cut_per_day(monkeypatch) -> None:
    built = []
    real = frames._full_ledger
    monkeypatch.setattr(frames, "_full_ledger", lambda t: built.append(id(t)) or real(t))
    transactions, other = _transactions(), _transactions()
    days = [dt.date(2026, 1, 1), dt.date(2026, 1, 9), None]
    alone = [transaction_ledger(transactions, day) for day in days]
    assert len(built) == 3
    built.clear()
    with one_batch():
        shared = [transaction_ledger(transactions, day) for day in days]
        transaction_ledger(other, None)  # an equal frame, another object: its own ledger
    assert built == [id(transactions), id(other)]
    for (ledger, ids, as_of), (expected, expected_ids, expected_as_of) in zip(shared, alone, strict=True):
        pd.testing.assert_frame_equal(ledger, expected)
        assert list(ids) == list(expected_ids) == ["a", "b"]
        assert as_of == expected_as_of
    # Worked by hand: by 9 January, a bought on the 1st (5.0), b on the 5th (10.0) and refunded on the 9th.
    ledger, _, _ = shared[1]
    assert ledger.sort_values(["customer", "day"]).values.tolist() == [
        [0, 20454, 5.0],
        [1, 20458, 10.0],
        [1, 20462, -2.0],
    ]
    built.clear()
    transaction_ledger(transactions, None)  # the batch is over: derived again
    assert built == [id(transactions)]


def test_a_ledger_in_day_order_is_cut_by_days_as_a_mask_would_cut_it() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    days = np.sort(rng.integers(0, 60, 400))
    in_order = pd.DataFrame(
        {
            "customer_id": rng.choice(["a", "b", "c", None], 400).tolist(),
            "business_day": [dt.date(2026, 1, 1) + dt.timedelta(days=int(d)) for d in days],
            "amount": rng.normal(10, 5, 400).round(2),
        }
    )
    shuffled = in_order.sample(frac=1.0, random_state=3)  # the same rows in no day order: masked
    for as_of, window in [(dt.date(2026, 1, 20), None), (dt.date(2026, 2, 10), 14), (dt.date(2025, 12, 1), 7)]:
        with one_batch():
            cut, ids, as_of_day = transaction_ledger(in_order, as_of, window_days=window)
        known = in_order.loc[in_order["customer_id"].notna()]
        day = (pd.to_datetime(known["business_day"]) - pd.Timestamp("1970-01-01")).dt.days
        keep = (day <= as_of_day) & (day > as_of_day - window if window else True)
        assert cut["amount"].tolist() == known.loc[keep, "amount"].tolist()  # the same rows, in their order
        assert list(cut.index) == list(range(len(cut)))
        masked, _, _ = transaction_ledger(shuffled, as_of, window_days=window)
        assert sorted(masked["amount"].tolist()) == sorted(cut["amount"].tolist())
