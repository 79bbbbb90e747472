"""Guards a stage takes before it writes: a lock on its folder, and a check that the runs
already there were made with the same settings."""

import os
from pathlib import Path

from kfashion.core import layout
from kfashion.core.errors import UserError
from kfashion.core.files import changed_settings, write_json


def hold_lock(path, what: str):
    """Take an exclusive lock on `path`, or refuse with a UserError if another process holds it.

    The lock lives as long as the returned file object: use it as a context manager, so that a
    command refused or failed inside still releases it in a process that goes on (a study, a
    test, a notebook). The OS drops it however the process ends (even kill -9), so a stale lock
    never blocks a rerun.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115  (kept open: the lock lasts as long as the file)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(
            f"{what} is in use by {holder}; wait for it to finish or choose another folder"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()}")
    handle.flush()
    return handle


def check_runs(runs_dir: Path, settings: dict) -> None:
    """Refuse to mix runs made with other training settings (--overwrite skips this check).

    A group of runs is the run records directly in `runs_dir`, with their settings beside
    them (the grid's runs of one network and label count). Nothing is written: a command checks
    every group it runs before `start_runs` writes to any.
    """
    if changed := changed_settings(runs_dir / layout.SETTINGS, settings):
        what = ", ".join(changed).replace("encoder_sha256", "encoder (its SHA-256 differs)")
        raise UserError(
            f"{runs_dir} holds runs made with another {what}; rerun with the same settings to "
            "resume, pass --overwrite to discard them, or choose another --results"
        )


def start_runs(runs_dir: Path, settings: dict, overwrite: bool) -> None:
    """Save a checked group's settings beside its runs; with --overwrite, discard its runs
    first (that group only, never the groups in other folders)."""
    if overwrite:
        for run in runs_dir.glob("*.json"):
            run.unlink()
    write_json(runs_dir / layout.SETTINGS, settings)
