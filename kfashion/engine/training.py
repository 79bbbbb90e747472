"""How every stage trains: `model.fit` with Keras callbacks, one run after another.

The data stays in memory as float32 arrays, loaded once per command. XLA is left to Keras's
"auto": on for JAX and GPUs, off for TensorFlow on CPU, where it is many times slower for these
small convolutions. On JAX with an accelerator, whole epochs run as one program instead
(`kfashion.engine.compiled_fit`), behind the same records.
"""

import contextlib
import os

import keras
import numpy as np

from kfashion import config
from kfashion.config import STEP_NOISE, STEP_NOISE_CHUNK


def stop_on_ctrl_c():
    """A callback that ends training at the end of an epoch once Ctrl-C was pressed, should
    the KeyboardInterrupt itself have been swallowed (see `kfashion.core.errors`)."""
    from kfashion.core.errors import stop_if_interrupted

    return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: stop_if_interrupted())


def tensorboard(log_dir: str | None, run: str, hyperparameters: dict) -> list:
    """Callbacks that log one run to `log_dir/run` for TensorBoard, on every backend: its
    curves per epoch (`keras.callbacks.TensorBoard`) and its hyperparameters for the HParams
    dashboard (`tensorboard.plugins.hparams.api.KerasCallback`). None for no log.

    KerasTuner's own (`Tuner._configure_tensorboard_dir`) gives a trial's executions separate
    folders and HParams on TensorFlow only, and is not public API.
    """
    if log_dir is None:
        return []
    from tensorboard.plugins.hparams import api

    folder = os.path.join(log_dir, run)
    return [keras.callbacks.TensorBoard(folder), api.KerasCallback(folder, hyperparameters)]


def build_before_fit(model, x, y) -> None:
    """Make what Keras on TensorFlow leaves to the first trace of the training step: the
    optimizer's variables and the loss's and metrics' trackers, from one example of (x, y).

    A `tf.function` whose first trace creates variables is traced a second time. Built here,
    a fresh model traces its step once, with the same numbers to the bit; most of the tests'
    time is such first traces.
    """
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
    return {"validation_batch_size": config.EVAL_BATCH_SIZE}


@contextlib.contextmanager
def mixed_precision(enabled: bool):
    """Within the block, compute in bfloat16 with float32 weights (for GPUs; most CPUs run it
    slower), or in float32; after it, in what the process computed in before."""
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if enabled else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def compiles_whole_epochs() -> bool:
    """Whether `fit` runs whole epochs as one XLA program: on JAX with a GPU or other
    accelerator. Not on CPU, where XLA's loop of these convolutions trains slower than
    `model.fit` (the commit that made this choice has the figures). The environment variable
    KFASHION_COMPILED_EPOCHS=1 (or 0) forces it on (or off) on JAX."""
    if keras.backend.backend() != "jax":
        return False
    forced = os.environ.get("KFASHION_COMPILED_EPOCHS")
    if forced in ("0", "1"):
        return forced == "1"
    import jax

    return jax.default_backend() != "cpu"


class StepNoise(keras.callbacks.Callback):
    """Records per epoch, as `logs[key]`, how much the training loss jumps from one chunk of
    `config.STEP_NOISE_CHUNK` steps to the next: the sample std of the differences between
    successive chunk means, over the mean of the chunk means (the epoch's last chunk may be
    shorter). Keras's `logs["loss"]` after a step is the running mean over the epoch's images
    so far, weighted by images, so a chunk's own mean is recovered from two running means:
    (n_k m_k - n_(k-1) m_(k-1)) / (n_k - n_(k-1)), n_k the images seen after chunk k. Images are
    counted here, `steps_per_execution` steps a call, not read from the step index Keras passes
    (a call's last step in Keras 3.15, its first in earlier releases). An epoch of fewer than 3
    chunks records nothing.

    Args:
        batch_size: images a step.
        samples: training images an epoch (the last batch may be short).
        key: where the epoch's step noise goes in the logs.
    """

    def __init__(self, batch_size: int, samples: int, key: str = STEP_NOISE):
        super().__init__()
        self.batch_size, self.samples, self.key = batch_size, samples, key

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.start, self.running, self.chunks = 0, 0, 0.0, []

    def on_train_batch_end(self, batch, logs=None):
        images = self.model.steps_per_execution * self.batch_size  # this call's steps
        self.seen = min(self.seen + images, self.samples)
        chunk_ends = self.seen - self.start >= STEP_NOISE_CHUNK * self.batch_size
        if chunk_ends or self.seen == self.samples:
            mean = float(logs["loss"])
            chunk = (self.seen * mean - self.start * self.running) / (self.seen - self.start)
            self.chunks.append(chunk)
            self.start, self.running = self.seen, mean

    def on_epoch_end(self, epoch, logs=None):
        if len(self.chunks) >= 3 and logs is not None:
            chunks = np.asarray(self.chunks)
            logs[self.key] = float(np.diff(chunks).std(ddof=1) / chunks.mean())
