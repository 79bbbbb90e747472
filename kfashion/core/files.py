"""Results files on disk: JSON written atomically and read with a clear error, the SHA-256
of a file, and `.keras` models saved atomically."""

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from kfashion.core.errors import UserError, disk_full


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def remake(path) -> str:
    """How to make the results file at `path` again: the command that writes it."""
    path = Path(path)
    from kfashion.core.layout import ARCHITECTURE, MADE_BY, MADE_BY_ARCHITECTURE

    made_by = MADE_BY_ARCHITECTURE if path.parent.name == ARCHITECTURE else MADE_BY
    command = made_by.get(path.name)
    if command is None:
        return "delete it and run the command that wrote it again"
    return f"make it again with `{command} --results {path.parent}` (or delete it)"


@contextlib.contextmanager
def reading(*paths: Path):
    """Within the block, a results file that lacks a key or holds a value of another kind (cut
    short, edited by hand, or from another version) is one line naming it, not a traceback."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, StopIteration) as error:
        what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise UserError(
            f"{' or '.join(map(str, paths))}: not what this version of kfashion writes ({what}); "
            + "; ".join(remake(path) for path in paths)
        ) from None


def _replace_atomically(path: Path, write) -> None:
    """Write through `write(tmp_path)` beside `path`, then rename: a kill leaves old or new,
    and a full disk leaves the old file and a one-line error."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
        os.close(fd)
        # mkstemp makes it private (0600); the results are for reading, as a plain write gives
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        write(Path(tmp))
        os.replace(tmp, path)
    except Exception as error:
        if disk_full(error):
            raise UserError(
                f"the disk holding {path.parent} is full (writing {path.name}); free some space "
                "and run the same command again: it continues from the finished files"
            ) from None
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def json_text(obj) -> str:
    """`obj` as the indented JSON every results file holds."""
    return json.dumps(obj, indent=1, default=_jsonable, allow_nan=True) + "\n"


def write_json(path, obj) -> None:
    """Write `obj` as indented JSON, atomically (never half-written, even after kill -9)."""
    write_text(path, json_text(obj))


def write_text(path, text: str) -> None:
    """Write `text` atomically: a kill or a full disk leaves the old file whole."""
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(text))


def read_json(path):
    """The JSON at `path`, or a UserError naming the file, what is wrong and how to remake it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        what = "not valid JSON" if isinstance(error, json.JSONDecodeError) else "not text"
        raise UserError(f"{path}: {what} (cut short or edited?); {remake(path)}") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a results file; {remake(path)}") from None


def read_record(path) -> dict | None:
    """A finished run's record, or None when there is none or it is unreadable: a record cut
    short from outside (writes are atomic) means the run is not done, and it runs again."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


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
    save_checkpoint(model, path)


def save_checkpoint(model, path) -> None:
    """Save a `.keras` file atomically, as it is now. Keras writes a `.keras` file's weights in
    memory first, so a full disk is a plain OSError; `save_weights` writes HDF5 straight to
    the disk, and a full disk there leaves HDF5's file open and broken (the process crashed at
    exit)."""
    _replace_atomically(Path(path), model.save)


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
