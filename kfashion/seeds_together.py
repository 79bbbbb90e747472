"""A sweep point's seeds trained together in one Keras model of parallel branches (CPUs).

On a CPU one small autoencoder can leave cores idle between its small kernels; several seeds
as branches of one functional model can fill them. How much depends on the machine: 3 course
autoencoders trained at 1.53x the images/s of one on a 2-core Intel machine (TensorFlow), and
`python -m kfashion.bench` has given 0.86x to 1.40x on 2-core machines; on the one thread of a
sweep worker (`tune.WORKERS`) 1.03x (2-core AMD EPYC).

Branch k is seed k's own autoencoder with its own input, output and loss; one optimizer
minimises the summed loss. Branches share no weights, so the gradient
of the sum with respect to branch k's weights is that of branch k's loss alone, and Adam and
SGD update each weight from its own gradient and the step count only, so each branch gets the
updates it would get trained alone. (This would not hold with global gradient clipping or a
float16 loss scale, which mix the branches; the sweep uses neither.)

So that a seed trained together is the same experiment as that seed trained alone, the order
of the images in every epoch is drawn explicitly from (seed, epoch) (`epoch_order`) and fed
in that order (`fit(shuffle=False)` on the reordered arrays, one call per epoch), alone or
together: 0.77 s an epoch of 6,000 images for one model, against 1.11 s for one `fit` over a
`keras.utils.PyDataset` that draws the same orders (shared 2-core machine). The dropout draws
are the same too: each dropout layer keeps its own seed generator, made when the seed's model
was built (Keras 3). So the curves and weights agree with the seed's alone within float
tolerance, at any dropout rate (tests/test_seeds_together.py).

Each seed keeps its own curves, best epoch (by its own val_loss, whose weights are put back
into its branch) and divergence: a seed whose loss becomes NaN or inf stops the group, is
recorded as diverged, and the others start again from scratch together (the same experiment,
by the above), so a NaN can never reach their weights.
"""

import math

import keras
import numpy as np

from kfashion import training
from kfashion.design import IMAGE_SHAPE, STEP_NOISE


def epoch_order(seed: int, epoch: int, size: int) -> np.ndarray:
    """The order of the `size` training images in epoch `epoch` (from 0) of seed `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(size)


class StepNoise(keras.callbacks.Callback):
    """Records per epoch, as `logs[key]`, how much a training loss jumps from one chunk of
    steps to the next: the sample std of the differences between successive chunk means, over
    the mean of the chunk means. A chunk is one call into the backend (`steps_per_execution`
    steps, the last one shorter). Keras's `logs[loss_key]` after a chunk is the running mean
    over the epoch's images so far, weighted by images, so a chunk's own mean is recovered from
    two running means: (n_k m_k - n_(k-1) m_(k-1)) / (n_k - n_(k-1)), n_k the images seen after
    it. An epoch of fewer than 3 chunks records nothing.

    Args:
        batch_size: images a step.
        samples: training images an epoch (the last batch may be short).
        loss_key: the running loss in the logs (one seed's, in a group).
        key: where the epoch's step noise goes in the logs.
    """

    def __init__(self, batch_size: int, samples: int, loss_key="loss", key=STEP_NOISE):
        super().__init__()
        self.batch_size, self.samples = batch_size, samples
        self.loss_key, self.key = loss_key, key

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.running, self.chunks = 0, 0.0, []

    def on_train_batch_end(self, batch, logs=None):
        seen = min((batch + 1) * self.batch_size, self.samples)  # `batch`: the chunk's last step
        mean = float(logs[self.loss_key])
        self.chunks.append((seen * mean - self.seen * self.running) / (seen - self.seen))
        self.seen, self.running = seen, mean

    def on_epoch_end(self, epoch, logs=None):
        if len(self.chunks) >= 3 and logs is not None:
            chunks = np.asarray(self.chunks)
            logs[self.key] = float(np.diff(chunks).std(ddof=1) / chunks.mean())


class Branches(keras.callbacks.Callback):
    """Splits each epoch's logs per seed, keeps each seed's best weights, notes divergence.

    Args:
        models: each seed's model (a branch of the trained model, or the model itself).
        keys: the log name of each seed's training loss; "val_" + key is its validation loss.
        noise_keys: the log name of each seed's step noise (`StepNoise`), where recorded.
    """

    def __init__(self, models, keys, noise_keys):
        super().__init__()
        self.models, self.keys, self.noise_keys = models, keys, noise_keys
        self.curves = [{"loss": [], "val_loss": []} for _ in models]
        self.best = [math.inf] * len(models)
        self.best_weights = [None] * len(models)
        self.diverged = set()

    def on_epoch_end(self, epoch, logs=None):
        for k, (model, key) in enumerate(zip(self.models, self.keys, strict=True)):
            loss, val_loss = logs[key], logs.get(f"val_{key}", math.nan)
            self.curves[k]["loss"].append(float(loss))
            self.curves[k]["val_loss"].append(float(val_loss))
            if self.noise_keys[k] in logs:  # from the StepNoise callback of this seed
                self.curves[k].setdefault(STEP_NOISE, []).append(logs[self.noise_keys[k]])
            if not (np.isfinite(loss) and np.isfinite(val_loss)):
                self.diverged.add(k)
            elif val_loss < self.best[k]:
                self.best[k], self.best_weights[k] = val_loss, model.get_weights()

    def restore_best(self) -> None:
        # EarlyStopping(restore_best_weights) can only do this for a whole model
        for model, weights in zip(self.models, self.best_weights, strict=True):
            if weights is not None:
                model.set_weights(weights)


def group(models, seeds, uneven: bool = True) -> keras.Model:
    """One functional model whose branch k is `models[k]`, input and output named seed<k>;
    `uneven`: whether a last batch may be smaller than the others (see below)."""
    for model, seed in zip(models, seeds, strict=True):
        model.name = f"seed{seed}"  # a functional model's layers need distinct names; `fit`
        # gives each its own name back
    inputs = [keras.Input(IMAGE_SHAPE, name=f"seed{seed}_image") for seed in seeds]
    outputs = [model(x) for model, x in zip(models, inputs, strict=True)]
    together = keras.Model(inputs, outputs, name="seeds_together")
    first = models[0]
    optimizer = type(first.optimizer).from_config(first.optimizer.get_config())
    # Keras's per-output "seed<k>_loss" averages the batches unweighted (a last, smaller batch
    # counts in full), unlike a lone model's "loss"; the loss as a metric weighs each image alike,
    # at 5% of the time, so only where batches are uneven. One metric object per branch: a
    # shared one would average all the branches together.
    mean_loss = [
        [keras.metrics.MeanMetricWrapper(keras.losses.get(first.loss), "mean_loss")] for _ in models
    ]
    together.compile(
        optimizer=optimizer,
        loss=[first.loss] * len(models),
        metrics=mean_loss if uneven else None,
        steps_per_execution=first.steps_per_execution,
    )
    return together


def copy_optimizer_state(together: keras.Model, model: keras.Model) -> None:
    """Give branch `model`'s own optimizer its part of the group optimizer's state, so its saved
    weights file holds the optimizer state it would hold trained alone.

    Keras optimizers keep a few variables of their own (the step count, ...) followed by the
    same number of slots (Adam: momentum, velocity) for each trained variable, in order.
    """
    source, target = together.optimizer, model.optimizer
    target.build(model.trainable_variables)
    total, own = len(together.trainable_variables), len(model.trainable_variables)
    slots = (len(source.variables) - len(target.variables)) // (total - own)
    head = len(target.variables) - slots * own
    first = model.trainable_variables[0]
    start = next(i for i, v in enumerate(together.trainable_variables) if v is first)
    part = source.variables[head + slots * start : head + slots * (start + own)]
    for to, value in zip(target.variables, [*source.variables[:head], *part], strict=True):
        to.assign(value)


def fit(
    models,
    seeds,
    x,
    y,
    *,
    epochs: int,
    batch_size: int,
    validation_data=None,
    callbacks=(),
    verbose=0,
    **fit_options,
):
    """Train `models[k]` with seed `seeds[k]` on (x, y) in each seed's `epoch_order`, all in one
    model (or a lone model as it is); returns one dict of "loss" and "val_loss" curves per seed,
    with each seed's best-val_loss weights in its model, and the set of seeds that diverged.

    `callbacks` see the group model, one `fit` call per epoch.
    """
    alone = len(models) == 1
    names = [model.name for model in models]
    validation_batch = fit_options.get("validation_batch_size") or batch_size
    uneven = len(x) % batch_size != 0
    uneven |= validation_data is not None and len(validation_data[0]) % validation_batch != 0
    trained = models[0] if alone else group(models, seeds, uneven)
    loss = "mean_loss" if uneven else "loss"
    keys = ["loss"] if alone else [f"seed{s}_{loss}" for s in seeds]
    noise_keys = [STEP_NOISE] if alone else [f"seed{s}_{STEP_NOISE}" for s in seeds]
    branches = Branches(models, keys, noise_keys)
    noise = [StepNoise(batch_size, len(x), *pair) for pair in zip(keys, noise_keys, strict=True)]
    validation = validation_data
    if validation is not None and not alone:
        validation = tuple([part] * len(models) for part in validation)
    stop = [*callbacks, *noise, keras.callbacks.TerminateOnNaN(), branches]
    example = (x, y) if alone else ([x] * len(models), [y] * len(models))
    training.build_before_fit(trained, *example)
    try:
        for epoch in range(epochs):
            orders = [epoch_order(seed, epoch, len(x)) for seed in seeds]
            inputs = [x[order] for order in orders]
            targets = inputs if y is x else [y[order] for order in orders]
            trained.fit(
                inputs[0] if alone else inputs,
                targets[0] if alone else targets,
                batch_size=batch_size,
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,  # the order is the one drawn above
                validation_data=validation,
                callbacks=stop,
                verbose=verbose,
                **fit_options,
            )
            if branches.diverged or trained.stop_training:
                break
    finally:
        for model, name in zip(models, names, strict=True):
            model.name = name
    branches.restore_best()
    if not alone:
        for model in models:
            copy_optimizer_state(trained, model)
    return branches.curves, {seeds[k] for k in branches.diverged}
