"""The factor lists of the risk score frame (layers.risk_arrays._Scored): per entity its factors as dicts and
the top ones as text. Apart from layers.risk_arrays for size; the catalogue type is duck-typed (`column(i)`).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any

import numpy as np


def _factor_lists(cat: Any, lo: np.ndarray, hi: np.ndarray, f_cat: np.ndarray, f_pts: np.ndarray,
                  f_contrib: np.ndarray, top: int) -> tuple[list, list]:
    """Per entity: its factors as dicts (factor, factor_zh, points, contribution) and the top `top` as text
    ("zh +c；zh +c；…", "无预警" without factors), the texts joined in one pass (np.add.reduceat)."""
    n = hi - lo
    at = np.cumsum(n) - n  # where each entity's factors start in `recs`
    total = int(n.sum())
    rows = np.repeat(lo - at, n) + np.arange(total)
    fc = f_cat[rows]
    zh = cat.column(1)[fc]
    c = f_contrib[rows]
    with _gc_paused():  # province: 500k dicts and lists; a collection in between would walk every object held
        recs = [{"factor": f, "factor_zh": z, "points": q, "contribution": x}
                for f, z, q, x in zip(cat.column(0)[fc].tolist(), zh.tolist(), f_pts[rows].tolist(), c.tolist(), strict=True)]
        lists = [recs[a:b] for a, b in zip(at.tolist(), (at + n).tolist(), strict=True)]
    text = np.where(n > 0, "", "无预警").astype(object)
    if top > 0 and total:
        j = np.arange(total) - np.repeat(at, n)  # each factor's place in its entity's list
        sel = np.flatnonzero(j < top)
        part = np.array([f"{z} +{x:.1f}" for z, x in zip(zh[sel].tolist(), c[sel].tolist(), strict=True)], dtype=object)
        later = j[sel] > 0
        part[later] = "；" + part[later]
        text[n > 0] = np.add.reduceat(part, np.flatnonzero(~later))
    return lists, text.tolist()


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while making many small containers (reference counting still frees them)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
