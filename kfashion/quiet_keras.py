"""Import Keras without TensorFlow's C++ start-up lines on stderr.

On a machine without a GPU, TensorFlow's CUDA build prints several lines (absl, cudart, cuInit)
at import and first use. They would bury the one line a refused command prints, and no
environment variable silences them, so the import and a first tiny op run with the process's
stderr pointed at /dev/null. Python exceptions still propagate as usual.

Use `from kfashion.quiet_keras import keras` instead of `import keras`.
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


# The networks are small and `tune --workers N` runs N processes on one GPU: no framework may
# take most of the GPU's memory up front (JAX takes 75% and TensorFlow all of it by default).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

with _stderr_to_devnull():
    import keras

    keras.ops.convert_to_numpy(keras.ops.zeros(1))  # the backend probes devices on first use

# Each trial and case builds new models, so TensorFlow's "retracing" warning fires by design.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

__all__ = ["keras"]
