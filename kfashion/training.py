"""Training settings every stage shares: the fast path that `python -m kfashion.bench` measures.

The data stays in memory as float32 arrays, loaded once per command. Each model's train, test
and predict functions are traced once and reused across epochs (Keras caches them per model),
and on TensorFlow the transfer runs of one structure share one model's (`kfashion.compiled_once`).
XLA is left to Keras's "auto": on for JAX and GPUs, off for TensorFlow on CPU, where it is many
times slower for these small convolutions. On JAX with a GPU, the sweep's autoencoders train
whole epochs as one program (`kfashion.compiled_fit`).
"""

import contextlib

# Several training steps per call into the backend: less Python and dispatch overhead per step,
# which matters when a step of these small networks takes a few milliseconds.
STEPS_PER_EXECUTION = 10
# Evaluation keeps no gradients, so larger batches cost little memory and give the same numbers.
EVAL_BATCH_SIZE = 1000


def stop_on_ctrl_c():
    """A callback that ends training at the end of an epoch once Ctrl-C was pressed, should
    the KeyboardInterrupt itself have been swallowed (see `kfashion.errors`)."""
    import keras

    from kfashion.errors import stop_if_interrupted

    return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: stop_if_interrupted())


def compile_options() -> dict:
    """Keyword arguments for `model.compile` beyond optimizer, loss and metrics."""
    return {"steps_per_execution": STEPS_PER_EXECUTION}


def build_before_fit(model, x, y) -> None:
    """Make what Keras on TensorFlow leaves to the first trace of the training step: the
    optimizer's variables and the loss's and metrics' trackers, from one example of (x, y).

    A `tf.function` whose first trace creates variables is traced a second time. Built here,
    a fresh model traces its step once, with the same numbers to the bit (2-core CPU, the
    first one-epoch fit on 500 images: an autoencoder 1.85 s, now 1.2 s; three trained
    together 6.0 s, now 4.5 s). Most of the tests' time is such first traces.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return  # the other backends build these before they trace
    x, y = keras.tree.map_structure(lambda part: part[:1], (x, y))
    model.optimizer.build(model.trainable_variables)
    predicted = model(x)
    model.compute_loss(x, y, predicted)
    model.compute_metrics(x, y, predicted, sample_weight=None)
    model.reset_metrics()  # what the example added to them


def fit_options() -> dict:
    """Keyword arguments for `model.fit` beyond data, epochs, batch size and callbacks."""
    return {"validation_batch_size": EVAL_BATCH_SIZE}


@contextlib.contextmanager
def mixed_precision(enabled: bool):
    """Within the block, compute in bfloat16 with float32 weights (for GPUs; most CPUs run it
    slower), or in float32; after it, in what the process computed in before."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if enabled else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def compiles_whole_epochs() -> bool:
    """Whether `fit` runs whole epochs as one XLA program: on JAX with a GPU or other
    accelerator. Not on CPU, where XLA's loop of these convolutions trained the autoencoder at
    480 images/s against `model.fit`'s 900 (2-core machine, JAX backend). The environment
    variable KFASHION_COMPILED_EPOCHS=1 (or 0) forces it on (or off) on JAX."""
    import os

    import keras

    if keras.backend.backend() != "jax":
        return False
    forced = os.environ.get("KFASHION_COMPILED_EPOCHS")
    if forced in ("0", "1"):
        return forced == "1"
    import jax

    return jax.default_backend() != "cpu"


def fit(model, x, y, *, seed: int = 0, **kwargs):
    """`model.fit(x, y, **kwargs)`, or its compiled-epochs equivalent where that is faster.

    Used for models whose only metric is the loss (the autoencoders): the compiled path
    reports no other training metric.
    """
    if compiles_whole_epochs():
        from kfashion import compiled_fit

        return compiled_fit.fit(model, x, y, seed=seed, **kwargs)
    build_before_fit(model, x, y)
    return model.fit(x, y, **kwargs)
