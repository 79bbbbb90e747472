"""Keras for the commands, without TensorFlow's C++ start-up lines on stderr.

On a machine without a GPU, TensorFlow's CUDA build prints several lines (absl, cudart, cuInit)
at import and first use. They would bury the one line a refused command prints, and no
environment variable silences them all, so a command's entry point imports Keras through
`load_keras()`, which runs the import and a first tiny op with the process's stderr pointed at
/dev/null. Python exceptions still propagate as usual. Library code (`kfashion.core.models` and the
rest) imports Keras plainly and changes nothing in the process it is imported into.
"""

import contextlib
import gc
import importlib.util
import json
import logging
import os
from pathlib import Path

from kfashion.core.errors import UserError

BACKENDS = ("tensorflow", "jax", "torch")  # Keras 3's backends that train; pip names the same


@contextlib.contextmanager
def _stderr_to_devnull():
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def chosen_backend() -> tuple[str, str]:
    """The backend Keras will load and where that was chosen, read as Keras reads it
    (KERAS_BACKEND, else "backend" in KERAS_HOME's or ~/.keras's keras.json), without it."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        name = json.loads(config.read_text()).get("backend")
    except (OSError, ValueError, AttributeError):  # no file, or not one Keras can use either
        name = None
    return (name, str(config)) if name else ("tensorflow", "Keras's default")


def check_backend() -> str:
    """The chosen backend, or a UserError if it is unknown or not installed (an import of
    Keras would end in a long traceback). Nothing is imported: find_spec only looks."""
    name, where = chosen_backend()
    installed = [b for b in BACKENDS if importlib.util.find_spec(b) is not None]
    have = f"installed: {', '.join(installed)}" if installed else "none of them is installed"
    if name not in BACKENDS:
        raise UserError(
            f"Keras backend {name!r} (from {where}) is not one kfashion runs on; choose "
            f"tensorflow, jax or torch ({have}), e.g. KERAS_BACKEND={(installed or BACKENDS)[0]}"
        )
    if name not in installed:
        other = (
            f" or choose an installed one, e.g. KERAS_BACKEND={installed[0]}" if installed else ""
        )
        raise UserError(
            f"Keras backend {name!r} (from {where}) is not installed ({have}); install it with "
            f"`python -m pip install {name}`{other}"
        )
    return name


def load_keras():
    """Import Keras quietly, set up for kfashion's commands, and return it."""
    check_backend()  # before the import: a missing backend is one line, not a traceback
    # TensorFlow's own log lines (CPU flags, retracing) would hide the progress users read.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The networks are small and `tune --workers N` runs N processes on one GPU: no framework
    # may take most of the GPU's memory up front (JAX takes 75% and TensorFlow all of it).
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    with _stderr_to_devnull():
        import keras

        keras.ops.convert_to_numpy(keras.ops.zeros(1))  # the backend probes devices on first use
        if keras.backend.backend() != "tensorflow" and importlib.util.find_spec("tensorflow"):
            # `keras.utils.set_random_seed` seeds TensorFlow too wherever it is installed,
            # whatever the backend, and imports it the first time: its lines, here, not then
            import tensorflow  # noqa: F401
    # Each trial and case builds new models, so TensorFlow's "retracing" warning fires by design.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # The framework's own objects (several hundred thousand, alive until exit) go to Python's
    # permanent generation, which no collection scans again: every full collection, and each
    # gc.collect() that keras.backend.clear_session() (once per run) and statsmodels' Holm
    # correction call, then costs a fraction of the time. Once per command, after a collection:
    # a study loads Keras once per stage, and a later freeze would keep the garbage of the
    # stages before it. The command unfreezes as it ends (`kfashion.core.errors`), so a notebook's
    # own objects are not kept from the collector for good.
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    if keras.backend.backend() == "jax":
        from kfashion.core.jax_cache import use_compilation_cache

        use_compilation_cache()
    return keras
