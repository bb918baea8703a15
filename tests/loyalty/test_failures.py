from datetime import date, timedelta

from loyalty.failures import MAX_MESSAGE, Failure, day_ranges, failure_rows, summarise_failures

D = date(2026, 11, 16)


def test_day_ranges_join_consecutive_days():
    days = [D, D + timedelta(1), D + timedelta(2), D + timedelta(4), D]
    assert day_ranges(days) == "2026-11-16..2026-11-18, 2026-11-20"
    assert day_ranges([]) == ""


def test_the_same_error_on_many_days_is_named_once_with_its_days_and_entities():
    # 15 failures: 5 days x 3 entities, all "LandingMissing: landing folder /x does not exist"
    failures = [
        Failure(D + timedelta(i), e, "LandingMissing: landing folder /x does not exist")
        for i in range(5)
        for e in ("customers", "transactions", "survey_responses")
    ]
    message = summarise_failures("backfill 2026-11-16..2026-11-20", failures, "backfill-failures-x")
    assert message == (
        "backfill 2026-11-16..2026-11-20: 15 failed on 5 days. LandingMissing: landing folder /x does not exist"
        " [15x: customers, transactions, survey_responses; 2026-11-16..2026-11-20]"
        " Full list: artifact backfill-failures-x."
    )
    assert message.count("LandingMissing") == 1


def test_an_error_that_names_its_own_day_is_still_one_error():
    failures = [
        Failure(D, "customers", f"Boom: file {D} bad"),
        Failure(D + timedelta(1), "customers", f"Boom: file {D + timedelta(1)} bad"),
    ]
    assert (
        summarise_failures("run", failures)
        == "run: 2 failed on 2 days. Boom: file <day> bad [2x: customers; 2026-11-16..2026-11-17]"
    )


def test_many_distinct_long_errors_stay_under_the_limit_and_are_counted():
    failures = [Failure(D + timedelta(i), "transactions", f"Error{i}: " + "x" * 400) for i in range(40)]
    message = summarise_failures("backfill", failures, "k")
    assert len(message) <= MAX_MESSAGE
    assert message.startswith("backfill: 40 failed on 40 days. Error0: ")
    # what did not fit is counted, not dropped silently
    listed = message.count("[1x:")
    assert f"+{40 - listed} more distinct errors." in message


def test_most_frequent_error_comes_first_and_steps_without_a_day_are_named():
    failures = [
        Failure(None, "report 2026-W46", "render failed"),
        Failure(D, "customers", "A: a"),
        Failure(D + timedelta(1), "customers", "A: a"),
    ]
    assert summarise_failures("b", failures) == (
        "b: 3 failed on 2 days. A: a [2x: customers; 2026-11-16..2026-11-17] render failed [1x: report 2026-W46]"
    )


def test_failure_rows_list_every_failure_in_day_order():
    rows = failure_rows([Failure(D + timedelta(1), "b", "e2"), Failure(D, "a", "e1"), Failure(None, "r", "e3")])
    assert rows == [
        {"delivery day": "", "entity": "r", "error": "e3"},
        {"delivery day": "2026-11-16", "entity": "a", "error": "e1"},
        {"delivery day": "2026-11-17", "entity": "b", "error": "e2"},
    ]
