"""(六)(九) The contractor's arrears record at a date, for the deposit rule: each employer's cases sorted by time once
per read of the frames (`Record`), then counted for any rows and dates by binary search (layers/deposits.py).

`record_at` replaced the join of every project row to every case of its contractor (tens of millions of rows at
province scale: 105 s); tests/layers/test_record_at.py checks it against that join.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.settings import Rules
from layers.base import LayerData, derived
from layers.credit import case_links, cases


def record_at(data: LayerData, codes: pd.Series, when: pd.Series, r: Rules) -> pd.DataFrame:
    """Per row: the employer `codes[i]`'s cases received before `when[i]`: n_cases, n_open, last_case.

    Counted by binary search in each employer's cases sorted by time (`Record`, sorted once per read
    of the frames), not by joining every project row to every case of its contractor (that join grew
    to tens of millions of rows at province scale: 105 s).
    """
    record = record_index(data, r)
    if record is None:
        return pd.DataFrame({"n_cases": 0, "n_open": 0, "last_case": pd.NaT}, index=codes.index)
    n_cases, n_open, last = record.counts(record.employers.get_indexer(codes.astype(object)), when)
    out = pd.DataFrame({"n_cases": n_cases, "n_open": n_open, "last_case": last}, index=codes.index)
    return out.astype({"n_cases": int, "n_open": int})


_SPAN = np.int64(10**10)  # seconds: an employer's times stay inside its own key range (years 1811-2128)


def _seconds(s) -> np.ndarray:
    return pd.to_datetime(pd.Series(s)).astype("datetime64[s]").astype("int64").to_numpy() + 5 * 10**9


def _keys(e: np.ndarray, t: np.ndarray) -> np.ndarray:
    return e.astype(np.int64) * _SPAN + t


@dataclass
class Record:
    """Every employer's cases as sorted keys (employer number, time in seconds), built once per read of the frames.

    A case received before `when` is open then unless it was closed by then; with
    m = max(received + 1 s, closed_date) (dates are whole days), "received < when and closed_date <= when"
    is "m <= when", so n_open = n_cases - closed-by-status-only - #(m <= when).
    """

    employers: pd.Index  # employer credit codes with a dated case; position = employer number
    received: np.ndarray  # keys (employer, received) sorted
    received_at: np.ndarray  # the received dates in that order
    by_status: np.ndarray  # keys (employer, received) of cases closed by status only, sorted
    closed: np.ndarray  # keys (employer, m) of cases with a closed date, sorted
    firsts: tuple  # per key array above: where each employer's keys begin (employer number -> position)

    def counts(self, emp: np.ndarray, when: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n_cases, n_open, last_case (datetime64, NaT without a case) per row of employer number `emp` (-1: none)."""
        q = _keys(emp, _seconds(pd.Series(np.asarray(when))))
        valid = emp >= 0
        order = np.argsort(q, kind="stable")  # sorted needles: the binary searches walk each array once
        qs = q[order]

        def count(i: int, k: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
            at = np.empty(len(q), dtype=np.int64)
            at[order] = np.searchsorted(k, qs, side=side)
            return at - np.where(valid, self.firsts[i][np.clip(emp, 0, None)], 0), at

        n_cases, before = count(0, self.received, "left")
        n_open = n_cases - count(1, self.by_status, "left")[0] - count(2, self.closed, "right")[0]
        last = pd.Series(self.received_at[np.clip(before - 1, 0, None)]).where(pd.Series((n_cases > 0) & valid))
        return (np.where(valid, n_cases, 0), np.where(valid, n_open, 0), pd.to_datetime(last.to_numpy()))


def record_index(data: LayerData, r: Rules) -> Record | None:
    """The employers' cases (case links of type employer, with a received date) as a `Record`; None without any."""
    return derived(data, ("cases", "enterprises", "projects"), ("deposits.record", tuple(r.case_closed_statuses)),
                   lambda: _make_record(data, r))


def _make_record(data: LayerData, r: Rules) -> Record | None:
    links = case_links(data)
    links = links[links["entity_type"] == "employer"].drop_duplicates(["case_no", "entity_id"])
    c = data.cases
    if links.empty or c is None or c.empty:
        return None
    norm = cases(data).drop_duplicates("case_no")
    cs = links[["case_no", "entity_id"]].merge(pd.DataFrame({
        "case_no": norm["case_no"], "received": norm["received"], "closed_date": norm["closed_date"],
        "closed_flag": norm["status"].isin(r.case_closed_statuses).fillna(False).astype(bool)}), on="case_no")
    cs = cs[cs["received"].notna()]
    if cs.empty:
        return None
    emp, employers = pd.factorize(cs["entity_id"].astype(object), use_na_sentinel=True)
    rec = _seconds(cs["received"].to_numpy())
    by_status = (cs["closed_date"].isna() & cs["closed_flag"]).to_numpy()
    dated = cs["closed_date"].notna().to_numpy()
    m = np.maximum(rec + 1, _seconds(cs["closed_date"].fillna(cs["received"]).to_numpy()))
    keys = _keys(emp, rec)
    order = np.argsort(keys, kind="stable")
    arrays = (keys[order], np.sort(keys[by_status]), np.sort(_keys(emp[dated], m[dated])))
    lo = _keys(np.arange(len(employers)), np.zeros(len(employers), dtype=np.int64))
    return Record(employers=pd.Index(employers, dtype=object), received=arrays[0],
                   received_at=cs["received"].to_numpy()[order], by_status=arrays[1], closed=arrays[2],
                   firsts=tuple(np.searchsorted(k, lo, side="left") for k in arrays))
