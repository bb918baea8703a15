"""Keyword trends: normalisation, document frequencies, G2 tests, sentiment and verbatims."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from analytics.keywords import (
    GROUP_TERM_COLUMNS,
    TERM_DETAIL_COLUMNS,
    TRENDING_TERM_COLUMNS,
    WEEKLY_TERM_COLUMNS,
    compare_terms_by_nps_group,
    count_weekly_terms,
    describe_terms,
    find_trending_terms,
    normalise_comments,
    track_persisting_terms,
)
from analytics.weeks import previous_iso_weeks


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Great<br />service", "Great service"),
        ("Fish &amp; chips", "Fish & chips"),
        ("<script>alert('x')</script>Nice", "Nice"),
        ("<SCRIPT type='x'>never closed", ""),
        ("&lt;b&gt;bold&lt;/b&gt; move", "bold move"),  # encoded tags are stripped after decoding
        ("See https://example.com/a?b=1 now", "See now"),
        ("www.example.com rocks", "rocks"),
        ("mail me: jo@example.com", "mail me:"),
        ("Don't", "Do not"),
        ("I can't, they won\u2019t", "I can not, they will not"),
        ("  many   spaces\n\tand tabs ", "many spaces and tabs"),
        (None, ""),
    ],
)
def test_normalise_comments(raw: str | None, clean: str) -> None:
    assert normalise_comments(pd.Series([raw])).tolist() == [clean]


def test_normalise_comments_caps_length_and_leaves_input_alone() -> None:
    comments = pd.Series(["x" * 10_000, "<b>ok</b>"])
    snapshot = comments.copy()
    clean = normalise_comments(comments, max_chars=5000)
    assert len(clean[0]) == 5000 and clean[1] == "ok"
    pd.testing.assert_series_equal(comments, snapshot)


W47 = dt.date(2026, 11, 18)
W46 = dt.date(2026, 11, 11)


def comments_frame(rows: list[tuple]) -> pd.DataFrame:
    """rows: (business_day, comment[, nps[, submitted_at]])."""
    records = []
    for i, row in enumerate(rows):
        day, comment = row[0], row[1]
        nps = row[2] if len(row) > 2 else np.nan
        submitted = row[3] if len(row) > 3 else pd.Timestamp(day, tz="UTC")
        records.append(
            {"response_id": f"r{i:02d}", "business_day": day, "comment": comment, "nps": nps, "submitted_at": submitted}
        )
    return pd.DataFrame(records)


WEEKLY_ROWS = [
    # Bigrams join ADJACENT words, and any n-gram starting or ending with a stop word is dropped:
    (W47, "Slow slow queue at the till"),  # slow, queue, till; slow slow, slow queue ("queue at", "the till" dropped)
    (W47, "The queue was slow"),  # queue, slow; no bigram ("the queue", "queue was", "was slow" touch stop words)
    (W47, "Not helpful, 2026 staff"),  # helpful, staff; not helpful, helpful staff ("2026" and lone "not" dropped)
    (W47, "<br />"),  # nothing left after normalisation: not an analysable comment
    (W47, None),
    (W46, "queue"),
]


def test_count_weekly_terms_counts_each_term_once_per_comment() -> None:
    weekly = count_weekly_terms(comments_frame(WEEKLY_ROWS), min_total_comments=1)
    assert list(weekly.columns) == WEEKLY_TERM_COLUMNS
    w47 = weekly[weekly["week"] == "2026-W47"].set_index("term")["comments"].to_dict()
    assert w47 == {
        "slow": 2,  # three occurrences in two comments -> 2
        "queue": 2,
        "till": 1,
        "slow slow": 1,
        "slow queue": 1,
        "helpful": 1,
        "staff": 1,
        "not helpful": 1,
        "helpful staff": 1,
    }
    assert (weekly.loc[weekly["week"] == "2026-W47", "week_comments"] == 3).all()
    assert weekly.loc[weekly["week"] == "2026-W46", ["term", "comments", "week_comments"]].values.tolist() == [
        ["queue", 1, 1]
    ]
    slow = weekly[(weekly["week"] == "2026-W47") & (weekly["term"] == "slow")]
    assert slow["share"].iloc[0] == pytest.approx(2 / 3)


def test_count_weekly_terms_prunes_terms_seen_in_a_single_comment() -> None:
    weekly = count_weekly_terms(comments_frame(WEEKLY_ROWS))  # default: at least 2 comments overall
    # queue: 2 comments in W47 + 1 in W46 = 3; slow: 2. Everything else appears in one comment.
    assert sorted(set(weekly["term"])) == ["queue", "slow"]


def test_count_weekly_terms_on_comments_without_usable_words() -> None:
    weekly = count_weekly_terms(comments_frame([(W47, "<br />"), (W47, "2026 12"), (W47, None)]))
    assert weekly.empty and list(weekly.columns) == WEEKLY_TERM_COLUMNS


def trending_input() -> pd.DataFrame:
    # Target 2026-W47 has 20 comments; each of the 8 baseline weeks has 5 (40 in all).
    baseline = previous_iso_weeks("2026-W47", 8)
    rows = [
        ("2026-W47", "app crash", 10, 20),
        ("2026-W47", "coffee", 2, 20),
        ("2026-W47", "queue", 5, 20),
        ("2026-W47", "rare", 1, 20),
        ("2026-W38", "coffee", 5, 5),  # outside the baseline: ignored
    ]
    rows += [(week, "coffee", 1, 5) for week in baseline]  # 8 of 40
    rows += [(week, "queue", 2, 5) for week in baseline[:5]]  # 10 of 40
    rows += [(baseline[0], "rare", 2, 5)]
    frame = pd.DataFrame(rows, columns=["week", "term", "comments", "week_comments"])
    frame["share"] = frame["comments"] / frame["week_comments"]
    return frame


def test_find_trending_terms_by_hand() -> None:
    trending = find_trending_terms(trending_input(), week="2026-W47", min_count=5, gap_weeks=0)
    assert list(trending.columns) == TRENDING_TERM_COLUMNS
    # "rare" (1 this week, 2 before) is below min_count on both sides: not tested.
    assert trending["term"].tolist() == ["app crash", "coffee", "queue"]
    rows = trending.set_index("term")
    # app crash 10/20 vs 0/40. Expected hits 20*10/60 = 3.333 and 6.667; misses 16.667 and 33.333.
    # G2 = 2 [10 ln(10/3.333) + 10 ln(10/16.667) + 40 ln(40/33.333)]
    #    = 2 [10.986123 - 5.108256 + 7.292862] = 26.341458; p = 2.8608e-07.
    assert rows.loc["app crash", "g2"] == pytest.approx(26.341458, abs=1e-5)
    assert rows.loc["app crash", "p_value"] == pytest.approx(2.8608e-07, rel=1e-3)
    assert rows.loc["app crash", "baseline_count"] == 0 and rows.loc["app crash", "baseline_comments"] == 40
    # coffee 2/20 vs 8/40: same expected counts; G2 = 2 [2 ln(2/3.333) + 8 ln(8/6.667) + 18 ln(18/16.667)
    #    + 32 ln(32/33.333)] = 2 [-1.021651 + 1.458574 + 1.385294 - 1.306296] = 1.031842; p = 0.309729.
    assert rows.loc["coffee", "g2"] == pytest.approx(1.031842, abs=1e-5)
    assert rows.loc["coffee", "p_value"] == pytest.approx(0.309729, abs=1e-5)
    # queue 5/20 vs 10/40: equal shares -> flat, p = 1.
    assert rows.loc["queue", "p_value"] == pytest.approx(1.0)
    assert rows["direction"].tolist() == ["rising", "falling", "flat"]
    # BH over 3 tests: app crash 2.8608e-07 * 3/1 = 8.582e-07; coffee 0.309729 * 3/2 = 0.464593; queue 1.
    np.testing.assert_allclose(rows["q_value"], [8.582441e-07, 0.464593, 1.0], rtol=1e-5)
    assert rows["is_significant"].tolist() == [True, False, False]
    # ratio (10.5/21) / (0.5/41) = 41; coffee (2.5/21) / (8.5/41) = 0.574230.
    np.testing.assert_allclose(rows["ratio"][:2], [41.0, 0.574230], rtol=1e-6)
    assert rows.loc["app crash", "share"] == 0.5 and rows.loc["coffee", "baseline_share"] == 0.2


def test_find_trending_terms_parameters() -> None:
    frame = trending_input()
    # min_count is inclusive: 10 keeps app crash (10 this week) and queue (10 in the baseline) but not
    # coffee (2 this week, 8 before); 11 drops everything.
    assert find_trending_terms(frame, week="2026-W47", min_count=10, gap_weeks=0)["term"].tolist() == [
        "app crash",
        "queue",
    ]
    assert find_trending_terms(frame, week="2026-W47", min_count=11, gap_weeks=0).empty
    # With a 2-week baseline (W45, W46): coffee 2/10, queue 0/10 -> queue's baseline count is 0.
    short = find_trending_terms(frame, week="2026-W47", baseline_weeks=2, min_count=2, gap_weeks=0)
    short = short.set_index("term")
    assert short.loc["coffee", "baseline_comments"] == 10 and short.loc["queue", "baseline_count"] == 0
    # A week without a baseline gives an empty frame, not an error.
    assert find_trending_terms(frame, week="2026-W30").empty
    with pytest.raises(ValueError, match="ISO week"):
        find_trending_terms(frame, week="last week")


def group_rows() -> list[tuple]:
    detractors = [(W47, "Rude staff", 2)] * 5 + [(W47, "Long wait", 0)]
    promoters = [(W47, "Friendly staff", 10)] * 5 + [(W47, "Long wait", 9)]
    passives = [(W47, "Rude rude rude", 7)] * 5  # passives are not part of the comparison
    return detractors + promoters + passives


def test_compare_terms_by_nps_group_by_hand() -> None:
    groups = compare_terms_by_nps_group(comments_frame(group_rows()), min_count=5)
    assert list(groups.columns) == GROUP_TERM_COLUMNS
    rows = groups.set_index("term")
    # Tested (>= 5 comments in a group): rude, rude staff (5/6 vs 0/6), friendly, friendly staff (0/6 vs 5/6),
    # staff (5/6 vs 5/6). long, wait, long wait (1 each) are not.
    assert set(rows.index) == {"rude", "rude staff", "friendly", "friendly staff", "staff"}
    # rude: hits 5, 0; misses 1, 6; expected hits 2.5, 2.5; misses 3.5, 3.5.
    # G2 = 2 [5 ln 2 + 1 ln(1/3.5) + 6 ln(6/3.5)] = 2 [3.465736 - 1.252763 + 3.233979] = 10.893904; p = 0.000965.
    assert rows.loc["rude", "g2"] == pytest.approx(10.893904, abs=1e-5)
    assert rows.loc["rude", "p_value"] == pytest.approx(0.000965, abs=1e-6)
    assert rows.loc["friendly", "g2"] == pytest.approx(10.893904, abs=1e-5)
    # BH over 5: four equal p-values rank 1-4 -> 0.000965 * 5/4 = 0.001206; staff p = 1 -> 1.
    np.testing.assert_allclose(rows.loc[["rude", "rude staff", "friendly"], "q_value"], 0.001206, atol=1e-6)
    assert rows.loc["rude", "over_represented_in"] == "detractors"
    assert rows.loc["friendly staff", "over_represented_in"] == "promoters"
    assert rows.loc["staff", "over_represented_in"] == "neither"
    assert rows.loc["rude", "detractor_count"] == 5 and rows.loc["rude", "promoter_count"] == 0
    assert rows.loc["rude", "detractor_comments"] == 6 and rows.loc["rude", "promoter_comments"] == 6
    assert groups["over_represented_in"].tolist()[:2] == ["detractors", "detractors"]


def test_describe_terms_sentiment_and_verbatims() -> None:
    at = pd.Timestamp
    rows = [
        (W47, "Great service<br />", 10, at("2026-11-18 09:00", tz="UTC")),
        (W47, "great service, awful coffee", 5, at("2026-11-19 09:00", tz="UTC")),
        (W47, "GREAT SERVICE!!", 9, at("2026-11-19 09:00", tz="UTC")),  # same time: response_id breaks the tie
        (W47, "great service again", 9, at("2026-11-17 09:00", tz="UTC")),
        (W46, "great service last week", 9, at("2026-11-10 09:00", tz="UTC")),
    ]
    details = describe_terms(comments_frame(rows), ["great service", "coffee", "nothing here"], weeks=["2026-W47"])
    assert list(details.columns) == TERM_DETAIL_COLUMNS
    assert details["term"].tolist() == ["great service", "coffee", "nothing here"]
    # "great service" is in the four W47 comments; the W46 one is outside the window.
    assert details["comments"].tolist() == [4, 1, 0]
    # Verbatims: newest first (r01 and r02 share 2026-11-19 09:00 -> r01 first), then r00; original text.
    great = details.iloc[0]
    assert [great["response_id_1"], great["response_id_2"], great["response_id_3"]] == ["r01", "r02", "r00"]
    assert great["verbatim_3"] == "Great service<br />"  # markup kept in verbatims: escape when rendering
    # Sentiment = mean VADER compound over the holders, scored on the markup-free text.
    analyzer = SentimentIntensityAnalyzer()
    texts = ["Great service", "great service, awful coffee", "GREAT SERVICE!!", "great service again"]
    expected = np.mean([analyzer.polarity_scores(text)["compound"] for text in texts])
    assert great["sentiment"] == pytest.approx(expected)
    assert details.iloc[1]["sentiment"] == pytest.approx(analyzer.polarity_scores(texts[1])["compound"])
    assert np.isnan(details.iloc[2]["sentiment"]) and details.iloc[2]["verbatim_1"] is None


def test_keyword_functions_leave_the_comment_column_untouched() -> None:
    frame = comments_frame(group_rows() + WEEKLY_ROWS)
    snapshot = frame.copy()
    count_weekly_terms(frame)
    compare_terms_by_nps_group(frame)
    describe_terms(frame, ["staff"])
    pd.testing.assert_frame_equal(frame, snapshot)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=25))
def test_any_text_is_handled_and_counts_never_exceed_comments(texts: list[str]) -> None:
    weekly = count_weekly_terms(comments_frame([(W47, text) for text in texts]), min_total_comments=1)
    assert (weekly["comments"] <= weekly["week_comments"]).all()
    assert (weekly["week_comments"] <= len(texts)).all()
    assert weekly["share"].between(0, 1).all()


def test_bigrams_are_adjacent_words_only() -> None:
    # "crashed at checkout": unigrams crashed, checkout; bigrams "crashed at" and "at checkout" both touch the
    # stop word "at" and are dropped, so the bigram "crashed checkout" (never written) does not exist.
    # "app crashed at checkout": adds app and "app crashed" (adjacent, no stop word at either end).
    frame = comments_frame([(W47, "crashed at checkout"), (W47, "The app crashed at checkout")])
    terms = set(count_weekly_terms(frame, min_total_comments=1)["term"])
    assert terms == {"crashed", "checkout", "app", "app crashed"}
    # The verbatim search uses the same analyser: the non-adjacent pair is found in no comment.
    details = describe_terms(frame, ["crashed checkout", "app crashed"]).set_index("term")
    assert details.loc["crashed checkout", "comments"] == 0 and details.loc["app crashed", "comments"] == 1


def test_the_baseline_leaves_out_the_most_recent_weeks() -> None:
    # 2026-W47 with gap 2 and 8 baseline weeks: the baseline is W37..W44 (W45 and W46 left out).
    frame = trending_input()
    trending = find_trending_terms(frame, week="2026-W47", min_count=5, gap_weeks=2)
    assert set(trending["first_baseline_week"]) == {"2026-W37"} and set(trending["last_baseline_week"]) == {"2026-W44"}
    rows = trending.set_index("term")
    # Baseline weeks present in the frame: W39..W44 (6 weeks x 5 comments = 30), plus W38 (coffee 5/5) = 35.
    # coffee: W38 5 + W39..W44 1 each = 11 of 35; queue: W39..W43 2 each = 10 of 35.
    assert rows.loc["coffee", "baseline_count"] == 11 and rows.loc["coffee", "baseline_comments"] == 35
    assert rows.loc["queue", "baseline_count"] == 10


def persisting_input() -> pd.DataFrame:
    """ "crash" in 1 of 100 comments each week W30..W39, then 20 of 100 every week W40..W47, then 2 of 100 in W48;
    "filler" in 50 of 100 every week so every week has comments."""
    rows = []
    for week in [f"2026-W{n}" for n in range(30, 49)]:
        number = int(week[-2:])
        crash = 1 if number < 40 else 20 if number < 48 else 2
        rows += [(week, "crash", crash, 100), (week, "filler", 50, 100)]
    frame = pd.DataFrame(rows, columns=["week", "term", "comments", "week_comments"])
    frame["share"] = frame["comments"] / frame["week_comments"]
    return frame


def test_a_lasting_theme_rises_then_persists_until_it_returns_to_its_pre_rise_baseline() -> None:
    frame = persisting_input()
    # W40: 20/100 against W30..W37 (8/800): rising. W41, W42: baseline W31..W39 still pre-rise: rising.
    for week in ("2026-W40", "2026-W41", "2026-W42"):
        rows = find_trending_terms(frame, week=week, min_count=5).set_index("term")
        assert rows.loc["crash", "direction"] == "rising" and bool(rows.loc["crash", "is_significant"]), week
    # W47: the baseline W37..W44 holds 5 risen weeks (3 + 100 = 103 of 800, 12.9%): 20% is no longer
    # significant on its own (G2 = 3.47, p = 0.062 for the two-test family), which is how a lasting problem used to vanish.
    rows = find_trending_terms(frame, week="2026-W47", min_count=5).set_index("term")
    assert not bool(rows.loc["crash", "is_significant"])
    persisting = track_persisting_terms(frame, week="2026-W47", min_count=5).set_index("term")
    assert list(persisting.index) == ["crash"]
    row = persisting.loc["crash"]
    # Its reference is the baseline of W40, the week it first rose: W30..W37, 8 of 800 = 1%.
    assert row["onset_week"] == "2026-W40" and row["reference_count"] == 8 and row["reference_comments"] == 800
    assert row["reference_share"] == pytest.approx(0.01) and row["share"] == pytest.approx(0.20)
    assert row["weeks_flagged"] == 8  # W40..W47
    assert row["q_value"] < 0.05  # 8/800 vs 20/100: G2 = 59.8, p = 1.1e-14 (one term tested)
    # W48: 2 of 100 against 8 of 800 is back to the baseline (G2 = 0.67, p = 0.41): no longer persisting.
    assert track_persisting_terms(frame, week="2026-W48", min_count=5).empty
    # A term that never rose is never persisting.
    assert "filler" not in set(track_persisting_terms(frame, week="2026-W45", min_count=5)["term"])
