"""Whole training epochs as one XLA program, for the seeds of one model at once (JAX).

`model.fit` on JAX calls one compiled step per batch from Python and copies each batch to the
device. For these small networks a GPU finishes a step's kernels long before the next call
reaches it. Here the training set is put on the device once and `jax.lax.scan` runs all of an
epoch's batches (the last, smaller one included) in a single call. The step is the one in
Keras's guide to training loops in JAX: `model.stateless_call`, the loss and
`optimizer.stateless_apply`. `fit_seeds` trains several models of one architecture (the seeds
of a sweep point or of a transfer case) in one program, `jax.vmap` over their stacked weights,
optimizer states, dropout streams and shuffles: each is still its own run, with its own curves.

What it does exactly, and what it refuses:

- Without shuffling, an epoch is `fit`'s epoch step for step. With shuffling, the order is a
  permutation drawn on the device from the seed and the optimizer's step count (`epoch_order`),
  so successive one-epoch calls continue the sequence; an epoch equals `fit` without shuffling
  on the images in that order (the tests check both on JAX's CPU backend).
- The weights go back into the model after every epoch, before validation and the epoch-end
  callbacks, so `EarlyStopping(restore_best_weights=True)` and the History are as with `fit`.
- Per-batch callbacks do not run. `TerminateOnNaN` is honoured per epoch instead: an epoch
  whose mean loss is not finite ends training, as it ends the run that diverged. Any other
  callback with per-batch hooks, metrics other than accuracy and `loss_weights` are refused
  with a ValueError rather than dropped; there are no sample weights.
"""

import jax
import keras
import numpy as np

# Callbacks whose per-batch hooks this path stands in for (per epoch) or may skip.
EPOCH_LEVEL = (
    keras.callbacks.TerminateOnNaN,
    keras.callbacks.History,
    keras.callbacks.ProgbarLogger,
)
BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def epoch_order(seed: int, step: int, size: int, shuffle: bool = True):
    """The order of the images in the epoch that starts at optimizer step `step`."""
    if not shuffle:
        return jax.numpy.arange(size)
    return jax.random.permutation(jax.random.fold_in(jax.random.key(seed), step), size)


def _compiled_metrics(model) -> list[str]:
    compiled = getattr(model, "_compile_metrics", None)
    metrics = compiled._user_metrics if compiled is not None else None
    return [getattr(m, "name", str(m)) for m in metrics or []]


def check_supported(model, callbacks) -> None:
    """Refuse what this path would otherwise drop silently (see the module docstring)."""
    if any(name != "accuracy" for name in _compiled_metrics(model)):
        raise ValueError(
            f"compiled epochs compute the loss and accuracy only, not {_compiled_metrics(model)}"
        )
    if getattr(model._compile_loss, "_user_loss_weights", None) is not None:
        raise ValueError("compiled epochs do not apply loss_weights")
    for callback in callbacks:
        if isinstance(callback, EPOCH_LEVEL):
            continue
        tensorboard = isinstance(callback, keras.callbacks.TensorBoard)
        if tensorboard and callback.update_freq == "epoch":  # its batch hooks only profile
            continue
        overridden = [
            hook
            for hook in BATCH_HOOKS
            if getattr(type(callback), hook) is not getattr(keras.callbacks.Callback, hook)
        ]
        if overridden:
            raise ValueError(
                f"compiled epochs run no per-batch callbacks: {type(callback).__name__} "
                f"overrides {overridden[0]}"
            )


def _accuracy_wanted(model) -> bool:
    return "accuracy" in _compiled_metrics(model)


def _variable_groups(model):
    return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables


def read_state(model) -> list:
    return [[variable.value for variable in group] for group in _variable_groups(model)]


def write_state(model, state) -> None:
    for group, values in zip(_variable_groups(model), state, strict=True):
        for variable, value in zip(group, values, strict=True):
            variable.assign(value)


def _programs(model, size: int, batch_size: int, shuffle: bool, seeds: int):
    """(train one epoch, evaluate) compiled functions for this model's architecture.

    train(state, x, y, key_seed) -> (state, mean loss, mean accuracy); evaluate(state, x, y)
    -> (mean loss, mean accuracy), both vmapped over a leading axis of `seeds` states (and
    key seeds). Kept on the model, by (images, batch size, shuffle,
    seeds), so further calls reuse the compiled program. It is stored in the model's __dict__
    directly: Keras tracks what is set as an attribute, and a cache outside the model would
    keep every trial's model alive through the function.
    """
    functions = model.__dict__.setdefault("_kfashion_programs", {})
    key = (size, batch_size, shuffle, seeds)
    if key not in functions:
        functions[key] = _make_programs(model, size, batch_size, shuffle, seeds)
    return functions[key]


def _make_programs(model, size: int, batch_size: int, shuffle: bool, seeds: int):
    loss_fn = keras.losses.get(model.loss)
    optimizer = model.optimizer
    full_batches, rest = divmod(size, batch_size)
    with_accuracy = _accuracy_wanted(model)

    def forward(trainable, non_trainable, x, y, training):
        y_pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=training)
        y_pred = keras.ops.cast(y_pred, "float32")
        loss = keras.ops.mean(loss_fn(y, y_pred))
        hits = 0.0
        if with_accuracy:
            hits = keras.ops.mean(keras.ops.cast(keras.ops.argmax(y_pred, -1) == y, "float32"))
        return loss, (non_trainable, hits)

    gradient = jax.value_and_grad(lambda *a: forward(*a, True), has_aux=True)

    def train_step(state, batch):
        trainable, non_trainable, optimizer_state = state
        (loss, (non_trainable, hits)), grads = gradient(trainable, non_trainable, *batch)
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, grads, trainable)
        return [trainable, non_trainable, optimizer_state], (loss, hits)

    def train(state, x, y, seed):
        step = state[2][0]  # the optimizer's first variable is its iteration count
        order = epoch_order(seed, step, size, shuffle)
        batches = order[: full_batches * batch_size].reshape(full_batches, batch_size)
        state, (losses, hits) = jax.lax.scan(
            lambda s, i: train_step(s, (x[i], y[i])), state, batches
        )
        total, correct = losses.sum() * batch_size, hits.sum() * batch_size
        if rest:  # the smaller last batch, as `fit` trains on it too
            last = order[full_batches * batch_size :]
            state, (loss, hit) = train_step(state, (x[last], y[last]))
            total, correct = total + loss * rest, correct + hit * rest
        return state, total / size, correct / size  # per-image means, as Keras reports them

    def evaluate(state, x, y):
        trainable, non_trainable, _ = state
        loss, (_, hits) = forward(trainable, non_trainable, x, y, False)
        return loss, hits

    return (
        jax.jit(jax.vmap(train, in_axes=(0, None, None, 0)), donate_argnums=0),
        jax.jit(jax.vmap(evaluate, in_axes=(0, None, None))),
    )


def _callback_list(model, callbacks, epochs, steps, verbose):
    return keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )


def _epoch_logs(loss, accuracy, with_accuracy: bool, prefix: str = "") -> dict:
    logs = {f"{prefix}loss": float(loss)}
    if with_accuracy:
        logs[f"{prefix}accuracy"] = float(accuracy)
    return logs


def fit_seeds(
    models,
    x,
    y,
    *,
    seeds,
    batch_size: int,
    epochs: int,
    validation_data=None,
    callbacks=None,
    shuffle: bool = True,
    verbose: int = 0,
):
    """Train several models of one architecture together, one per seed, in one program.

    Args:
        models: compiled models, identical but for their weights (one per seed).
        x, y: the training arrays, shared by every seed.
        seeds: each model's seed, for its shuffle.
        callbacks: one list of callbacks per model (or None).
        batch_size, epochs, validation_data, shuffle, verbose: as for `model.fit`.

    Returns:
        One History per model. A model whose run stops (its callbacks set stop_training, or
        its loss is no longer finite) keeps the weights and curves it had then.
    """
    callbacks = callbacks or [[] for _ in models]
    for model, mine in zip(models, callbacks, strict=True):
        check_supported(model, mine)
        model.optimizer.build(model.trainable_variables)
    template = models[0]
    train, evaluate = _programs(template, len(x), batch_size, shuffle, len(models))
    x_device = jax.device_put(np.asarray(x))
    y_device = x_device if y is x else jax.device_put(np.asarray(y))
    if validation_data is not None:
        x_val, y_val = (jax.device_put(np.asarray(a)) for a in validation_data)
    steps = -(-len(x) // batch_size)
    lists = [
        _callback_list(m, c, epochs, steps, verbose) for m, c in zip(models, callbacks, strict=True)
    ]
    with_accuracy = _accuracy_wanted(template)
    state = jax.tree.map(lambda *leaves: jax.numpy.stack(leaves), *map(read_state, models))
    running = list(range(len(models)))
    for model, callback_list in zip(models, lists, strict=True):
        model.stop_training = False
        callback_list.on_train_begin()
    logs = [{} for _ in models]
    for epoch in range(epochs):
        for i in running:
            lists[i].on_epoch_begin(epoch)
        state, losses, accuracies = train(state, x_device, y_device, np.asarray(seeds))
        if validation_data is not None:
            val_losses, val_accuracies = evaluate(state, x_val, y_val)
        for i in list(running):
            write_state(models[i], jax.tree.map(lambda leaf, i=i: leaf[i], state))
            logs[i] = _epoch_logs(losses[i], accuracies[i], with_accuracy)
            if validation_data is not None:
                logs[i] |= _epoch_logs(val_losses[i], val_accuracies[i], with_accuracy, "val_")
            lists[i].on_epoch_end(epoch, logs[i])
            if models[i].stop_training or not np.isfinite(logs[i]["loss"]):
                running.remove(i)
                lists[i].on_train_end(logs[i])
        if not running:
            break
    for i in running:
        lists[i].on_train_end(logs[i])
    return [model.history for model in models]
