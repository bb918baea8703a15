"""Published figures per edition: the first publication is kept, and the next week reads it back."""

from __future__ import annotations

from loyalty.db import get_engine
from loyalty.schema import migrate
from loyalty.stored import read_previous_published
from tasks.published import record_published_figures


def test_first_publication_is_kept_and_read_by_the_next_week(settings):
    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    first = [{"figure": "nps", "value": 20.0, "n": 141}, {"figure": "responses", "value": 141.0, "n": 141}]
    assert record_published_figures(engine, "2026-W47", None, first) == 2
    # Re-rendering the edition after late rows came in does not overwrite what readers already saw.
    again = [{"figure": "nps", "value": 19.3, "n": 154}, {"figure": "csat", "value": None, "n": 3}]
    assert record_published_figures(engine, "2026-W47", None, again) == 1
    # A regional edition is its own edition.
    assert record_published_figures(engine, "2026-W47", "North", [{"figure": "nps", "value": 5.0, "n": 30}]) == 1
    shown = read_previous_published(engine, "2026-W48", None).set_index("figure")
    assert shown.loc["nps", "value"] == 20.0 and shown.loc["nps", "n"] == 141
    assert set(shown.index) == {"nps", "responses", "csat"}
    assert read_previous_published(engine, "2026-W48", "North").set_index("figure").loc["nps", "value"] == 5.0
    assert read_previous_published(engine, "2026-W47", None).empty
