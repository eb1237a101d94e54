"""store.aggregate / store.points: the database's groups equal the same groups made in pandas, on both backends."""

import h3
import numpy as np
import pandas as pd
import pytest

from geodata.store.aggregate import AggregateError

CH, QP = "410183104000", "410183001000"


def _cases() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame({
        "case_no": [f"AJ{i:03d}" for i in range(n)], "employer_name": "某单位",
        "township_code": np.where(np.arange(n) % 3 == 0, QP, CH),
        "received_date": pd.to_datetime("2025-01-15") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "amount": rng.uniform(1, 50, n).round(2), "workers": rng.integers(1, 30, n),
        "status": np.where(np.arange(n) % 4 == 0, "结案", "受理"),
        "lon": 113.30 + rng.uniform(0, 0.2, n), "lat": 34.40 + rng.uniform(0, 0.15, n), "source_row": range(n),
    })


@pytest.fixture
def loaded(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "cases", "c.csv")
        store.upsert(conn, "cases", _cases(), b)
    return store


def test_by_township_and_month_equal_pandas(loaded):
    df = _cases()
    got = loaded.aggregate("cases", by=("township", "month"), measures={"n": "count", "amount": ("sum", "amount"),
                                                                       "most": ("max", "workers")})
    df["month"] = df["received_date"].dt.strftime("%Y-%m")
    want = df.groupby(["township_code", "month"], as_index=False).agg(n=("case_no", "size"), amount=("amount", "sum"),
                                                                       most=("workers", "max"))
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False)


def test_where_months_and_scope_are_applied(loaded):
    df = _cases()
    got = loaded.aggregate("cases", measures={"amount": ("sum", "amount")}, where={"status": ["受理"]},
                           months=("2025-03", "2025-06"), scope=[CH])
    m = df["received_date"].dt.strftime("%Y-%m")
    keep = (df["status"] == "受理") & m.between("2025-03", "2025-06") & (df["township_code"] == CH)
    assert got["township_code"].tolist() == [CH]
    assert got["amount"].iloc[0] == pytest.approx(df.loc[keep, "amount"].sum())


def test_values_are_bound_not_spliced(loaded):
    got = loaded.aggregate("cases", where={"status": "受理' OR '1'='1"})
    assert got.empty


def test_by_hex_adds_up_exactly(loaded):
    df = _cases()
    got = loaded.aggregate("cases", by="hex", measures={"n": "count", "amount": ("sum", "amount")}, h3_resolution=7)
    df["hex"] = [h3.latlng_to_cell(la, lo, 7) for la, lo in zip(df["lat"], df["lon"], strict=True)]
    want = df.groupby("hex", as_index=False).agg(n=("case_no", "size"), amount=("amount", "sum"))
    pd.testing.assert_frame_equal(got[["hex", "n", "amount"]], want, check_dtype=False, check_exact=False)


def test_points_are_capped_largest_first_with_the_total(loaded):
    df = _cases()
    pts, total = loaded.points("cases", limit=10, order_by="amount", columns=["case_no", "amount"])
    assert total == 60 and len(pts) == 10
    assert pts["case_no"].tolist() == df.sort_values("amount", ascending=False)["case_no"].head(10).tolist()
    pts, total = loaded.points("cases", limit=5, scope=[QP])
    assert total == 20 and set(pts.columns) == {"lon", "lat"}


def test_bad_requests_name_the_problem(loaded):
    with pytest.raises(AggregateError, match="no column 'nope'"):
        loaded.aggregate("cases", measures={"x": ("sum", "nope")})
    with pytest.raises(AggregateError, match="by must be"):
        loaded.aggregate("cases", by="street")
    with pytest.raises(AggregateError, match="unknown kind"):
        loaded.aggregate("people")
