"""The simulation: customers, their purchase rhythms, purchases, refunds, survey answers and planted defects.

It returns one frame per entity of raw rows as the sources deliver them (:func:`build_demo_frames`);
:mod:`demo.files` writes them.
"""

from __future__ import annotations

import logging
import math
from datetime import date, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics._frames import is_detractor
from demo.comments import SPECIALS, CommentWriter
from demo.files import KIND_ORDER
from demo.patterns import (
    DETRACTOR_CHURN_PROBABILITY,
    DETRACTOR_RATE_MULTIPLIER,
    DRIVER_WEIGHTS,
    INVALID_SHARE,
    REFUND_SHARE,
    THEME_BASE_SHARE,
    THEME_WEEK_SHARES,
    WEB_DELIVERY_EVERY,
    theme_weeks,
)
from loyalty.contract import SERVICE_DIMENSIONS, SURVEY_CHANNELS, TRANSACTION_CHANNELS

logger = logging.getLogger(__name__)

#: Columns of every frame from :func:`build_demo_frames` that are not contract columns (never written).
HELPER_COLUMNS = ("delivery_day", "file_kind", "invalid_kind")

REGIONS = ("North", "South", "East", "West")

_REGION_P = (0.28, 0.34, 0.17, 0.21)
# Channel preference types: online-first, store-first, phone-leaning; rows are P(online, in_store, phone).
_PREF_TYPE_P = (0.45, 0.45, 0.10)
_PREF_CHANNEL_P = np.array([[0.75, 0.20, 0.05], [0.15, 0.80, 0.05], [0.30, 0.30, 0.40]])
_WEEKDAY_FACTOR = np.array([0.90, 0.92, 0.95, 1.00, 1.12, 1.30, 0.81])  # Monday..Sunday
_MONTH_FACTOR = np.array([0.85, 0.88, 0.95, 0.97, 1.0, 0.98, 0.96, 0.94, 0.98, 1.02, 1.10, 1.30])
_SURVEY_P = np.array([0.28, 0.22, 0.25])  # by transaction channel (online, in_store, phone)
# P(survey channel | transaction channel); columns follow SURVEY_CHANNELS.
_SURVEY_CHANNEL_P = np.array(
    [
        [0.62, 0.00, 0.00, 0.38, 0.00],  # online purchase -> online form or email invitation
        [0.00, 0.00, 0.38, 0.30, 0.32],  # in-store purchase -> comment card, email, in-store interview
        [0.00, 0.72, 0.00, 0.28, 0.00],  # phone purchase -> phone interview or email
    ]
)
_COMMENT_P = np.array([0.40, 0.38, 0.85, 0.36, 0.28])  # by survey channel, before the sentiment nudge
_NPS_P = (0.03, 0.015, 0.02, 0.025, 0.03, 0.05, 0.07, 0.10, 0.20, 0.21, 0.25)
_CSAT_P = (0.06, 0.09, 0.17, 0.38, 0.30)
_CES_P = (0.04, 0.05, 0.08, 0.13, 0.20, 0.27, 0.23)
_DIM_P = (0.05, 0.10, 0.22, 0.35, 0.28)


def _hour_cdf(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w / w.sum())


# Local-time hour profiles. Shops open 08:00-20:00 (Sunday 10:00-16:00), phones 08:00-20:00 (weekend 09-17).
_HOUR_CDFS = np.stack(
    [
        _hour_cdf([2, 1, 0.6, 0.4, 0.4, 0.6, 1.5, 3, 4, 5, 5.5, 6, 6.5, 6, 5.5, 5.5, 6, 7, 8, 9, 9.5, 8.5, 6, 3.5]),
        _hour_cdf([0] * 8 + [3, 5, 7, 8, 10, 10, 9, 8, 8, 9, 8, 6] + [0] * 4),
        _hour_cdf([0] * 10 + [6, 9, 10, 9, 8, 6] + [0] * 8),
        _hour_cdf([0] * 8 + [4, 8, 9, 8, 7, 7, 8, 7, 6, 5, 4, 3] + [0] * 4),
        _hour_cdf([0] * 9 + [5, 7, 7, 6, 6, 5, 4, 3] + [0] * 7),
    ]
)
_H_ONLINE, _H_STORE, _H_STORE_SUNDAY, _H_PHONE, _H_PHONE_WEEKEND = range(5)

# Timestamp renderings.
_TS_NAIVE, _TS_NAIVE_MINUTES, _TS_OFFSET, _TS_UTC_Z, _TS_UTC_MILLIS = range(5)


def _thresholds(probabilities: tuple[float, ...]) -> np.ndarray:
    cum = np.cumsum(probabilities)[:-1]
    return np.array([NormalDist().inv_cdf(float(p)) for p in cum])


def _stream(seed: int, name: str) -> np.random.Generator:
    """One independent generator per concern, so changing one part does not reshuffle the others."""
    return np.random.default_rng(np.random.SeedSequence([seed, *name.encode("ascii")]))


def build_demo_frames(
    start: date,
    end: date,
    seed: int = 7,
    n_customers: int = 3000,
    source_tz: str = "Europe/London",
) -> dict[str, pd.DataFrame]:
    """Simulate the range and return one frame per entity of raw rows as the sources deliver them.

    Columns are the contract's (values raw: timestamps and amounts are the delivered text, so invalid values
    survive; scores are nullable ``Int64``) plus ``delivery_day`` (``datetime.date`` of the file), ``file_kind``
    (a key of ``FILE_KINDS``) and ``invalid_kind`` (``""`` for a valid row, else the planted defect). Rows are
    sorted by delivery day, file kind, then as they appear in the file.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    sim = Simulation(start, end, seed, n_customers, ZoneInfo(source_tz))
    return sim.frames()


_FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Grace", "Sophia", "Poppy", "Evie", "Ella",
    "Ruby", "Chloe", "Emily", "Zara", "Aisha", "Priya", "Hannah", "Megan", "Niamh", "Siobhan", "Fatima", "Noah",
    "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie", "Jacob", "Thomas", "Alfie",
    "Mohammed", "Rhys", "Callum", "Dylan", "Ethan", "Samuel", "Joseph", "Daniel", "Kwame", "Tomasz", "Luca",
    "Arjun", "Liam", "Owen", "Ben", "Sam", "Kate", "Lucy", "Jess", "Sarah", "Rebecca", "Laura", "David", "James",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke", "Jackson", "Wood",
    "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark", "King",
    "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker", "James",
    "Bennett", "Young", "Phillips", "Richardson", "Mitchell", "Bailey", "Carter", "Cook", "Singh", "Shaw", "Bell",
    "Collins", "Morgan", "Kelly", "Begum", "Miller", "Cox", "Hussain", "Marshall", "Simpson", "Price",
    "Anderson", "Adams", "Wilkinson", "Ali", "Ahmed", "Foster", "Ellis", "Murphy", "Chapman", "Mason", "Gray",
    "Richards", "Webb", "Griffiths", "Hunt", "Palmer", "Campbell", "Holmes", "Mills", "Rogers", "Barnes",
    "Knight", "Matthews", "Barker", "Kowalski", "Nowak", "O'Brien", "Okafor", "Nguyen", "Rossi",
)  # fmt: skip


class Simulation:
    """Simulates customers and their events; ``frames()`` renders them as the sources deliver them."""

    def __init__(
        self,
        start: date,
        end: date,
        seed: int,
        n_customers: int,
        tz: ZoneInfo,
        *,
        purchase_rate: float = 1.0,
        survey_rate: float = 1.0,
        comment_rate: float = 1.0,
    ) -> None:
        """The rates scale the demo's volumes (the benchmark's year uses them); 1.0 each is the demo itself.

        ``purchase_rate`` divides every customer's mean gap between purchases, and the churn chances per
        purchase and per detractor answer with it, so that buying more often does not mean churning more often
        per year. ``survey_rate`` and ``comment_rate`` multiply the chance of a survey per purchase and of a
        comment per survey.
        """
        self.start, self.end, self.seed, self.n, self.tz = start, end, seed, n_customers, tz
        self.purchase_rate = purchase_rate
        self.churn_scale = 1.0 / purchase_rate
        self.detractor_churn = DETRACTOR_CHURN_PROBABILITY * min(1.0, self.churn_scale / survey_rate)
        self.survey_p = np.clip(_SURVEY_P * survey_rate, 0.0, 1.0)
        self.comment_p = np.clip(_COMMENT_P * comment_rate, 0.0, 0.95)
        self.days = (end - start).days + 1
        d = np.arange(self.days)
        self.weekday = (start.weekday() + d) % 7
        months = np.array([(start + timedelta(days=int(i))).month for i in d])
        self.weight = _WEEKDAY_FACTOR[self.weekday] * _MONTH_FACTOR[months - 1]
        self.weight = self.weight / self.weight.mean()
        # Customer clocks run in "activity time" tau; W maps day boundaries to tau, so busy days get more events.
        self.W = np.concatenate([[0.0], np.cumsum(self.weight)])
        weeks = theme_weeks(start, end)
        self.theme_level = np.zeros(self.days, dtype=np.int8)
        for i in d:
            iso = (start + timedelta(days=int(i))).isocalendar()
            label = f"{iso.year}-W{iso.week:02d}"
            if label in weeks:
                self.theme_level[i] = weeks.index(label) + 1
        self.nps_cut = _thresholds(_NPS_P)
        self.csat_cut = _thresholds(_CSAT_P)
        self.ces_cut = _thresholds(_CES_P)
        self.dim_cut = _thresholds(_DIM_P)
        w = np.array(list(DRIVER_WEIGHTS.values()))
        cov = np.full((5, 5), 0.75**2) + np.eye(5) * (1 - 0.75**2)
        self.driver_w = w
        self.z_sd = math.sqrt(float(w @ cov @ w) + 0.45**2)

    # ---- helpers --------------------------------------------------------------------------------------

    @staticmethod
    def _hours(rng: np.random.Generator, profile: np.ndarray) -> np.ndarray:
        """Seconds into the day, drawn from per-row hour profiles (indices into _HOUR_CDFS)."""
        u = rng.random(profile.size)
        hour = (u[:, None] > _HOUR_CDFS[profile]).sum(axis=1)
        return np.minimum(hour, 23) * 3600 + rng.integers(0, 3600, profile.size)

    def _profile(self, channel: np.ndarray, day: np.ndarray, *, survey: bool = False) -> np.ndarray:
        """Hour profile per row. channel codes follow TRANSACTION_CHANNELS, or SURVEY_CHANNELS if survey."""
        wd = self.weekday[np.clip(day, 0, self.days - 1)]
        if survey:
            is_store = (channel == 2) | (channel == 4)
            is_phone = channel == 1
        else:
            is_store = channel == 1
            is_phone = channel == 2
        out = np.full(channel.size, _H_ONLINE, dtype=np.int64)
        out[is_store] = np.where(wd[is_store] == 6, _H_STORE_SUNDAY, _H_STORE)
        out[is_phone] = np.where(wd[is_phone] >= 5, _H_PHONE_WEEKEND, _H_PHONE)
        return out

    def _cut(self, x: np.ndarray, cuts: np.ndarray, low: int) -> np.ndarray:
        return (np.searchsorted(cuts, x) + low).astype(np.int16)

    def _format(self, local_sec: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Render local wall-clock seconds (from the first day's midnight) as ISO 8601 text per format code."""
        millis = rng.integers(0, 1000, local_sec.size)
        out = np.empty(local_sec.size, dtype=object)
        step = 250_000  # bounds the fixed-width text temporaries on big runs
        for lo in range(0, local_sec.size, step):
            hi = lo + step
            out[lo:hi] = self._format_chunk(local_sec[lo:hi], codes[lo:hi], millis[lo:hi])
        return out

    def _format_chunk(self, local_sec: np.ndarray, codes: np.ndarray, millis: np.ndarray) -> np.ndarray:
        base = np.datetime64(self.start.isoformat(), "ns")
        naive = pd.DatetimeIndex(base + local_sec.astype("timedelta64[s]").astype("timedelta64[ns]"))
        key = self.tz.key
        aware = naive.as_unit("ns").tz_localize(key, ambiguous="NaT", nonexistent="NaT")
        bad = np.asarray(aware.isna())
        utc_ns = aware.as_unit("ns").asi8.copy()
        if bad.any():
            # In a fold or gap: keep one instant (the first reading, or shifted forward), never write it naive.
            fixed = (
                naive[bad]
                .as_unit("ns")
                .tz_localize(key, ambiguous=np.ones(int(bad.sum()), dtype=bool), nonexistent="shift_forward")
            )
            utc_ns[bad] = fixed.as_unit("ns").asi8
            codes = np.where(bad & (codes <= _TS_NAIVE_MINUTES), _TS_OFFSET, codes)
        utc_idx = pd.to_datetime(utc_ns, unit="ns", utc=True)
        local_ns = utc_idx.tz_convert(key).tz_localize(None).as_unit("ns").asi8
        offset_min = (local_ns - utc_ns) // 60_000_000_000
        local_txt = np.datetime_as_string(local_ns.astype("datetime64[ns]").astype("datetime64[s]"), unit="s")
        utc_txt = np.datetime_as_string(utc_ns.astype("datetime64[ns]").astype("datetime64[s]"), unit="s")
        out = np.empty(local_sec.size, dtype=object)
        m = codes == _TS_NAIVE
        out[m] = local_txt[m]
        m = codes == _TS_NAIVE_MINUTES
        out[m] = local_txt[m].astype("U16")
        m = codes == _TS_OFFSET
        if m.any():
            offsets = {
                int(o): f"{'+' if o >= 0 else '-'}{abs(int(o)) // 60:02d}:{abs(int(o)) % 60:02d}"
                for o in np.unique(offset_min[m])
            }
            suffix = np.array([offsets[int(o)] for o in offset_min[m]])
            out[m] = np.char.add(local_txt[m].astype(str), suffix)
        m = codes == _TS_UTC_Z
        out[m] = np.char.add(utc_txt[m].astype(str), "Z")
        m = codes == _TS_UTC_MILLIS
        if m.any():
            ms = np.char.zfill(millis[m].astype(str), 3)
            out[m] = np.char.add(np.char.add(np.char.add(utc_txt[m].astype(str), "."), ms), "Z")
        return out

    def _codes(self, rng: np.random.Generator, n: int, p: dict[int, float]) -> np.ndarray:
        keys = np.array(list(p))
        return keys[rng.choice(len(keys), size=n, p=np.array(list(p.values())))]

    # ---- customers ------------------------------------------------------------------------------------

    def _customers(self) -> None:
        rng = _stream(self.seed, "customers")
        n = self.n
        n_new = round(n * self.days / (self.days + 400))
        n_old = n - n_new
        day = np.concatenate(
            [
                -rng.integers(1, 731, n_old),
                rng.choice(self.days, size=n_new, p=self.weight / self.weight.sum()),
            ]
        )
        profile = np.full(n, _H_ONLINE)
        tod = self._hours(rng, profile)
        tod = np.where(day < 0, np.clip(tod, 7 * 3600, 22 * 3600), tod)
        order = np.lexsort((tod, day))
        self.c_day = day[order]
        self.c_sec = self.c_day * 86400 + tod[order]
        self.c_new = self.c_day >= 0
        self.c_region = rng.choice(4, size=n, p=_REGION_P)
        self.c_region_known = rng.random(n) >= 0.03
        self.c_business = rng.random(n) < 0.2
        self.c_segment_known = rng.random(n) >= 0.02
        first = rng.integers(0, len(_FIRST_NAMES), n)
        last = rng.integers(0, len(_LAST_NAMES), n)
        suffix = np.where(rng.random(n) < 0.35, rng.integers(1, 100, n), 0)
        self.c_email = [
            f"{_FIRST_NAMES[f].lower()}.{_LAST_NAMES[g].lower().replace(chr(39), '')}{s or ''}@example.com"
            for f, g, s in zip(first.tolist(), last.tolist(), suffix.tolist(), strict=True)
        ]
        self.c_email_known = rng.random(n) >= 0.08
        self.c_sat = rng.standard_normal(n)
        self.c_gap = np.clip(8 + rng.gamma(1.6, 14.0, n), 8, 150) / self.purchase_rate
        pref_type = rng.choice(3, size=n, p=_PREF_TYPE_P)
        self.c_pref_cdf = np.cumsum(_PREF_CHANNEL_P[pref_type], axis=1)
        self.c_spend = math.log(48) + 0.35 * rng.standard_normal(n) + np.log(1.6) * self.c_business
        self.c_eur = rng.random(n) < 0.04
        self.c_dormant = ~self.c_new & (rng.random(n) < 0.08)
        self.c_ids = np.array([f"C{i:07d}" for i in range(1, n + 1)], dtype=object)

    # ---- purchases and surveys ------------------------------------------------------------------------

    def _simulate(self) -> None:
        rng = _stream(self.seed, "events")
        n = self.n
        tau_end = self.W[-1]
        cday = np.clip(self.c_day, 0, self.days - 1)
        frac = (self.c_sec - self.c_day * 86400) / 86400
        tau_created = np.where(self.c_new, self.W[cday] + frac * self.weight[cday], -np.inf)
        gap0 = rng.gamma(2.0, self.c_gap / 2)
        at_signup = self.c_new & (rng.random(n) < 0.6)
        tau_next = np.where(
            self.c_new,
            np.where(at_signup, tau_created, tau_created + np.maximum(gap0, 1.0)),
            rng.random(n) * gap0,
        )
        alive = ~self.c_dormant
        mult = np.ones(n)
        purchases: list[dict[str, np.ndarray]] = []
        surveys: list[dict[str, np.ndarray]] = []
        seq = 0
        while True:
            idx = np.flatnonzero(alive & (tau_next < tau_end))
            if idx.size == 0:
                break
            p, s = self._events(rng, idx, tau_next[idx], at_signup[idx], seq)
            seq += idx.size
            purchases.append(p)
            surveys.append(s)
            at_signup[idx] = False
            detractor = np.zeros(n, dtype=bool)
            detractor[s["cust"][is_detractor(pd.Series(s["nps"])).to_numpy()]] = True
            det = detractor[idx]
            mult[idx[det]] = np.minimum(mult[idx[det]], DETRACTOR_RATE_MULTIPLIER)
            base_churn = (0.012 + 0.02 * (self.c_sat[idx] < -1)) * self.churn_scale
            churn = (rng.random(idx.size) < base_churn) | (det & (rng.random(idx.size) < self.detractor_churn))
            alive[idx[churn]] = False
            tau_next[idx] += np.maximum(rng.gamma(2.0, self.c_gap[idx] / 2) / mult[idx], 0.3)
        if not purchases:  # nobody bought anything: keep the column shapes with no rows
            p, s = self._events(rng, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool), 0)
            purchases, surveys = [p], [s]
        self.p = {k: np.concatenate([c[k] for c in purchases]) for k in purchases[0]}
        self.s = {k: np.concatenate([c[k] for c in surveys]) for k in surveys[0]}

    def _events(
        self, rng: np.random.Generator, idx: np.ndarray, tau: np.ndarray, at_signup: np.ndarray, seq: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        m = idx.size
        day = np.clip(np.searchsorted(self.W, tau, side="right") - 1, 0, self.days - 1)
        u = rng.random(m)
        channel = (u[:, None] > self.c_pref_cdf[idx]).sum(axis=1).clip(0, 2)
        # A purchase at sign-up outside shop and phone hours happened online.
        signup_hour = (self.c_sec[idx] - self.c_day[idx] * 86400) // 3600
        channel = np.where(at_signup & ((signup_hour < 8) | (signup_hour >= 19)), 0, channel)
        tod = self._hours(rng, self._profile(channel, day))
        signup_tod = self.c_sec[idx] - self.c_day[idx] * 86400 + rng.integers(60, 2400, m)
        tod = np.where(at_signup, np.minimum(signup_tod, 86399), tod)
        # Never before the customer's sign-up, never past the end of the event's day.
        local_sec = np.minimum(np.maximum(day * 86400 + tod, self.c_sec[idx] + 60), day * 86400 + 86399)
        amount = np.round(np.clip(np.exp(self.c_spend[idx] + 0.55 * rng.standard_normal(m)), 1.5, 3000), 2)
        eur = np.where(self.c_eur[idx], rng.random(m) < 0.85, rng.random(m) < 0.005)
        amount = np.where(eur, np.round(amount * 1.15, 2), amount)
        home = self.c_region[idx]
        away = (home + rng.integers(1, 4, m)) % 4
        region = np.where(channel == 1, np.where(rng.random(m) < 0.9, home, away), home)
        region_known = np.where(channel == 0, rng.random(m) < 0.7, np.where(channel == 2, rng.random(m) < 0.8, True))
        region = np.where(region_known, region, -1)
        purchase = {
            "seq": seq + np.arange(m),
            "cust": idx,
            "day": day,
            "sec": local_sec,
            "channel": channel.astype(np.int8),
            "amount": amount,
            "eur": eur,
            "region": region.astype(np.int8),
        }

        # Survey: whether one follows, on which channel, when.
        has = rng.random(m) < self.survey_p[channel]
        cdf = np.cumsum(_SURVEY_CHANNEL_P[channel], axis=1)
        sch = (rng.random(m)[:, None] > cdf).sum(axis=1).clip(0, 4)
        delay = rng.integers(1, 6, m)
        same_day = (sch == 2) | (sch == 4) | ((sch == 0) & (rng.random(m) < 0.55))
        sub_day = np.where(same_day, day, day + delay)
        later_tod = self._hours(rng, self._profile(sch, sub_day, survey=True))
        minutes_after = np.where(sch == 0, rng.integers(600, 6 * 3600, m), rng.integers(120, 5400, m))
        sub_sec = np.where(same_day, local_sec + minutes_after, sub_day * 86400 + later_tod)
        sub_day = sub_sec // 86400
        has &= sub_day < self.days

        # Latent experience: the customer's satisfaction, then five correlated dimensions, then the total.
        r = 0.55 * self.c_sat[idx] + 0.835 * rng.standard_normal(m)
        dims = 0.75 * r[:, None] + math.sqrt(1 - 0.75**2) * rng.standard_normal((m, 5))
        noise = 0.45 * rng.standard_normal(m)
        z_pre = (dims @ self.driver_w + noise) / self.z_sd
        comment_p = self.comment_p[sch] + 0.15 * (z_pre < -0.6) - 0.05 * (z_pre > 0.8)
        has_comment = rng.random(m) < comment_p
        level = self.theme_level[np.clip(sub_day, 0, self.days - 1)]
        theme_p = np.where(level == 0, THEME_BASE_SHARE, np.array([0.0, *THEME_WEEK_SHARES])[level])
        theme = has & has_comment & (rng.random(m) < theme_p)
        dims[theme, 0] -= 1.2  # the app failing is a reliability failure
        z = (dims @ self.driver_w + noise) / self.z_sd - 0.8 * theme
        nps = self._cut(z, self.nps_cut, 0)
        csat = self._cut(0.85 * z + 0.53 * rng.standard_normal(m), self.csat_cut, 1)
        ces = self._cut(0.7 * z + 0.71 * rng.standard_normal(m), self.ces_cut, 1)
        dim_scores = self._cut(dims.ravel(), self.dim_cut, 1).reshape(m, 5)
        k = np.flatnonzero(has)
        survey = {
            "purchase_seq": seq + k,
            "cust": idx[k],
            "channel": sch[k].astype(np.int8),
            "sec": sub_sec[k],
            "day": sub_day[k],
            "nps": nps[k],
            "csat": csat[k],
            "ces": ces[k],
            "dims": dim_scores[k],
            "low": dims[k].argmin(axis=1).astype(np.int8),
            "high": dims[k].argmax(axis=1).astype(np.int8),
            "comment": has_comment[k],
            "theme": theme[k],
            "region": region[k].astype(np.int8),
        }
        return purchase, survey

    # ---- rendering ------------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        self._customers()
        self._simulate()
        customers = self._customer_frame()
        transactions = self._transaction_frame()
        responses = self._survey_frame()
        inv = _stream(self.seed, "invalid")
        return {
            "customers": self._finish(self._plant_customers(customers, inv)),
            "transactions": self._finish(self._plant_transactions(transactions, inv)),
            "survey_responses": self._finish(self._plant_responses(responses, inv)),
        }

    def _late(self, rng: np.random.Generator, day: np.ndarray, share: float, most: int) -> np.ndarray:
        late = rng.random(day.size) < share
        return np.minimum(day + np.where(late, rng.integers(1, most + 1, day.size), 0), self.days - 1)

    def _customer_frame(self) -> pd.DataFrame:
        rng = _stream(self.seed, "customer-rows")
        n = self.n
        codes = self._codes(rng, n, {_TS_NAIVE: 0.7, _TS_OFFSET: 0.2, _TS_UTC_Z: 0.1})
        region = np.array(REGIONS, dtype=object)[self.c_region]
        delivery = np.where(self.c_new, self._late(rng, np.maximum(self.c_day, 0), 0.03, 3), 0)
        return pd.DataFrame(
            {
                "customer_id": self.c_ids,
                "created_at": self._format(self.c_sec, codes, rng),
                "region": np.where(self.c_region_known, region, None),
                "segment": np.where(
                    self.c_segment_known, np.where(self.c_business, "business", "consumer"), None
                ).astype(object),
                "email": np.where(self.c_email_known, np.array(self.c_email, dtype=object), None),
                "_day": delivery,
                "_kind": "crm",
                "_order": self.c_sec.astype(float),
            }
        )

    def _transaction_frame(self) -> pd.DataFrame:
        rng = _stream(self.seed, "transaction-rows")
        p = self.p
        refund = rng.random(p["cust"].size) < REFUND_SHARE
        r_day = p["day"][refund] + rng.integers(1, 22, int(refund.sum()))
        keep = r_day < self.days
        ri = np.flatnonzero(refund)[keep]
        r_day = r_day[keep]
        r_tod = self._hours(rng, self._profile(p["channel"][ri], r_day))
        cust = np.concatenate([p["cust"], p["cust"][ri]])
        day = np.concatenate([p["day"], r_day])
        sec = np.concatenate([p["sec"], r_day * 86400 + r_tod])
        channel = np.concatenate([p["channel"], p["channel"][ri]])
        amount = np.concatenate([p["amount"], -p["amount"][ri]])
        eur = np.concatenate([p["eur"], p["eur"][ri]])
        region = np.concatenate([p["region"], p["region"][ri]])
        order = np.lexsort((cust, sec))
        cust, day, sec, channel, amount, eur, region = (
            a[order] for a in (cust, day, sec, channel, amount, eur, region)
        )
        n = cust.size
        prefixes = np.array(["ORD", "POS", "TEL"], dtype=object)[channel]
        numbers = np.zeros(n, dtype=np.int64)
        for c in range(3):
            mask = channel == c
            numbers[mask] = 1_000_001 + np.arange(int(mask.sum()))
        ids = [f"{a}-{b:08d}" for a, b in zip(prefixes.tolist(), numbers.tolist(), strict=True)]
        web = (channel == 0) & ((day % WEB_DELIVERY_EVERY) == WEB_DELIVERY_EVERY - 1)
        codes = np.where(web, _TS_UTC_MILLIS, self._codes(rng, n, {_TS_NAIVE: 0.75, _TS_OFFSET: 0.2, _TS_UTC_Z: 0.05}))
        delivery = np.where(web, day, self._late(rng, day, 0.015, 3))
        region_txt = np.array([*REGIONS, None], dtype=object)[region]  # -1 picks the trailing None
        return pd.DataFrame(
            {
                "transaction_id": np.array(ids, dtype=object),
                "customer_id": self.c_ids[cust],
                "occurred_at": self._format(sec, codes, rng),
                "amount": np.array([f"{a:.2f}" for a in amount.tolist()], dtype=object),
                "currency": np.where(eur, "EUR", "GBP").astype(object),
                "channel": np.array(TRANSACTION_CHANNELS, dtype=object)[channel],
                "region": region_txt,
                "_day": delivery,
                "_kind": np.where(web, "web", "pos").astype(object),
                "_order": sec.astype(float),
            }
        )

    def _survey_frame(self) -> pd.DataFrame:
        rng = _stream(self.seed, "survey-rows")
        s = self.s
        order = np.lexsort((s["purchase_seq"], s["sec"]))
        s = {k: v[order] for k, v in s.items()}
        n = s["cust"].size
        ch = s["channel"]
        kind = np.array(["voicebox", "callcentre", "cards", "voicebox", "callcentre"], dtype=object)[ch]
        is_vb, is_card = kind == "voicebox", kind == "cards"
        is_phone, is_instore = ch == 1, ch == 4

        def present(p_vb: float, p_phone: float, p_store: float, p_card: float) -> np.ndarray:
            p = np.select([is_vb, is_phone, is_instore, is_card], [p_vb, p_phone, p_store, p_card])
            return rng.random(n) < p

        has_nps = present(0.97, 0.99, 0.95, 0.35)
        has_csat = present(0.95, 0.97, 0.95, 0.90)
        has_ces = present(0.90, 0.95, 0.60, 0.0)
        has_dims = present(0.95, 0.97, 0.50, 0.0)[:, None] & (rng.random((n, 5)) >= 0.03)
        has_comment = s["comment"]
        none = ~has_nps & ~has_csat & ~has_comment
        has_csat = has_csat | none
        anonymous = present(0.03, 0.0, 0.0, 0.65)
        region_missing = rng.random(n) < 0.08

        # Sentiment from what the customer answered: nps class, or csat on a card without nps.
        sentiment = np.where(s["nps"] >= 9, 2, np.where(s["nps"] >= 7, 1, 0))
        card_sentiment = np.where(s["csat"] >= 4, 2, np.where(s["csat"] == 3, 1, 0))
        sentiment = np.where(has_nps, sentiment, card_sentiment)
        comments = np.full(n, None, dtype=object)
        writer = CommentWriter(rng)
        rows = np.flatnonzero(has_comment)
        uniforms = rng.random((rows.size, 24))
        low, high, theme = s["low"].tolist(), s["high"].tolist(), s["theme"].tolist()
        sent_list, kind_list = sentiment.tolist(), kind.tolist()
        for j, i in enumerate(rows.tolist()):
            comments[i] = writer.compose(sent_list[i], low[i], high[i], theme[i], kind_list[i], uniforms[j])
        # The planted specials, each once, on commented responses outside the theme.
        candidates = rows[~s["theme"][rows]]
        candidates = candidates[rng.permutation(candidates.size)]
        used: set[int] = set()
        for name, kinds, template in SPECIALS:
            for i in candidates.tolist():
                if i not in used and kind_list[i] in kinds:
                    used.add(i)
                    comments[i] = writer.special(template, comments[i], rng.random(24))
                    break
            else:
                logger.debug("demo: no room for the %s comment", name)

        ids = np.empty(n, dtype=object)
        for k, (prefix, width) in {
            "voicebox": ("VB", 9),
            "callcentre": ("CC-", 7),
            "cards": ("CARD-", 7),
        }.items():
            mask = kind == k
            ids[mask] = [f"{prefix}{i:0{width}d}" for i in range(100_001, 100_001 + int(mask.sum()))]
        codes = np.select(
            [is_vb, is_card],
            [
                self._codes(rng, n, {_TS_UTC_MILLIS: 0.6, _TS_OFFSET: 0.3, _TS_NAIVE: 0.1}),
                self._codes(rng, n, {_TS_NAIVE_MINUTES: 0.5, _TS_NAIVE: 0.5}),
            ],
            self._codes(rng, n, {_TS_NAIVE: 0.6, _TS_OFFSET: 0.4}),
        )
        # Cards are keyed in on Mondays and Thursdays (and on the last day) from the box in each store.
        batch_day = np.flatnonzero(np.isin(self.weekday, (0, 3)) | (np.arange(self.days) == self.days - 1))
        card_delivery = batch_day[np.searchsorted(batch_day, s["day"])]
        delivery = np.where(is_card, card_delivery, np.where(is_vb, self._late(rng, s["day"], 0.01, 2), s["day"]))

        def score(values: np.ndarray, mask: np.ndarray) -> pd.Series:
            return pd.Series(pd.array(np.where(mask, values, 0), dtype="Int64")).mask(~mask)

        region = np.array([*REGIONS, None], dtype=object)[s["region"]]
        frame = {
            "response_id": ids,
            "customer_id": np.where(anonymous, None, self.c_ids[s["cust"]]),
            "submitted_at": self._format(s["sec"], codes, rng),
            "channel": np.array(SURVEY_CHANNELS, dtype=object)[ch],
            "nps": score(s["nps"], has_nps),
            "csat": score(s["csat"], has_csat),
            "ces": score(s["ces"], has_ces),
        }
        for j, dim in enumerate(SERVICE_DIMENSIONS):
            frame[dim] = score(s["dims"][:, j], has_dims[:, j])
        frame.update(
            {
                "comment": comments,
                "region": np.where(region_missing, None, region),
                "_day": delivery,
                "_kind": kind,
                "_order": s["sec"].astype(float),
            }
        )
        return pd.DataFrame(frame)

    # ---- invalid rows ---------------------------------------------------------------------------------

    def _plant(
        self,
        df: pd.DataFrame,
        rng: np.random.Generator,
        kinds: list[tuple[str, tuple[str, ...], list]],
        id_column: str,
        new_id,
    ) -> pd.DataFrame:
        """Append invalid copies of random donor rows. kinds: (name, donor file kinds, variants), where a
        variant is a function (row dict, rng) -> row dict, or the string "duplicate" for a conflicting
        copy delivered in a later file of the same kind."""
        minimum = sum(len(v) for _, _, v in kinds)
        total = max(minimum, round(INVALID_SHARE * len(df)))
        counts = [len(v) for _, _, v in kinds]
        for j in range(total - minimum):
            counts[j % len(kinds)] += 1
        extra = []
        taken: set[int] = set()
        file_kind = df["_kind"].to_numpy()
        day = df["_day"].to_numpy()
        last_day = self.days - 1
        for (name, donor_kinds, variants), count in zip(kinds, counts, strict=True):
            eligible = np.isin(file_kind, donor_kinds)
            if variants == ["duplicate"]:
                eligible &= day < last_day
            pool = np.flatnonzero(eligible)
            pick = rng.choice(pool, size=min(pool.size, count + len(taken)), replace=False) if pool.size else pool
            donors = [int(i) for i in pick if int(i) not in taken][:count]
            for j, donor in enumerate(donors):
                variant = variants[j % len(variants)]
                taken.add(donor)
                row = df.iloc[donor].to_dict()
                if variant == "duplicate":
                    row = _conflict(row, rng)
                    row["_day"] = min(last_day, int(row["_day"]) + int(rng.integers(1, 4)))
                else:
                    row = variant(row)
                    if not _missing(row[id_column]):
                        row[id_column] = new_id(row)
                row["_order"] = float(row["_order"]) + 0.5
                row["invalid_kind"] = name
                extra.append(row)
        out = df.assign(invalid_kind="")
        if extra:
            added = pd.DataFrame(extra, columns=out.columns).astype(out.dtypes.to_dict())
            out = pd.concat([out, added], ignore_index=True)
        return out

    def _plant_customers(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counter = iter(range(self.n + 1, self.n + 10_000_000))
        kinds = [
            ("missing_customer_id", ("crm",), [_set("customer_id", None)]),
            ("missing_created_at", ("crm",), [_set("created_at", None)]),
            ("unparseable_timestamp", ("crm",), _bad_times("created_at")),
            ("duplicate_id_conflict", ("crm",), ["duplicate"]),
        ]
        new_only = df.assign(_kind=np.where(df["_day"] > 0, "crm", "crm-initial"))
        out = self._plant(new_only, rng, kinds, "customer_id", lambda r: f"C{next(counter):07d}")
        out["_kind"] = "crm"
        return out

    def _plant_transactions(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counter = iter(range(90_000_001, 99_999_999))
        kinds = [
            ("amount_not_numeric", ("pos",), [_set("amount", v) for v in ("NaN", "abc", "inf")]),
            ("bad_currency", ("pos",), [_set("currency", v) for v in ("EURO", "£")]),
            ("unknown_channel", ("pos",), [_set("channel", "fax")]),
            ("unparseable_timestamp", ("pos",), _bad_times("occurred_at")),
            ("missing_transaction_id", ("pos",), [_set("transaction_id", None)]),
            ("missing_customer_id", ("pos",), [_set("customer_id", None)]),
            ("duplicate_id_conflict", ("pos",), ["duplicate"]),
        ]
        return self._plant(df, rng, kinds, "transaction_id", lambda r: f"{r['transaction_id'][:3]}-{next(counter):08d}")

    def _plant_responses(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counter = iter(range(9_000_001, 9_999_999))
        scored = ("voicebox", "callcentre")
        anywhere = ("voicebox", "callcentre", "cards")

        def no_answer(r: dict) -> dict:
            return {
                **r,
                "nps": pd.NA,
                "csat": pd.NA,
                "comment": None,
                "ces": 4 if pd.isna(r["ces"]) else r["ces"],
            }

        kinds = [
            ("nps_out_of_range", scored, [_set("nps", 11), _set("nps", -1)]),
            ("csat_out_of_range", anywhere, [_set("csat", 0)]),
            ("ces_out_of_range", scored, [_set("ces", 9)]),
            ("dimension_out_of_range", scored, [_set("reliability", 6), _set("tangibles", 0)]),
            ("unknown_channel", anywhere, [_set("channel", "fax")]),
            ("unparseable_timestamp", anywhere, _bad_times("submitted_at")),
            ("missing_response_id", anywhere, [_set("response_id", None)]),
            ("no_nps_csat_or_comment", scored, [no_answer]),
            ("duplicate_id_conflict", ("voicebox",), ["duplicate"]),
        ]

        def new_id(r: dict) -> str:
            rid = str(r["response_id"])
            prefix = rid.rstrip("0123456789")
            return f"{prefix}{next(counter):0{len(rid) - len(prefix)}d}"

        return self._plant(df, rng, kinds, "response_id", new_id)

    def _finish(self, df: pd.DataFrame) -> pd.DataFrame:
        kind_code = df["_kind"].map(KIND_ORDER).to_numpy()
        order = np.lexsort((np.arange(len(df)), df["_order"].to_numpy(), kind_code, df["_day"].to_numpy()))
        df = df.iloc[order].reset_index(drop=True)
        days = np.empty(self.days, dtype=object)
        days[:] = [self.start + timedelta(days=int(d)) for d in range(self.days)]
        df["delivery_day"] = days[df["_day"].to_numpy(int)]
        df = df.rename(columns={"_kind": "file_kind"}).drop(columns=["_day", "_order"])
        return df[[*[c for c in df.columns if c not in HELPER_COLUMNS], *HELPER_COLUMNS]]


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value == ""


def _set(column: str, value):
    return lambda r: {**r, column: value}


def _bad_times(column: str) -> list:
    return [_set(column, "yesterday 3pm"), _set(column, "2026-13-45")]


def _conflict(row: dict, rng: np.random.Generator) -> dict:
    """The same id with different content, as a source re-sending an edited row would deliver it."""
    row = dict(row)
    if "amount" in row:
        row["amount"] = f"{float(row['amount']) + float(rng.integers(1, 20)) + 0.5:.2f}"
    elif "nps" in row:
        old = row["nps"]
        row["nps"] = int(rng.integers(0, 11)) if pd.isna(old) else (int(old) + 3) % 11
        row["comment"] = "Changed my mind after the follow-up call."
    else:
        row["email"] = f"changed.address{int(rng.integers(1, 1000))}@example.com"
        row["segment"] = "business" if row["segment"] != "business" else "consumer"
    return row
