"""Results files: atomic writes, and the provenance every results file carries."""

import datetime
import hashlib
import json
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _replace_atomically(path: Path, write) -> None:
    """Write through `write(tmp_path)` beside `path`, then rename: a kill leaves old or new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, obj) -> None:
    """Write `obj` as indented JSON, atomically (never half-written, even after kill -9)."""
    text = json.dumps(obj, indent=1, default=_jsonable, allow_nan=True) + "\n"
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(text))


def read_json(path):
    return json.loads(Path(path).read_text())


def changed_settings(path, settings: dict) -> list[str]:
    """The keys of `settings` whose values differ from those saved at `path` (if any are)."""
    path = Path(path)
    if not path.exists():
        return []
    previous = read_json(path)
    return [key for key in settings if previous.get(key) != settings[key]]


def file_digest(path) -> str:
    """SHA-256 of a file's bytes, to record which model a result came from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_model(model, path) -> None:
    """Save a `.keras` file atomically, keeping an existing file that holds the same model.

    A `.keras` file records when it was saved, so saving the same model again changes its
    bytes and its SHA-256, which the stages that read it record: re-exporting a finished
    sweep would otherwise make `transfer` refuse its own runs.
    """
    path = Path(path)
    if path.exists() and holds_same_model(path, model):
        return
    _replace_atomically(path, lambda tmp: model.save(tmp))


def _as_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def holds_same_model(path: Path, model) -> bool:
    """Whether the `.keras` file at `path` has `model`'s configuration and weights."""
    import keras

    try:
        saved = keras.saving.load_model(path, compile=False)
    except Exception:  # unreadable or not a model: it is replaced
        return False
    mine, theirs = model.get_weights(), saved.get_weights()
    return (
        # as JSON: a loaded model's config has lists where the built one has tuples
        _as_json(saved.get_config()) == _as_json(model.get_config())
        and len(mine) == len(theirs)
        and all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    )


def machine() -> dict:
    """CPU model, cores, accelerators and backend of this machine."""
    import keras

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        accelerators = [f"{d.device_kind} ({d})" for d in jax.devices() if d.platform != "cpu"]
    elif backend == "tensorflow":
        import tensorflow as tf

        accelerators = [
            tf.config.experimental.get_device_details(d).get("device_name", d.name)
            for d in tf.config.list_physical_devices("GPU")
        ]
    else:
        accelerators = []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "accelerators": accelerators,
        "backend": backend,
    }


def portable(arg: str) -> str:
    """A command-line argument without this machine's folders: an absolute path becomes
    relative to the current folder when it lies below it, else just its last two parts."""
    path = Path(arg)
    if not path.is_absolute():
        return arg
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(Path("...", *path.parts[-2:]))


def environment() -> dict:
    """The backend, device, machine and software a run is made with: recorded with every run,
    so a table that combines runs can say whether they were all made alike."""
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__}
    for name in ("keras_tuner", "tensorflow", "jax", "numpy", "sklearn", "scipy"):
        if name in sys.modules:
            versions[name] = getattr(sys.modules[name], "__version__", "?")
    from kfashion import __version__

    versions["kfashion"] = __version__
    about = machine()
    return {
        "backend": keras.backend.backend(),
        "device": ", ".join(about["accelerators"]) or "CPU",
        "machine": f"{about['cpu']}, {about['cores']} cores, {platform.system()}, "
        f"{', '.join(about['accelerators']) or 'no GPU'}",
        "versions": versions,
    }


def made_on(env: dict) -> str:
    """One line naming a run's backend and machine, for comparing runs."""
    return f"{env['backend']} on {env['machine']}"


def provenance(module: str, argv: list[str], dataset=None) -> dict:
    """The command, software, machine and data behind a results file.

    Args:
        module: the command's module, e.g. "kfashion.tune".
        argv: the arguments it was given.
        dataset: the `kfashion.data.Dataset` it used, if any: recorded by the kind of its
            source and its files' SHA-256, not by this machine's folders.
    """
    record = {
        "command": shlex.join(["python", "-m", module, *map(portable, argv)]),
        **environment(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if dataset is not None:
        record["data"] = dataset.provenance()
    return record


def hold_lock(path, what: str):
    """Take an exclusive lock on `path`, or refuse with a UserError if another process holds it.

    The lock lives as long as the returned file object and is dropped by the OS however the
    process ends (even kill -9), so a stale lock never blocks a rerun.
    """
    import fcntl

    from kfashion.errors import UserError

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


def check_runs(runs_dir: Path, settings: dict, overwrite: bool) -> None:
    """Refuse to mix runs made with other training settings, unless --overwrite."""
    import shutil

    from kfashion.errors import UserError

    path = runs_dir / "settings.json"
    if overwrite:
        shutil.rmtree(runs_dir, ignore_errors=True)
    elif changed := changed_settings(path, settings):
        what = ", ".join(changed).replace("encoder_sha256", "encoder (its SHA-256 differs)")
        raise UserError(
            f"{runs_dir} holds runs made with another {what}; rerun with the same settings to "
            "resume, pass --overwrite to discard them, or choose another --results"
        )
    write_json(path, settings)
