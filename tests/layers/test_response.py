"""Tests for layers/response.py: graded checklists, progress with times, records."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from layers import response as r


def keys(grade):
    return {s.key for s in r.steps_for(grade)}


def test_each_grade_adds_to_the_one_below():
    sets = [keys(g) for g in r.GRADES]
    for lower, higher in zip(sets, sets[1:], strict=False):
        assert lower < higher
    assert "police_on_site" not in keys("一般") and "police_on_site" in keys("较大")
    assert "first_on_site" in keys("重大") and "fund_advance" in keys("重大")  # (二十三)(二十四)
    assert "report_province" in keys("特别重大") and "report_province" not in keys("重大")


def test_grade_is_checked_and_normalised():
    assert r.check_grade("较大级") == "较大"
    with pytest.raises(r.ResponseError, match="一般、较大、重大、特别重大"):
        r.check_grade("严重")


def test_progress_states_and_latest_record_wins():
    start = datetime(2024, 5, 6, 9, 0)
    rec = pd.DataFrame({
        "id": [1, 2, 3, 4],
        "step": ["receive", "notify_hrss", "police_on_site", "police_on_site"],
        "done_at": [datetime(2024, 5, 6, 9, 0), datetime(2024, 5, 6, 9, 40), datetime(2024, 5, 6, 9, 20), None],
        "user_name": ["a", "b", "c", "c"], "note": ["", "", "", "撤销"],
    })
    t = r.progress("较大", rec, start, now=datetime(2024, 5, 6, 10, 0)).set_index("key")
    assert t.loc["receive", "state"] == "已完成"
    assert t.loc["notify_hrss", "state"] == "超时完成"  # due 09:15, done 09:40
    assert t.loc["police_on_site", "state"] == "已超时"  # done then undone; due 09:30 < now
    assert t.loc["report_city", "state"] == "待办"  # due 11:00
    s = r.summary(t.reset_index())
    assert s["done"] == 2 and s["total"] == len(r.steps_for("较大"))


def test_step_record_validates_step_for_grade():
    row = r.step_record("SJ-1", "410183104000", "一般", "receive", "值班员", at=datetime(2024, 1, 1, 8, 0))
    assert row == {"incident_no": "SJ-1", "township_code": "410183104000", "step": "receive",
                   "done_at": datetime(2024, 1, 1, 8, 0), "user_name": "值班员", "note": ""}
    with pytest.raises(r.ResponseError, match="不属于一般事件"):
        r.step_record("SJ-1", None, "一般", "police_on_site", "x")
    assert r.step_record("SJ-1", None, "较大", "police_on_site", "x", done=False)["done_at"] is None


def test_elapsed():
    assert r.elapsed_zh("2024-01-01 08:00", now=datetime(2024, 1, 1, 10, 15)) == "已过 2 小时 15 分"
    assert r.elapsed_zh(None) == ""
