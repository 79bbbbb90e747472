"""The runs `python -m kfashion.bench` times: each stage's own run, exactly as its command trains
it, beside a plain Keras `fit` and a plain PyTorch loop of the same run.

The same run means the same network, training images, epochs and batch size, validation after
every epoch, and the test split scored once at the end. A stage's run goes through the stage's
own tuner: the sweep's `SweepTuner.search` over the base point (its callbacks, validation, each
seed's record and saved model) and the grid's `GridTuner.run_trial` on one cell (its recipe,
best-epoch callback, validation, test scores, record). Each maker returns a function
that does one whole run and returns the images it trained on (epochs x training images).
"""

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from kfashion import config
from kfashion.core.errors import UserError


def _quietly(run):
    """`run` with the stage's progress lines (one per run or seed) left out of the bench's."""

    def quiet():
        with contextlib.redirect_stdout(io.StringIO()):
            return run()

    return quiet


def sweep_point(dataset, epochs: int, seeds: list[int]):
    """The base point's trial with `seeds`, as `python -m kfashion.tune` runs it."""
    from kfashion import config
    from kfashion.pretraining import sweep

    points = config.make_design([])  # the base case alone

    def run():
        with tempfile.TemporaryDirectory() as folder:
            tuner = sweep.SweepTuner(
                design=points,
                seeds=seeds,
                test_data=(dataset.x_test, dataset.x_test),
                rank_images=dataset.x_val,
                probe_data=sweep.probe_data(dataset),
                oracle=sweep.DesignOracle(points),
                hypermodel=sweep.AutoencoderHyperModel(verbose=0),
                directory=folder,
                project_name="sweep",
            )
            tuner.oracle.verbose = 0
            tuner.search(
                dataset.x_train,
                dataset.x_train,
                validation_data=(dataset.x_val, dataset.x_val),
                epochs=epochs,
            )
        return len(seeds) * epochs * len(dataset.x_train)

    return _quietly(run)


def grid_run(dataset, labels: str, case: int, recipe: str, rate: float, epochs: int, min_steps):
    """One final run of the course network's grid, as `python -m kfashion.transfer` trains it
    (`min_steps`: a few-label run's)."""
    import keras_tuner

    from kfashion.core import models
    from kfashion.finetuning import grid, grid_tuner

    encoder = models.build_encoder(64, 0.1)  # the reference choice; its weights cost no time
    pretrained = case in (1, 2)
    cell = grid.Cell("course", labels, case, recipe, 0 if pretrained else -1, (0,), False, rate)
    split = grid_tuner.split_for(cell, 0, dataset, config.TRANSFER_BATCH_SIZE, epochs, min_steps)
    hp = grid_tuner.search_space([cell])
    hp.values.update(cell.values())
    trial = keras_tuner.engine.trial.Trial(hp, trial_id="0")

    def run():
        with tempfile.TemporaryDirectory() as folder:
            tuner = grid_tuner.GridTuner(
                {"course": {0: (encoder, "")}},
                dataset,
                Path(folder),
                epochs,
                config.TRANSFER_BATCH_SIZE,
                min_steps,
                lambda cell: None,
                None,
                oracle=grid_tuner.GridOracle([cell], folder),
                directory=folder,
                project_name="grid",
            )
            tuner.run_trial(trial)
        return epochs * len(split.x_train)

    return _quietly(run)


def plain_fit(dataset, network: str, epochs: int):
    """A fresh model of `network` ("autoencoder", or "classifier": the course encoder and its
    head) in a plain `fit`: Keras's defaults, Adam at 1e-3."""
    import keras

    from kfashion.core import models

    x, x_val, x_test = dataset.x_train, dataset.x_val, dataset.x_test
    if network == "autoencoder":
        y, y_val, y_test, loss, metrics = x, x_val, x_test, "mse", []
    else:
        y, y_val, y_test = dataset.y_train, dataset.y_val, dataset.y_test
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = ["accuracy"]

    def run():
        keras.utils.set_random_seed(0)
        if network == "autoencoder":
            model = models.build_autoencoder(64, 0.2)
        else:
            model = models.build_classifier(models.build_encoder(64, 0.1))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=metrics)
        model.fit(
            x,
            y,
            batch_size=config.TRANSFER_BATCH_SIZE,
            epochs=epochs,
            validation_data=(x_val, y_val),
            verbose=0,
        )
        model.evaluate(x_test, y_test, batch_size=config.TRANSFER_BATCH_SIZE, verbose=0)
        return epochs * len(x)

    return run


def torch_network(network: str):
    """The network of `kfashion.core.models` (the course architecture) as a PyTorch module."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError("--torch needs PyTorch: python -m pip install torch") from None
    from torch import nn

    p = 0.2 if network == "autoencoder" else 0.1
    encoder = [
        nn.Conv2d(1, 16, 3),
        nn.ReLU(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3),
        nn.ReLU(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(800, 64),
        nn.ReLU(),
        nn.Dropout(p),
    ]
    if network == "classifier":
        return nn.Sequential(*encoder, nn.Linear(64, 10))
    return nn.Sequential(
        *encoder,
        nn.Linear(64, 800),
        nn.ReLU(),
        nn.Dropout(p),
        nn.Unflatten(1, (32, 5, 5)),
        nn.ConvTranspose2d(32, 16, 4, stride=2, output_padding=1),
        nn.ReLU(),
        nn.Dropout(p),
        nn.ConvTranspose2d(16, 1, 3, stride=2, output_padding=1),
        nn.Sigmoid(),
    )


def plain_torch(dataset, network: str, epochs: int):
    """A fresh `torch_network(network)` in a plain PyTorch loop: Adam at 1e-3, shuffled
    batches, the validation split scored after each epoch and the test split at the end."""
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count() or 1)

    def images(x):  # channels first, converted once, as a plain loop would
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    x, x_val, x_test = (images(d) for d in (dataset.x_train, dataset.x_val, dataset.x_test))
    if network == "autoencoder":
        y, y_val, y_test, loss_fn = x, x_val, x_test, nn.MSELoss()
    else:
        y, y_val, y_test = (
            torch.from_numpy(d.astype(np.int64))
            for d in (dataset.y_train, dataset.y_val, dataset.y_test)
        )
        loss_fn = nn.CrossEntropyLoss()

    def score(model, inputs, targets) -> float:
        model.eval()
        with torch.no_grad():
            total = sum(
                loss_fn(
                    model(inputs[i : i + config.TRANSFER_BATCH_SIZE]),
                    targets[i : i + config.TRANSFER_BATCH_SIZE],
                ).item()
                for i in range(0, len(inputs), config.TRANSFER_BATCH_SIZE)
            )
        return total

    def run():
        torch.manual_seed(0)
        model = torch_network(network)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        for _ in range(epochs):
            model.train()
            for batch in torch.randperm(len(x)).split(config.TRANSFER_BATCH_SIZE):
                optimizer.zero_grad()
                loss_fn(model(x[batch]), y[batch]).backward()
                optimizer.step()
            score(model, x_val, y_val)
        score(model, x_test, y_test)
        return epochs * len(x)

    return run
