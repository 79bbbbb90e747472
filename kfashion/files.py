"""Results files on disk: JSON written atomically and read with a clear error, the SHA-256
of a file, and `.keras` models saved atomically."""

import hashlib
import json
import os
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
    write_text(path, json.dumps(obj, indent=1, default=_jsonable, allow_nan=True) + "\n")


def write_text(path, text: str) -> None:
    """Write `text` to `path` atomically."""
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
