"""Keras for the commands, without TensorFlow's C++ start-up lines on stderr.

On a machine without a GPU, TensorFlow's CUDA build prints several lines (absl, cudart, cuInit)
at import and first use. They would bury the one line a refused command prints, and no
environment variable silences them all, so a command's entry point imports Keras through
`load_keras()`, which runs the import and a first tiny op with the process's stderr pointed at
/dev/null. Python exceptions still propagate as usual. Library code (`kfashion.models` and the
rest) imports Keras plainly and changes nothing in the process it is imported into.
"""

import contextlib
import logging
import os


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


def load_keras():
    """Import Keras quietly, set up for kfashion's commands, and return it."""
    # TensorFlow's own log lines (CPU flags, retracing) would hide the progress users read.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The networks are small and `tune --workers N` runs N processes on one GPU: no framework
    # may take most of the GPU's memory up front (JAX takes 75% and TensorFlow all of it).
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    with _stderr_to_devnull():
        import keras

        keras.ops.convert_to_numpy(keras.ops.zeros(1))  # the backend probes devices on first use
    # Each trial and case builds new models, so TensorFlow's "retracing" warning fires by design.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if keras.backend.backend() == "jax":
        from kfashion.jax_cache import use_compilation_cache

        use_compilation_cache()
    return keras
