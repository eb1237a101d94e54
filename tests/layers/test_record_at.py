"""(九) The contractor's arrears record at each project's due date, counted by binary search, equals the
plain join it replaced (every project row x every case of its contractor) on random data with edge cases."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geodata.settings import get_settings
from layers import deposit_record
from layers.base import LayerData


def _by_join(data: LayerData, codes: pd.Series, when: pd.Series, closed_statuses) -> pd.DataFrame:
    """The definition, written as the straightforward join."""
    c = data.cases
    cs = pd.DataFrame({"case_no": c["case_no"], "entity_id": c["credit_code"],
                       "received": pd.to_datetime(c["received_date"]), "closed_date": pd.to_datetime(c["closed_date"]),
                       "closed_flag": c["status"].isin(closed_statuses)})
    cs = cs.dropna(subset=["entity_id"])  # a case with no firm is linked to none
    j = pd.DataFrame({"row": np.arange(len(codes)), "entity_id": codes.to_numpy(), "when": when.to_numpy()})
    j = j.merge(cs, on="entity_id")
    j = j[j["received"] < j["when"]]
    closed = (j["closed_date"].notna() & (j["closed_date"] <= j["when"])) | (j["closed_date"].isna() & j["closed_flag"])
    g = j.assign(open=~closed).groupby("row").agg(n_cases=("case_no", "nunique"), n_open=("open", "sum"),
                                                  last_case=("received", "max"))
    out = g.reindex(np.arange(len(codes)))
    out.index = codes.index
    return out.fillna({"n_cases": 0, "n_open": 0}).astype({"n_cases": int, "n_open": int})


@pytest.mark.parametrize("seed", range(12))
def test_record_at_equals_the_join(seed):
    rng = np.random.default_rng(seed)
    r = get_settings().rules
    n_cases, n_rows = 80, 120
    firms = [f"91410183MA{i:08d}" for i in range(7)]
    received = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n_cases), unit="D"))
    closed = (received + pd.to_timedelta(rng.integers(-5, 30, n_cases), unit="D")).where(rng.random(n_cases) < 0.6)
    cases = pd.DataFrame({  # closed before received, closed on the due day, closed by status only, no date, no firm
        "case_no": [f"C{i}" for i in range(n_cases)], "received_date": received.where(rng.random(n_cases) < 0.95).dt.date,
        "closed_date": closed.dt.date, "status": rng.choice(["受理", "结案", "调查"], n_cases),
        "credit_code": rng.choice([*firms, None], n_cases), "project_code": None, "employer_name": None,
        "amount": 1.0, "workers": 1})
    data = LayerData(townships=gpd.GeoDataFrame(), cases=cases, projects=pd.DataFrame(), enterprises=pd.DataFrame())
    codes = pd.Series(rng.choice([*firms, "91410183MA99999999", None], n_rows), index=np.arange(50, 50 + n_rows))
    when = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n_rows), unit="D"), index=codes.index)
    got = deposit_record.record_at(data, codes, when, r)
    want = _by_join(data, codes, when, r.case_closed_statuses)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["n_cases"].sum() > 0 and got["n_open"].sum() > 0
