"""The shared view cache on disk: how a view is written (pickle, zlib above COMPRESS_BYTES) and the diskcache
directory every worker on the host reads (dashboard/cache.py's second tier)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from geodata.settings import SettingsError

DISK_CACHE_BYTES = 4 * 2**30
# Values larger than this are zlib-compressed (level 1) in the shared cache: detail tables and point sets of
# text compress ~5x (city: 237 -> 48 MB; 180 MB/s to compress, 470 MB/s to expand, against ~270 MB/s to unpickle),
# which keeps a province warm-up with its earlier windows (≈ 1 GB of pickles per window set) inside DISK_CACHE_BYTES.
COMPRESS_BYTES = 256 * 2**10


def _dumps(value: Any) -> tuple[bytes, int]:
    """(blob, pickled size) of a view as stored in the shared cache: b"p" + pickle, or b"z" + zlib(pickle) when
    the pickle is larger than COMPRESS_BYTES."""
    import pickle
    import zlib

    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return (b"z" + zlib.compress(data, 1) if len(data) > COMPRESS_BYTES else b"p" + data), len(data)


def _loads(blob: bytes) -> tuple[Any, int]:
    import pickle
    import zlib

    if blob[:1] == b"z":
        data = zlib.decompress(memoryview(blob)[1:])
        return pickle.loads(data), len(data)
    if blob[:1] == b"p":
        return pickle.loads(memoryview(blob)[1:]), len(blob) - 1
    raise ValueError("not a view written by _dumps")


def _open_disk(directory: str):
    """The shared view cache: a diskcache directory readable by this user only (views hold personal data).

    A directory that cannot be made, opened or written fails here, when the app starts, with a message
    naming the setting and the path (SettingsError), not at the first request that writes a view.
    """
    import diskcache

    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        disk = diskcache.Cache(str(path), size_limit=DISK_CACHE_BYTES, eviction_policy="least-recently-used")
        probe = f"probe:{os.getpid()}:{threading.get_ident()}"
        disk.set(probe, b"\0" * (disk.disk_min_file_size + 1))  # written as a file, as large views are
        disk.delete(probe)
    except Exception as e:  # noqa: BLE001 - OSError, sqlite3 errors, diskcache's own: all mean "not usable"
        raise SettingsError(
            f"视图缓存目录不可用：{path.resolve()}（设置 cache_dir，环境变量 WAGEMAP_CACHE_DIR）无法创建或写入"
            f"（{type(e).__name__}: {e}）。请把 WAGEMAP_CACHE_DIR 设为服务进程用户可写的目录，"
            "或设为空字符串只用进程内缓存。") from e
    return disk
