"""JAX's persistent compilation cache for every command, and its hit and miss counts.

Every trial, seed group and run of the same shapes reuses the programs compiled before, across
processes and commands. Delete the folder to clear it; KFASHION_JAX_CACHE moves it.
"""

import os
from pathlib import Path

from kfashion import config

_counting = False  # whether this process counts its cache events already


def use_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache (for every program, however quick to compile).

    With KFASHION_CACHE_LOG set to a file, this process appends its cache hits and misses to
    it as one JSON line when it exits (`python docs/bench.py --study` sums them). A study
    runs its stages in one process, and each calls this: the counting starts once.
    """
    global _counting
    import jax

    folder = Path(os.environ.get("KFASHION_JAX_CACHE", config.JAX_CACHE)).expanduser()
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    log = os.environ.get("KFASHION_CACHE_LOG")
    if log and not _counting:
        _counting = True
        _count_into(log)


def _count_into(log: str) -> None:
    """Count this process's cache hits and misses; append them to `log` at exit."""
    import atexit
    import json

    import jax

    counts = {"hits": 0, "misses": 0}
    names = {
        "/jax/compilation_cache/cache_hits": "hits",
        "/jax/compilation_cache/cache_misses": "misses",
    }

    def count(event, **_):
        if event in names:
            counts[names[event]] += 1

    def write():
        with open(log, "a") as handle:
            handle.write(json.dumps(counts) + "\n")

    jax.monitoring.register_event_listener(count)
    atexit.register(write)
