"""The risk score's array steps (layers.risk_arrays, layers.risk_lists) give exactly what the calls they replace give."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from layers.risk_arrays import _factorize_rows, _tuples
from layers.risk_lists import _largest_first, _sum_by_key

VALUES = np.array([0.0, -0.0, 1.5, 2.0, 1e16, -1e16, 1.0, 3.3, np.nan, np.inf, -np.inf, 0.1, 0.2, 0.3, 1e-17])


def test_sums_by_key_are_the_floats_of_a_pandas_groupby():
    rng = np.random.default_rng(11)
    for _ in range(3000):
        n = int(rng.integers(0, 80))
        key = rng.integers(0, max(1, int(rng.integers(1, 80))), n).astype(np.int64)
        if rng.random() < 0.2:  # sorted keys: pandas sums by np.add.reduceat
            key = np.sort(key)
        if rng.random() < 0.1 and n:  # one group of every row
            key = np.repeat(key[:1], n)
        if rng.random() < 0.05:  # a group longer than the loop takes
            key = np.concatenate([key, np.full(70, 3)])[rng.permutation(n + 70)]
        p = (rng.choice(VALUES, len(key)) if rng.random() < 0.5
             else rng.random(len(key)) * 30 if rng.random() < 0.5 else np.round(rng.random(len(key)) * 30, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in pandas' reduceat
            g = pd.Series(p, dtype=float).groupby(key).sum()
            k, s = _sum_by_key(key, p)
        want = g.to_numpy(float)
        assert np.array_equal(g.index.to_numpy(np.int64), k)
        assert np.array_equal(want, s, equal_nan=True) and np.array_equal(np.signbit(want), np.signbit(s)), (key, p)


def test_largest_first_is_the_lexsort():
    rng = np.random.default_rng(5)
    for _ in range(3000):
        n = int(rng.integers(0, 40 if rng.random() < 0.8 else 300))
        rank = np.sort(rng.integers(0, max(1, n // int(rng.integers(1, 6)) + 1), n))
        if rng.random() < 0.1:  # not sorted: the plain lexsort
            rank = rng.integers(0, 5, n)
        c = (rng.choice(np.array([0.0, -0.0, 1.5, 2.0, 2.0, -1.0, np.nan, 3.3, np.inf]), n) if rng.random() < 0.5
             else rng.random(n))
        assert np.array_equal(_largest_first(rank, c), np.lexsort((-c, rank)))


def unique_rows(*cols: pd.Series) -> tuple[np.ndarray, list[tuple]]:
    """_factorize_rows as it was: np.unique of the combined codes."""
    combined = np.zeros(len(cols[0]), np.int64)
    uniqs = []
    for c in cols:
        k, u = pd.factorize(c, use_na_sentinel=True)
        combined = combined * (len(u) + 1) + (k + 1)
        uniqs.append([None, *u])
    keys, inv = np.unique(combined, return_inverse=True)
    return inv.reshape(-1), _tuples(keys, uniqs)  # (decoding the codes is not what changed)


def test_factorized_rows_as_np_unique_numbers_them():
    rng = np.random.default_rng(2)
    for _ in range(300):
        n = int(rng.integers(0, 50))
        a = pd.Series(rng.choice(np.array(["b", "a", "c", None], dtype=object), n), dtype="string")
        b = pd.Series(rng.choice(np.array(["红", "黄", None], dtype=object), n), dtype=object)
        c = pd.Series(rng.integers(0, 3, n))
        inv, keys = _factorize_rows(a, b, c)
        want_inv, want_keys = unique_rows(a, b, c)
        assert np.array_equal(inv, want_inv) and inv.dtype == want_inv.dtype and keys == want_keys
