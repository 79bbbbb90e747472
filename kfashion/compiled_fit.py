"""Whole training epochs as one XLA program: the fast path on JAX.

`model.fit` on JAX calls one compiled step per batch from Python and copies each batch to the
device. For these small networks a GPU finishes a step's kernels long before the next call
reaches it, so the sweep ran at a small fraction of what the device can do. Here the training
set is put on the device once, each epoch's shuffle is drawn there, and `jax.lax.scan` runs all
of an epoch's batches (the last, smaller one included) in a single call.

The step is the one in Keras's guide to training loops in JAX: `model.stateless_call`, the
compiled loss and `optimizer.stateless_apply`. The weights go back into the model after every
epoch, before validation (`model.evaluate`) and the epoch-end callbacks, so KerasTuner's
best-epoch checkpoints and the returned History are the same as with `fit`. Per-batch callbacks
are not called: a NaN loss is caught from the epoch's mean instead.
"""

import jax
import numpy as np

from kfashion.quiet_keras import keras


def fit(
    model,
    x,
    y,
    *,
    batch_size: int,
    epochs: int,
    validation_data=None,
    validation_batch_size=None,
    callbacks=(),
    shuffle: bool = True,
    seed: int = 0,
    verbose: int = 0,
):
    """Train like `model.fit(x, y, ...)` and return the History; x and y are arrays."""
    model.optimizer.build(model.trainable_variables)  # no-op once built
    run_epoch = _epoch_function(model, len(x), batch_size, shuffle)
    x_device = jax.device_put(np.asarray(x))
    y_device = x_device if y is x else jax.device_put(np.asarray(y))
    steps = -(-len(x) // batch_size)
    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, add_progbar=verbose != 0, model=model,
        verbose=verbose, epochs=epochs, steps=steps,
    )  # fmt: skip
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        key = jax.random.fold_in(jax.random.key(seed), epoch)
        state, loss = run_epoch(_read_state(model), x_device, y_device, key)
        _write_state(model, state)
        logs = {"loss": float(loss)}
        if validation_data is not None:
            val_logs = model.evaluate(
                *validation_data, batch_size=validation_batch_size or batch_size,
                verbose=0, return_dict=True,
            )  # fmt: skip
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training or not np.isfinite(logs["loss"]):
            break
    callback_list.on_train_end(logs)
    return model.history


def _variable_groups(model):
    return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables


def _read_state(model) -> list:
    return [[variable.value for variable in group] for group in _variable_groups(model)]


def _write_state(model, state) -> None:
    for group, values in zip(_variable_groups(model), state, strict=True):
        for variable, value in zip(group, values, strict=True):
            variable.assign(value)


def _epoch_function(model, size: int, batch_size: int, shuffle: bool):
    """A compiled function (state, x, y, key) -> (state, mean training loss of the epoch).

    Kept on the model by (images, batch size, shuffle), so calling fit again on the same model
    and data shape (as the benchmark does, one epoch per call) reuses the compiled program. It
    is stored in the model's __dict__ directly: Keras tracks what is set as an attribute, and a
    cache outside the model would keep every trial's model alive through the function.
    """
    functions = model.__dict__.setdefault("_kfashion_compiled_epochs", {})
    if (size, batch_size, shuffle) not in functions:
        functions[size, batch_size, shuffle] = _make_epoch_function(
            model, size, batch_size, shuffle
        )
    return functions[size, batch_size, shuffle]


def _make_epoch_function(model, size: int, batch_size: int, shuffle: bool):
    loss_fn = keras.losses.get(model.loss)
    optimizer = model.optimizer
    full_batches, rest = divmod(size, batch_size)

    def loss_and_updates(trainable, non_trainable, x, y):
        y_pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        loss = keras.ops.mean(loss_fn(y, keras.ops.cast(y_pred, "float32")))
        return loss, non_trainable

    gradient = jax.value_and_grad(loss_and_updates, has_aux=True)

    def train_step(state, batch):
        trainable, non_trainable, optimizer_state = state
        (loss, non_trainable), grads = gradient(trainable, non_trainable, *batch)
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, grads, trainable)
        return [trainable, non_trainable, optimizer_state], loss

    def run_epoch(state, x, y, key):
        order = jax.random.permutation(key, size) if shuffle else jax.numpy.arange(size)
        batches = order[: full_batches * batch_size].reshape(full_batches, batch_size)
        state, losses = jax.lax.scan(lambda s, i: train_step(s, (x[i], y[i])), state, batches)
        total = losses.sum() * batch_size
        if rest:  # the smaller last batch, as `fit` trains on it too
            last = order[full_batches * batch_size :]
            state, loss = train_step(state, (x[last], y[last]))
            total = total + loss * rest
        return state, total / size  # per-image mean, as Keras reports it

    return jax.jit(run_epoch, donate_argnums=0)
