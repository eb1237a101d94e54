"""The factor rows of the risk score (layers.risk_arrays._Scored): summed per entity and factor, each entity's
largest first, then per entity its factors as dicts and the top ones as text. Apart from layers.risk_arrays for
size; the catalogue type is duck-typed (`column(i)`).

The sums give the floats the former pandas groupby gave (`_sum_by_key`). The top texts repeat a lot (one red warning
and nothing else gives the same text in every such project), so they are made once per distinct text (`_top_codes`):
a map view needs them for its labels, the dicts only the score frame.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd


def _sum_by_key(key: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """= (g.index, g.values) of g = pd.Series(p).groupby(key).sum(), the same floats. Most keys are distinct (an
    entity's factor once): one stable sort, and the groups of two or more rows summed as pandas does (`_kahan`).

    pandas sums unsorted groups in row order with Kahan compensation (NaN skipped, a group of one row is 0.0 + p),
    and groups already sorted by np.add.reduceat: a sorted `key` goes to pandas itself.
    """
    if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
        g = pd.Series(p, dtype=float).groupby(key).sum()
        return g.index.to_numpy(np.int64), g.to_numpy(float)
    o = np.argsort(key, kind="stable")  # the rows mostly come in key order: a few long runs
    ks, ps = key[o], p[o]
    new = np.ones(len(ks), bool)
    new[1:] = ks[1:] != ks[:-1]
    starts = np.flatnonzero(new)
    first = ps[starts]
    out = np.where(np.isnan(first), 0.0, first + 0.0)
    sizes = np.diff(starts, append=len(ks))
    many = np.flatnonzero(sizes > 1)
    if len(many):
        if sizes.max() > 64:
            g = pd.Series(p, dtype=float).groupby(key).sum()
            return g.index.to_numpy(np.int64), g.to_numpy(float)
        out[many] = _kahan(ps, starts[many], sizes[many])
    return ks[starts].astype(np.int64), out


def _kahan(ps: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per group (rows ps[start:start + size]): the sum as pandas' group_sum makes it, one row of every group at a
    time: y = v - comp; t = sum + y; comp = (t - sum) - y (0 where NaN); sum = t; NaN rows skipped."""
    total, comp = np.zeros(len(starts)), np.zeros(len(starts))
    for j in range(int(sizes.max(initial=0))):
        g = np.flatnonzero(sizes > j)
        v = ps[starts[g] + j]
        ok = ~np.isnan(v)
        g, v = g[ok], v[ok]
        with np.errstate(invalid="ignore"):
            y = v - comp[g]
            t = total[g] + y
            c = (t - total[g]) - y
        comp[g] = np.where(np.isnan(c), 0.0, c)
        total[g] = t
    return total


def _largest_first(f_rank: np.ndarray, c: np.ndarray) -> np.ndarray:
    """= np.lexsort((-c, f_rank)), sorting only the entities whose factors are not in that order already (`f_rank`
    sorted: each entity's rows together; most have one factor or theirs largest first), those of one length at once
    (a stable sort along the rows of an entities × factors matrix: NaN last, ties in their order, as lexsort)."""
    n = len(c)
    same = f_rank[1:] == f_rank[:-1]
    if n < 2 or not bool((f_rank[1:] >= f_rank[:-1]).all()):
        return np.lexsort((-c, f_rank))
    bad = same & ~(c[1:] <= c[:-1])  # a larger factor (or NaN) after another of the same entity
    o = np.arange(n)
    if not bad.any():
        return o
    seg = np.concatenate([[0], np.cumsum(~same)])  # entity of each row, numbered
    start = np.flatnonzero(np.concatenate([[True], ~same]))
    size = np.diff(start, append=n)
    redo = np.zeros(len(start), bool)
    redo[seg[1:][bad]] = True
    rs, rz = start[redo], size[redo]
    for k in np.unique(rz).tolist():
        idx = rs[rz == k][:, None] + np.arange(k)
        o[idx] = np.take_along_axis(idx, np.argsort(-c[idx], axis=1, kind="stable"), axis=1)
    return o


def _factor_dicts(cat: Any, lo: np.ndarray, hi: np.ndarray, f_cat: np.ndarray, f_pts: np.ndarray,
                  f_contrib: np.ndarray) -> list:
    """Per entity (its factors f_*[lo:hi]): a list of dicts factor, factor_zh, points, contribution."""
    n = hi - lo
    at = np.cumsum(n) - n  # where each entity's factors start in `recs`
    rows = np.repeat(lo - at, n) + np.arange(int(n.sum()))
    fc = f_cat[rows]
    with _gc_paused():  # province: 500k dicts and lists; a collection in between would walk every object held
        recs = [{"factor": f, "factor_zh": z, "points": q, "contribution": x}
                for f, z, q, x in zip(cat.column(0)[fc].tolist(), cat.column(1)[fc].tolist(), f_pts[rows].tolist(),
                                      f_contrib[rows].tolist(), strict=True)]
        return [recs[a:b] for a, b in zip(at.tolist(), (at + n).tolist(), strict=True)]


def _top_texts(cat: Any, lo: np.ndarray, hi: np.ndarray, f_cat: np.ndarray, f_contrib: np.ndarray,
               top: int) -> np.ndarray:
    """Per entity (object array): its first `top` factors as "zh +c；zh +c；…" (c = contribution, one decimal),
    "无预警" without factors ("" with factors and top <= 0)."""
    codes, texts = _top_codes(cat, lo, hi, f_cat, f_contrib, top)
    return texts[codes]


def _top_codes(cat: Any, lo: np.ndarray, hi: np.ndarray, f_cat: np.ndarray, f_contrib: np.ndarray,
               top: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, texts): entity i's top text is texts[codes[i]] (see `_top_texts`); each distinct text made once.

    An entity's text is given by its number of factors (none or some) and its first `top` parts "zh +c", a part by
    its catalogue entry and c to one decimal: the parts are numbered, then each entity's sequence of part numbers.
    """
    n = hi - lo
    m = np.minimum(n, max(top, 0))
    at = np.cumsum(m) - m  # the entity's parts are part[at:at + m]
    rows = np.repeat(lo - at, m) + np.arange(int(m.sum()))
    part, part_text = _parts(cat.column(1), f_cat[rows], f_contrib[rows])
    code = (n > 0).astype(np.int64)  # then, part by part, the distinct sequences so far (renumbered each time)
    for j in range(int(m.max(initial=0))):
        has = np.flatnonzero(m > j)
        nxt = np.zeros(len(n), np.int64)
        nxt[has] = part[at[has] + j] + 1
        code = pd.factorize(code * (len(part_text) + 1) + nxt)[0]
    code = np.asarray(pd.factorize(code)[0], np.int64)  # 0 .. k-1
    rep = np.unique(code, return_index=True)[1]  # an entity of each code, in code order
    # each code's text: its entity's parts joined by "；" in one pass (np.add.reduceat)
    mr = m[rep]
    start = np.cumsum(mr) - mr
    j = np.arange(int(mr.sum())) - np.repeat(start, mr)  # each part's place in its text
    pid = part[np.repeat(at[rep], mr) + j]
    texts = np.where(n[rep] > 0, "", "无预警").astype(object)
    if len(pid):
        piece = np.where(j > 0, ("；" + part_text.astype(object))[pid], part_text[pid]).astype(object)
        texts[mr > 0] = np.add.reduceat(piece, start[mr > 0])
    return code, texts


def _parts(zh: np.ndarray, fc: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(part, texts): texts[part[i]] = f"{zh[fc[i]]} +{c[i]:.1f}", each distinct text made once."""
    k = _tenths(c)
    safe = k >= 0
    width = int(k.max(initial=0)) + 1
    raw = np.where(safe, fc * width + k, -1)
    pk, pu = pd.factorize(raw[safe])
    texts = [f"{zh[v // width]} +{v % width // 10}.{v % width % 10}" for v in np.asarray(pu).tolist()]
    part = np.empty(len(c), np.int64)
    part[safe] = pk
    odd = np.flatnonzero(~safe)  # near a .x5 tie, negative, huge or NaN: as Python formats it
    if len(odd):
        ok, ou = pd.factorize(np.array([f"{z} +{x:.1f}" for z, x in zip(zh[fc[odd]].tolist(), c[odd].tolist(),
                                                                         strict=True)], dtype=object))
        part[odd] = len(texts) + ok
        texts += list(ou)
    return part, np.array(texts, dtype=object)


def _tenths(x: np.ndarray) -> np.ndarray:
    """x to one decimal as a whole number of tenths, where that is f"{x:.1f}" without doubt; else -1.

    x·10 is one rounding from the exact product (relative error <= 2^-53, < 1e-9 below 10^6): away from a half by
    more than 1e-6 it rounds to the integer Python's correctly rounded formatting gives. Signs, NaN and ties go to -1.
    """
    with np.errstate(invalid="ignore"):
        t = x * 10.0
        frac = t - np.floor(t)
        ok = np.isfinite(t) & ~np.signbit(x) & (t < 1e6) & (np.abs(frac - 0.5) > 1e-6)
    return np.where(ok, np.floor(np.where(ok, t, 0.0) + 0.5), -1).astype(np.int64)


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
