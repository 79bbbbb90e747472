"""Training settings every stage shares: the fast path that `python -m kfashion.bench` measures.

The data stays in memory as float32 arrays, loaded once per command. Each model's train, test
and predict functions are traced once and reused across epochs (Keras caches them per model).
XLA is left to Keras's "auto": on for JAX and GPUs, off for TensorFlow on CPU, where it is many
times slower for these small convolutions.
"""

# Several training steps per call into the backend: less Python and dispatch overhead per step,
# which matters when a step of these small networks takes a few milliseconds.
STEPS_PER_EXECUTION = 10
# Evaluation keeps no gradients, so larger batches cost little memory and give the same numbers.
EVAL_BATCH_SIZE = 1000


def compile_options() -> dict:
    """Keyword arguments for `model.compile` beyond optimizer, loss and metrics."""
    return {"steps_per_execution": STEPS_PER_EXECUTION}


def fit_options() -> dict:
    """Keyword arguments for `model.fit` beyond data, epochs, batch size and callbacks."""
    return {"validation_batch_size": EVAL_BATCH_SIZE}


def use_mixed_precision(enabled: bool) -> None:
    """Compute in bfloat16 with float32 weights (for GPUs; most CPUs run it slower)."""
    from kfashion.quiet_keras import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if enabled else "float32")
