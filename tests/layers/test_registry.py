"""The layer registry, palettes/classes and unit formatting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers import registry
from layers.base import Filters
from layers.palettes import BLUES, NO_DATA, WARNING, amount_classes, coverage_classes, stepped_colorscale
from layers.units import (
    add_months,
    eval_month,
    fmt_date,
    fmt_month,
    fmt_months,
    fmt_pct,
    fmt_people,
    fmt_wan,
    month_index,
    month_range,
    ref_date,
)
from tests.layers.builders import MARCH, data, project


def test_registry_lists_every_layer_once():
    keys = list(registry.LAYERS)
    assert keys[:3] == ["arrears", "arrears_cases", "arrears_workers"]
    assert {"real_name", "card", "special_account", "deposit", "bank_payroll", "monthly_settled", "notice_board",
            "filing", "labour_officer"} <= set(keys)
    assert len(keys) == len(set(keys))
    assert registry.get(None).key == registry.DEFAULT
    assert [x.key for x in registry.by_kind("arrears")] == keys[:3]
    assert all(x.kind == "coverage" and x.higher_is_better for x in registry.by_kind("coverage"))
    assert registry.kinds()[:2] == ["arrears", "coverage"]
    opts = registry.options()
    assert opts[0] == {"label": "欠薪情况 · 欠薪金额", "value": "arrears", "kind": "arrears"}


def test_unknown_layer_message_is_chinese_and_lists_keys():
    with pytest.raises(registry.UnknownLayer) as e:
        registry.get("nope")
    assert "未知图层“nope”" in str(e.value) and "real_name（实名制登记率）" in e.value.user_msg


def test_every_registered_layer_builds_on_tiny_data():
    d = data([project("P1")])
    for layer in registry.LAYERS.values():
        r = layer.build(d, MARCH)
        assert r.key == layer.key and r.title == layer.title
        assert {"code", "value", "label"} <= set(r.by_township.columns)


def test_coverage_classes_anchor_on_threshold():
    c = coverage_classes([10, 50, 79.9, 95, 99.9, 100, np.nan], 95)
    assert c.index.tolist() == [0, 1, 1, 3, 3, 4, -1]
    assert c.labels == ["低于50%", "50%–80%", "80%–95%", "95%–100%", "100%"]
    assert c.colors == list(BLUES)
    assert c.color_of()[-1] == NO_DATA and c.legend()[-1].label == "无数据"


def test_amount_classes_zero_class_and_units():
    c = amount_classes([0, 1, 2, 3, 10, 20, 50, np.nan], "万元")
    assert c.index[0] == 0 and c.index[-1] == -1 and c.labels[0] == "0万元"
    assert (np.diff(c.index[1:7]) >= 0).all() and c.index[6] == len(c.labels) - 1
    assert all(lab.endswith("万元") for lab in c.labels)
    one = amount_classes([0, 0, 3], "件")
    assert one.labels == ["0件", "3件"] and one.index.tolist() == [0, 0, 1]
    big = amount_classes(np.arange(1, 1001, dtype=float), "人")  # quantiles past 200 values
    assert len(big.labels) == 6


def test_warning_colours_are_only_for_warnings():
    assert not set(WARNING.values()) & set(BLUES)
    scale = stepped_colorscale(["#000", "#111", "#222"])
    assert scale[0] == [0, "#000"] and scale[-1] == [1.0, "#222"] and len(scale) == 6


def test_units_and_months():
    assert fmt_month("2024-03") == "2024年3月" and fmt_month(None) == "—"
    assert fmt_date("2024-03-05") == "2024年3月5日"
    assert fmt_wan(1234.56) == "1,234.6万元" and fmt_people(12.4) == "12人" and fmt_pct(95.24) == "95.2%"
    assert fmt_months(pd.Series(["2024-03", None, "bad"])).tolist() == ["2024年3月", "—", "—"]
    assert add_months("2024-01", -1) == "2023-12" and add_months("2023-12", 1) == "2024-01"
    assert month_index(pd.Series(["2024-01", "2024-13"])).tolist()[0] == 2024 * 12
    assert ref_date(Filters(month_to="2024-02", as_of="2024-12-31")) == pd.Timestamp("2024-02-29")
    assert ref_date(Filters(month_to="2024-02", as_of="2024-02-10")) == pd.Timestamp("2024-02-10")
    assert eval_month(MARCH) == "2024-03"
    assert month_range(Filters(month_from="2023-11", month_to="2024-02", as_of="2024-12-31")) == [
        "2023-11", "2023-12", "2024-01", "2024-02"]
