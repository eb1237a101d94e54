"""Factor lists and top texts of the risk score (layers.risk_lists) against the plain way of making them; the heat
view's lazy table and its points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.base import LazyTable
from layers.risk import DENSITY_LAYER, LAYER, score
from layers.risk_lists import _factor_dicts, _tenths, _top_codes, _top_texts
from tests.layers.test_risk_windows import data
from tests.layers.test_rules import JUNE


class Cat:
    def __init__(self, zh: list[str]):
        self.items = [(f"f{i}", z, "warning") for i, z in enumerate(zh)]

    def column(self, i: int) -> np.ndarray:
        return np.array([x[i] for x in self.items] + [None], dtype=object)


def plain_top(cat: Cat, lo, hi, f_cat, f_contrib, top: int) -> list[str]:
    """The texts one entity at a time, as the score frame defines them."""
    out = []
    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        parts = [f"{cat.column(1)[f_cat[r]]} +{f_contrib[r]:.1f}" for r in range(a, b)][:max(top, 0)]
        out.append("；".join(parts) if b > a else "无预警")
    return out


def test_tenths_are_what_python_formats_or_left_to_it():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.random(20000) * 100, np.round(rng.random(5000) * 100, 2), np.arange(0, 100, 0.05),
                        [0.0, -0.0, np.nan, np.inf, -np.inf, -1.25, 0.25, 0.35, 0.45, 99.95, 1e7, 5e-324, 1e-7]])
    k = _tenths(x)
    ok = k >= 0
    assert ok.mean() > 0.9 and not ok[np.signbit(x) | ~np.isfinite(x)].any()
    assert [f"{v // 10}.{v % 10}" for v in k[ok].tolist()] == [f"{v:.1f}" for v in x[ok].tolist()]


def test_top_texts_as_made_one_entity_at_a_time():
    rng = np.random.default_rng(7)
    cat = Cat(["专户人工费拨付不足（红）", "一卡通发放率低（黄）", "施工单位：曾发生欠薪（橙）", "a&b<c>"])
    for _ in range(100):
        n_ent = int(rng.integers(0, 30))
        n = rng.integers(0, 6, n_ent)
        lo = np.cumsum(n) - n
        total = int(n.sum())
        f_cat = rng.integers(0, len(cat.items), total)
        # contributions on ties (x.x5), whole numbers, repeats and odd values
        f_contrib = rng.choice(np.array([0.05, 0.15, 0.25, 12.35, 3.0, 7.25, 33.333, -0.0, -2.5, np.nan, 1e7, 99.95]),
                               total) if rng.random() < 0.5 else rng.random(total) * 60
        sel = rng.permutation(n_ent)[: int(rng.integers(0, n_ent + 1))]  # some entities, in any order
        for top in (3, 1, 0, 10):
            want = plain_top(cat, lo[sel], (lo + n)[sel], f_cat, f_contrib, top)
            got = _top_texts(cat, lo[sel], (lo + n)[sel], f_cat, f_contrib, top)
            assert got.dtype == object and got.tolist() == want
            codes, texts = _top_codes(cat, lo[sel], (lo + n)[sel], f_cat, f_contrib, top)
            assert len(set(texts.tolist())) <= len(texts) <= max(len(sel), 0) and texts[codes].tolist() == want


def test_factor_dicts_per_entity():
    cat = Cat(["甲", "乙"])
    lo, hi = np.array([2, 0, 2]), np.array([3, 2, 2])
    d = _factor_dicts(cat, lo, hi, np.array([1, 0, 1]), np.array([30.0, 6.0, 3.0]), np.array([20.0, 4.0, 2.0]))
    assert d == [[{"factor": "f1", "factor_zh": "乙", "points": 3.0, "contribution": 2.0}],
                 [{"factor": "f1", "factor_zh": "乙", "points": 30.0, "contribution": 20.0},
                  {"factor": "f0", "factor_zh": "甲", "points": 6.0, "contribution": 4.0}], []]


def test_heat_table_is_lazy_and_its_shape_known_before():
    d = data()
    res = LAYER.build(d, JUNE)
    lazy = res.__dict__["_table"]
    assert isinstance(lazy, LazyTable)
    rows, cols = res.table_shape()
    assert lazy._frame is None  # the shape did not make it
    t = res.table
    assert (rows, cols) == (len(t), list(t.columns)) and rows > 0 and "链接" in cols
    s = score(d, JUNE)
    assert t["编号"].tolist() == s.loc[s["score"] > 0, "entity_id"].tolist()
    assert t["主要因素"].tolist() == s.loc[s["score"] > 0, "top_factors"].tolist()
    assert DENSITY_LAYER.build(d, JUNE).table is t  # both heat views share one table


def test_heat_points_are_the_scored_rows_with_coordinates_without_factor_dicts():
    d = data()
    pts = LAYER.build(d, JUNE).points
    assert "factors" not in pts.columns and len(pts) > 0
    s = score(d, JUNE)
    s = s[s["score"] > 0].set_index("entity_id")
    for _, p in pts.iterrows():
        assert p["top_factors"] == s.loc[p["entity_id"], "top_factors"] and p["score"] == s.loc[p["entity_id"], "score"]
        assert p["label"].endswith("<br>风险分" + str(int(round(p["score"]))) + "<br>" + p["top_factors"])
    assert pd.Series(pts["label"]).str.startswith("<b>").all()
