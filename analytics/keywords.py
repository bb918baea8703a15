"""Keyword trends in free-text comments (LISTEN): weekly term counts, rising and falling terms,
terms that set detractors apart from promoters, and sentiment plus verbatims for highlighted terms.

Owns these frames:
- weekly_terms: one row per ISO week x term (terms present that week only).
- trending_terms: one row per tested term for one target week.
- terms_by_nps_group: one row per tested term for a detractor vs promoter comparison.
- term_verbatims: one row per highlighted term.

Text handling
- Comments are untrusted. Markup is stripped for ANALYSIS ONLY (normalise_comments): <script>/<style>
  blocks, HTML tags such as <br />, entities (&amp;), URLs and email addresses. The comment column is
  never changed, and verbatims are returned as the original text: whoever renders them must escape them.
- Each comment is cut to `max_chars` characters before any regex runs, which bounds the work on
  pathological input of any length.
- Tokens: runs of 2+ word characters that are not pure numbers, lower-cased. Unigrams and bigrams are formed
  from ADJACENT tokens with the stop words still in place, then every n-gram that begins or ends with an
  English stop word is dropped: "crashed at checkout" gives "crashed" and "checkout", never the bigram
  "crashed checkout" that nobody wrote. Removing stop words before forming bigrams (the previous method)
  invented such pairs and inflated the BH family. Negation words (not, no, never, ...) are not stop words,
  so "not helpful" survives, but are not reported as terms on their own. "don't" becomes "do not" first.
- Counts are document frequencies: a term counts once per comment (CountVectorizer(binary=True)).
- Term comparisons use the log-likelihood G2 test rather than the z-test: most terms are rare, and the
  z-test's tail p-values are then far too small, which would flood BH with false "rising" terms.
- A week's `week_comments` counts the comments with some text left after normalisation.
- Baselines leave out the most recent `gap_weeks` weeks before the tested week, so a theme that lasts a few
  weeks is not compared with its own first weeks (its rise would hide itself).
- Persisting terms (track_persisting_terms): a term that rose significantly keeps the status "persisting"
  while its share stays significantly above its PRE-RISE baseline (the baseline of the week it first rose),
  so a lasting problem stays in the report and the alerts until it returns to that baseline.
"""

from __future__ import annotations

import functools
import html

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from analytics._frames import in_batch, is_detractor, is_promoter, once_per_batch, require_columns, scores
from analytics.stats import bh_qvalues, log_likelihood_test
from analytics.weeks import iso_week_labels, iso_week_range, parse_iso_week, previous_iso_weeks, shift_iso_week

__all__ = [
    "GROUP_TERM_COLUMNS",
    "TERM_DETAIL_COLUMNS",
    "TRENDING_TERM_COLUMNS",
    "WEEKLY_TERM_COLUMNS",
    "compare_terms_by_nps_group",
    "count_weekly_terms",
    "describe_terms",
    "find_trending_terms",
    "normalise_comments",
    "track_persisting_terms",
]

WEEKLY_TERM_COLUMNS = ["week", "term", "comments", "week_comments", "share"]
TRENDING_TERM_COLUMNS = [
    "week",
    "term",
    "count",
    "comments",
    "share",
    "baseline_count",
    "baseline_comments",
    "baseline_share",
    "ratio",
    "g2",
    "p_value",
    "q_value",
    "direction",
    "is_significant",
    "first_baseline_week",
    "last_baseline_week",
]
PERSISTING_TERM_COLUMNS = [
    "week",
    "term",
    "onset_week",
    "weeks_flagged",
    "count",
    "comments",
    "share",
    "reference_count",
    "reference_comments",
    "reference_share",
    "ratio",
    "g2",
    "p_value",
    "q_value",
]
GROUP_TERM_COLUMNS = [
    "term",
    "detractor_count",
    "detractor_comments",
    "detractor_share",
    "promoter_count",
    "promoter_comments",
    "promoter_share",
    "ratio",
    "g2",
    "p_value",
    "q_value",
    "over_represented_in",
    "is_significant",
]
TERM_DETAIL_COLUMNS = [
    "term",
    "comments",
    "sentiment",
    *[f"{kind}_{i}" for i in (1, 2, 3) for kind in ("verbatim", "response_id")],
]

MAX_COMMENT_CHARS = 5000
_NEGATIONS = frozenset({"no", "not", "nor", "never", "nothing", "nobody", "none", "cannot", "without"})
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS - _NEGATIONS)
_TOKEN_PATTERN = r"(?u)\b(?![\d_]+\b)\w\w+\b"
_MARKUP_BLOCK = r"(?is)<(script|style)\b.*?(?:</\1\s*>|$)"
_TAG = r"<[^<>]*>"
_URL = r"(?i)\b(?:https?://|ftp://|www\.)\S+"
_EMAIL = r"\S+@\S+\.\w+"


def normalise_comments(comments: pd.Series, *, max_chars: int = MAX_COMMENT_CHARS) -> pd.Series:
    """Return analysis text for each comment: markup, entities, URLs and emails removed, contractions
    expanded, whitespace collapsed, case kept (VADER reads capitals). Missing comments become "".
    Same index as `comments`; the input is not modified.
    """
    text = comments.astype("str").fillna("").str.slice(0, max_chars)
    text = _strip_markup(text)
    # Entities are decoded after the first pass so an encoded tag ("&lt;b&gt;") is stripped by the second.
    text = text.map(html.unescape)
    text = _strip_markup(text)
    text = text.str.replace(_URL, " ", regex=True).str.replace(_EMAIL, " ", regex=True)
    text = text.str.replace("\u2019", "'", regex=False)
    text = text.str.replace(r"(?i)\bcan't\b", "can not", regex=True)
    text = text.str.replace(r"(?i)\bwon't\b", "will not", regex=True)
    text = text.str.replace(r"(?i)n't\b", " not", regex=True)
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _strip_markup(text: pd.Series) -> pd.Series:
    return text.str.replace(_MARKUP_BLOCK, " ", regex=True).str.replace(_TAG, " ", regex=True)


def _vectorizer(vocabulary: list[str] | None = None, min_df: int = 1) -> CountVectorizer:
    # stop_words=None: the default tokenizer keeps stop words, so bigrams join words that were adjacent;
    # n-grams with a stop word at either end are dropped afterwards (_keep_terms).
    return CountVectorizer(
        binary=True,
        ngram_range=(1, 2),
        stop_words=None,
        token_pattern=_TOKEN_PATTERN,
        lowercase=True,
        min_df=min_df if vocabulary is None else 1,
        vocabulary=vocabulary,
        dtype=np.int32,
    )


def _document_terms(text: pd.Series, *, min_df: int = 1) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Binary comment x term matrix and its terms, lone negation words dropped."""
    vectorizer = _vectorizer(min_df=min_df)
    try:
        matrix = vectorizer.fit_transform(text)
    except ValueError:  # empty vocabulary: no comment holds a usable token
        return sparse.csr_matrix((len(text), 0), dtype=np.int32), np.array([], dtype=object)
    terms = vectorizer.get_feature_names_out()
    keep = _keep_terms(terms)
    return matrix[:, keep].tocsr(), terms[keep]


def _keep_terms(terms: np.ndarray) -> np.ndarray:
    """False for n-grams beginning or ending with a stop word, and for lone negation words."""
    keep = np.ones(len(terms), dtype=bool)
    for position, term in enumerate(terms):
        words = term.split(" ")
        if words[0] in _STOP_WORDS or words[-1] in _STOP_WORDS or (len(words) == 1 and term in _NEGATIONS):
            keep[position] = False
    return keep


def _comment_frame(responses: pd.DataFrame, *, max_chars: int, weeks: list[str] | None = None) -> pd.DataFrame:
    """Responses with analysable comment text: week, response_id, submitted_at, nps, text, original.

    Filters to `weeks` before normalising, so a one-week question does not clean a year of text; inside a
    batch of weeks (analytics/_frames.py:one_batch) every comment is cleaned once and each week's question
    takes its rows (cleaning is per comment, so the rows are the same): at a year, the weeks' term
    questions cleaned each comment about eight times, 0.6 s a week.
    """
    if in_batch():
        full = once_per_batch(
            f"comment frame {max_chars}", responses, lambda: _cleaned_comments(responses, max_chars=max_chars)
        )
        if weeks is None:
            return full
        for label in weeks:
            parse_iso_week(label)
        return full.loc[full["week"].isin(weeks).to_numpy()]
    return _cleaned_comments(responses, max_chars=max_chars, weeks=weeks)


def _cleaned_comments(responses: pd.DataFrame, *, max_chars: int, weeks: list[str] | None = None) -> pd.DataFrame:
    require_columns(responses, ["response_id", "business_day", "comment"], "responses")
    with_comment = responses.loc[responses["comment"].notna()]
    week = iso_week_labels(with_comment["business_day"])
    if weeks is not None:
        for label in weeks:
            parse_iso_week(label)
        in_weeks = week.isin(weeks).to_numpy()
        with_comment, week = with_comment.loc[in_weeks], week[in_weeks]
    text = normalise_comments(with_comment["comment"], max_chars=max_chars)
    kept = (text != "").to_numpy()
    with_comment, text, week = with_comment.loc[kept], text[kept], week[kept]
    frame = pd.DataFrame(
        {
            "week": week,
            "response_id": with_comment["response_id"].astype("str"),
            "text": text,
            "original": with_comment["comment"],
        },
        index=with_comment.index,
    )
    if "submitted_at" in with_comment.columns:
        frame["submitted_at"] = pd.to_datetime(with_comment["submitted_at"], utc=True)
    if "nps" in with_comment.columns:
        frame["nps"] = scores(with_comment, "nps", 0, 10)
    return frame


def count_weekly_terms(
    responses: pd.DataFrame, *, min_total_comments: int = 2, max_chars: int = MAX_COMMENT_CHARS
) -> pd.DataFrame:
    """Return weekly_terms: one row per ISO week x term with `comments` = comments holding the term.

    week_comments is the week's number of analysable comments and share = comments / week_comments.
    Terms found in fewer than `min_total_comments` comments over the whole input are dropped (they can
    never pass a trend test and would bloat the vocabulary). Rows sorted by week, then term.
    """
    frame = _comment_frame(responses, max_chars=max_chars)
    if frame.empty:
        return _empty(WEEKLY_TERM_COLUMNS)
    matrix, terms = _document_terms(frame["text"], min_df=min_total_comments)
    week_codes, weeks = pd.factorize(frame["week"], sort=True)
    # weeks x comments indicator times comments x terms = weeks x terms document frequencies, in one product.
    by_week = sparse.csr_matrix(
        (np.ones(len(frame), dtype=np.int32), (week_codes, np.arange(len(frame)))),
        shape=(len(weeks), len(frame)),
    )
    counts = (by_week @ matrix).tocoo()
    week_totals = np.bincount(week_codes, minlength=len(weeks))
    weekly = pd.DataFrame(
        {
            "week": np.asarray(weeks, dtype=object)[counts.row],
            "term": terms[counts.col],
            "comments": counts.data.astype(np.int64),
            "week_comments": week_totals[counts.row].astype(np.int64),
        }
    )
    weekly["share"] = weekly["comments"] / weekly["week_comments"]
    weekly = weekly.astype({"week": "str", "term": "str"})
    return weekly.sort_values(["week", "term"], kind="stable").reset_index(drop=True)


def find_trending_terms(
    weekly_terms: pd.DataFrame,
    *,
    week: str,
    baseline_weeks: int = 8,
    gap_weeks: int = 2,
    min_count: int = 5,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Return trending_terms: one row per tested term, comparing its share of comments in `week` with the
    pooled share over `baseline_weeks` weeks ending `gap_weeks` weeks before it (the gap keeps a theme's own
    recent weeks out of its baseline; first_baseline_week / last_baseline_week name the baseline).

    Tested terms: count >= min_count in the week (rising candidates) or baseline_count >= min_count
    (falling candidates). Test: log-likelihood G2 on the 2x2 table (term / no term x week / baseline; see
    analytics.stats.log_likelihood_test for why not the z-test); q_value is Benjamini-Hochberg over every
    tested term of the week; is_significant means q < alpha. direction is "rising" when the week's share
    is above the baseline share, "falling" when below, "flat" when equal (never significant).
    ratio = smoothed share ratio ((count + 0.5) / (comments + 1)) / ((baseline_count + 0.5) /
    (baseline_comments + 1)), finite even for terms new this week. Baseline totals come from the weeks
    present in weekly_terms (a week whose comments held no counted term adds nothing). Empty when the
    week or the baseline has no comments.
    Rows sorted by direction (rising, falling, flat), q_value, p_value, term.
    """
    parse_iso_week(week)
    if gap_weeks < 0 or baseline_weeks < 1:
        raise ValueError("gap_weeks must be >= 0 and baseline_weeks >= 1")
    require_columns(weekly_terms, WEEKLY_TERM_COLUMNS[:4], "weekly_terms")
    baseline = previous_iso_weeks(shift_iso_week(week, -gap_weeks), baseline_weeks)
    totals = weekly_terms.drop_duplicates("week").set_index("week")["week_comments"]
    comments = int(totals.get(week, 0))
    baseline_comments = int(totals.reindex(baseline).fillna(0).sum())
    if comments == 0 or baseline_comments == 0:
        return _empty(TRENDING_TERM_COLUMNS)
    current = weekly_terms.loc[weekly_terms["week"] == week].groupby("term")["comments"].sum()
    before = weekly_terms.loc[weekly_terms["week"].isin(baseline)].groupby("term")["comments"].sum()
    terms = pd.concat([current.rename("count"), before.rename("baseline_count")], axis=1).fillna(0)
    terms = terms.loc[(terms["count"] >= min_count) | (terms["baseline_count"] >= min_count)]
    tested = _compare_shares(
        terms["count"],
        comments,
        terms["baseline_count"],
        baseline_comments,
        alpha=alpha,
        names=("", "baseline_"),
    )
    tested["direction"] = np.select([tested["is_higher"], tested["is_lower"]], ["rising", "falling"], "flat")
    tested["week"] = week
    tested["first_baseline_week"], tested["last_baseline_week"] = baseline[0], baseline[-1]
    order = tested["direction"].map({"rising": 0, "falling": 1, "flat": 2})
    tested = tested.assign(_order=order).sort_values(["_order", "q_value", "p_value", "term"], kind="stable")
    return tested[TRENDING_TERM_COLUMNS].reset_index(drop=True)


def track_persisting_terms(
    weekly_terms: pd.DataFrame,
    *,
    week: str,
    lookback_weeks: int = 13,
    baseline_weeks: int = 8,
    gap_weeks: int = 2,
    min_count: int = 5,
    alpha: float = 0.05,
    trending_by_week: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Return persisting_terms of `week`: terms that rose significantly in an earlier week and whose share is
    still significantly above their pre-rise baseline, one row per term (PERSISTING_TERM_COLUMNS).

    Walks the `lookback_weeks` weeks before `week` oldest first, so the result depends on the input rows
    alone (a week computed alone or in a batch gives the same rows). A term becomes flagged in the week it
    is significantly rising (find_trending_terms); its reference is that week's baseline (the pre-rise
    baseline, kept while it stays flagged even if it rises again later). In each following week where it
    is not rising, its share is tested against the reference with the same G2 test; BH runs over the
    flagged terms tested that week; it stays flagged ("persisting") while q < alpha and its share is above
    the reference, and is dropped the first week it is not. weeks_flagged counts the weeks from onset to
    `week`. A term that rose before the lookback window is not followed (bounded work; documented limit).
    `trending_by_week` is an optional cache of find_trending_terms results shared across calls.
    Rows sorted by q_value, term.
    """
    parse_iso_week(week)
    cache = trending_by_week if trending_by_week is not None else {}
    totals, counts = once_per_batch(
        "term lookups",
        weekly_terms,
        lambda: (
            weekly_terms.drop_duplicates("week").set_index("week")["week_comments"],
            weekly_terms.set_index(["week", "term"])["comments"],
        ),
    )
    flagged: dict[str, tuple[str, int, int]] = {}  # term -> (onset week, reference count, reference comments)
    result = _empty(PERSISTING_TERM_COLUMNS)
    for current in iso_week_range(shift_iso_week(week, -lookback_weeks), week):
        if current not in cache:
            cache[current] = find_trending_terms(
                weekly_terms,
                week=current,
                baseline_weeks=baseline_weeks,
                gap_weeks=gap_weeks,
                min_count=min_count,
                alpha=alpha,
            )
        trending = cache[current]
        rising = trending.loc[trending["is_significant"].astype(bool) & (trending["direction"] == "rising")]
        rising_terms = set(rising["term"])
        candidates = {term: ref for term, ref in flagged.items() if term not in rising_terms}
        comments = int(totals.get(current, 0))
        still = pd.DataFrame()
        if candidates and comments > 0:
            names = sorted(candidates)
            count = pd.Series(
                [int(counts.get((current, term), 0)) for term in names], index=pd.Index(names), dtype="int64"
            )
            ref_count = np.array([candidates[t][1] for t in names], dtype=float)
            ref_comments = np.array([candidates[t][2] for t in names], dtype=float)
            g2, p_value = log_likelihood_test(ref_count, ref_comments, count.to_numpy(float), comments)
            share = count.to_numpy(float) / comments
            reference_share = ref_count / ref_comments
            still = pd.DataFrame(
                {
                    "week": current,
                    "term": names,
                    "onset_week": [candidates[t][0] for t in names],
                    "count": count.to_numpy(),
                    "comments": comments,
                    "share": share,
                    "reference_count": ref_count.astype(np.int64),
                    "reference_comments": ref_comments.astype(np.int64),
                    "reference_share": reference_share,
                    "ratio": ((count.to_numpy(float) + 0.5) / (comments + 1))
                    / ((ref_count + 0.5) / (ref_comments + 1)),
                    "g2": g2,
                    "p_value": p_value,
                    "q_value": bh_qvalues(p_value),
                }
            )
            still = still.loc[(still["q_value"] < alpha) & (still["share"] > still["reference_share"])]
        kept = {term: flagged[term] for term in still.get("term", [])}
        bases = zip(rising["baseline_count"].tolist(), rising["baseline_comments"].tolist(), strict=True)
        for term, (base_count, base_comments) in zip(rising["term"].tolist(), bases, strict=True):
            kept[term] = flagged.get(term) or (current, int(base_count), int(base_comments))
        flagged = kept
        if current == week and len(still):
            still = still.assign(weeks_flagged=[len(iso_week_range(onset, week)) for onset in still["onset_week"]])
            result = still.sort_values(["q_value", "term"], kind="stable")[PERSISTING_TERM_COLUMNS]
    return result.reset_index(drop=True)


def compare_terms_by_nps_group(
    responses: pd.DataFrame,
    *,
    weeks: list[str] | None = None,
    min_count: int = 5,
    alpha: float = 0.05,
    max_chars: int = MAX_COMMENT_CHARS,
) -> pd.DataFrame:
    """Return terms_by_nps_group: terms over-represented among detractors (NPS 0-6) or promoters (9-10).

    One row per tested term over the comments of `weeks` (default: all). Tested when the term appears in
    at least `min_count` comments of either group. Same test as find_trending_terms (G2, BH over tested
    terms, significant when q < alpha); over_represented_in is "detractors" when the detractor share is
    higher, "promoters" when lower, "neither" when equal. ratio = smoothed detractor share / promoter share.
    Rows sorted by over_represented_in (detractors, promoters, neither), q_value, p_value, term.
    """
    frame = _comment_frame(responses, max_chars=max_chars, weeks=weeks)
    if "nps" not in frame.columns:
        raise ValueError("responses is missing required column(s): nps")
    frame = frame.loc[is_detractor(frame["nps"]) | is_promoter(frame["nps"])]
    detractor = is_detractor(frame["nps"]).to_numpy()
    matrix, terms = _document_terms(frame["text"])
    detractor_comments, promoter_comments = int(detractor.sum()), int((~detractor).sum())
    if detractor_comments == 0 or promoter_comments == 0 or len(terms) == 0:
        return _empty(GROUP_TERM_COLUMNS)
    counts = pd.DataFrame(
        {
            "detractor_count": np.asarray(matrix[detractor].sum(axis=0)).ravel(),
            "promoter_count": np.asarray(matrix[~detractor].sum(axis=0)).ravel(),
        },
        index=pd.Index(terms, name="term"),
    )
    counts = counts.loc[(counts["detractor_count"] >= min_count) | (counts["promoter_count"] >= min_count)]
    tested = _compare_shares(
        counts["detractor_count"],
        detractor_comments,
        counts["promoter_count"],
        promoter_comments,
        alpha=alpha,
        names=("detractor_", "promoter_"),
    )
    tested["over_represented_in"] = np.select(
        [tested["is_higher"], tested["is_lower"]], ["detractors", "promoters"], "neither"
    )
    order = tested["over_represented_in"].map({"detractors": 0, "promoters": 1, "neither": 2})
    tested = tested.assign(_order=order).sort_values(["_order", "q_value", "p_value", "term"], kind="stable")
    return tested[GROUP_TERM_COLUMNS].reset_index(drop=True)


def _compare_shares(
    count: pd.Series,
    comments: int,
    reference_count: pd.Series,
    reference_comments: int,
    *,
    alpha: float,
    names: tuple[str, str],
) -> pd.DataFrame:
    """Test count/comments against reference_count/reference_comments for every term at once."""
    first, second = names
    count_name = f"{first}count" if first else "count"
    comments_name = f"{first}comments" if first else "comments"
    share_name = f"{first}share" if first else "share"
    g2, p_value = log_likelihood_test(reference_count, reference_comments, count, comments)
    out = pd.DataFrame(
        {
            "term": count.index.astype("str"),
            count_name: count.to_numpy(np.int64),
            comments_name: comments,
            share_name: count.to_numpy(float) / comments,
            f"{second}count": reference_count.to_numpy(np.int64),
            f"{second}comments": reference_comments,
            f"{second}share": reference_count.to_numpy(float) / reference_comments,
            "ratio": ((count.to_numpy(float) + 0.5) / (comments + 1))
            / ((reference_count.to_numpy(float) + 0.5) / (reference_comments + 1)),
            "g2": g2,
            "p_value": p_value,
        }
    )
    out["is_higher"] = out[share_name].to_numpy() > out[f"{second}share"].to_numpy()
    out["is_lower"] = out[share_name].to_numpy() < out[f"{second}share"].to_numpy()
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy())
    out["is_significant"] = (out["q_value"] < alpha).to_numpy()
    return out


def describe_terms(
    responses: pd.DataFrame,
    terms: list[str],
    *,
    weeks: list[str] | None = None,
    max_chars: int = MAX_COMMENT_CHARS,
) -> pd.DataFrame:
    """Return term_verbatims: one row per term in `terms` (in the given order) over the comments of `weeks`
    (default: all): comments holding the term, mean VADER compound sentiment of those comments (-1..1,
    NaN when none), and up to three verbatims with their response ids.

    Verbatims are the ORIGINAL comment text (untrusted: escape when rendering), chosen
    deterministically: most recent submitted_at first, then response_id.
    A comment holds a term when the analyser used for counting would count it there.
    """
    frame = _comment_frame(responses, max_chars=max_chars, weeks=weeks)
    terms = [str(term) for term in dict.fromkeys(terms)]
    if not terms:
        return _empty(TERM_DETAIL_COLUMNS)
    sort_keys = ["submitted_at", "response_id"] if "submitted_at" in frame.columns else ["response_id"]
    frame = frame.sort_values(sort_keys, ascending=[False] * (len(sort_keys) - 1) + [True], kind="stable")
    if frame.empty:
        matrix = sparse.csc_matrix((0, len(terms)), dtype=np.int32)
    else:
        matrix = _vectorizer(vocabulary=terms).transform(frame["text"]).tocsc()
    holders = matrix.getnnz(axis=0)
    # Score only comments that hold at least one term: VADER is the slow step.
    needed = np.flatnonzero(matrix.getnnz(axis=1) > 0)
    compound = np.zeros(len(frame))
    analyzer = _sentiment_analyzer()
    # A comment is described again each week its term stays highlighted: its score is kept for the batch.
    scored: dict[str, float] = once_per_batch("comment sentiment", responses, dict)
    for row, text in zip(needed, frame["text"].to_numpy()[needed], strict=True):
        if text not in scored:
            scored[text] = analyzer.polarity_scores(text)["compound"]
        compound[row] = scored[text]
    with np.errstate(invalid="ignore", divide="ignore"):
        sentiment = np.asarray(matrix.T @ compound).ravel() / np.where(holders > 0, holders, np.nan)

    details = pd.DataFrame({"term": terms, "comments": holders.astype(np.int64), "sentiment": sentiment})
    originals = frame["original"].to_numpy(dtype=object)
    response_ids = frame["response_id"].to_numpy(dtype=object)
    for position in range(3):
        details[f"verbatim_{position + 1}"] = None
        details[f"response_id_{position + 1}"] = None
    for column_index in range(len(terms)):  # one pass per highlighted term (a handful), never per comment
        rows = np.sort(matrix.indices[matrix.indptr[column_index] : matrix.indptr[column_index + 1]])[:3]
        for position, row in enumerate(rows):
            details.loc[column_index, f"verbatim_{position + 1}"] = originals[row]
            details.loc[column_index, f"response_id_{position + 1}"] = response_ids[row]
    return details[TERM_DETAIL_COLUMNS]


@functools.cache
def _sentiment_analyzer() -> SentimentIntensityAnalyzer:
    # The lexicon ships inside the vaderSentiment wheel; building the analyser once avoids re-reading it.
    return SentimentIntensityAnalyzer()


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in columns})
