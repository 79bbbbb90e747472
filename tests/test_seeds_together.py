import keras
import keras_tuner
import numpy as np
import pytest
from helpers import count_traces

from kfashion import data, seeds_together, sweep

SIZE = 275  # five full batches of 50 and one of 25 (or five of 55)


def indexed(images) -> np.ndarray:
    """The images with their first pixel saying which image each is, so the order fed shows."""
    images = images[:SIZE].copy()
    images[:, 0, 0, 0] = np.arange(len(images)) / SIZE
    return images


def order_of(images) -> list[int]:
    return np.rint(np.asarray(images)[:, 0, 0, 0] * SIZE).astype(int).tolist()


@pytest.mark.usefixtures("debian_data_dir")
@pytest.mark.parametrize("batch_size", [50, 55])
def test_a_seed_trained_together_is_that_seed_trained_alone(monkeypatch, tmp_path, batch_size):
    fed = []  # per `fit` call, the order of the images each branch was given
    keras_fit = keras.Model.fit

    def spy(self, x, y, **kwargs):
        fed.append([order_of(part) for part in (x if isinstance(x, list) else [x])])
        return keras_fit(self, x, y, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    dataset = data.load(subset=600)
    x, x_val = indexed(dataset.x_train), dataset.x_val[:55]  # even at batch 55
    hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    hp = keras_tuner.HyperParameters()
    hp.values["dropout"] = 0.2  # each branch's layers draw as the seed's alone would
    hp.values["learning_rate"] = 1e-2  # far enough in 15-18 steps for the seeds to differ
    options = {"epochs": 3, "batch_size": batch_size, "validation_data": (x_val, x_val)}

    alone = hypermodel.build(hp, seed=1)
    initial = alone.get_weights()
    (curves_alone,), diverged = seeds_together.fit([alone], [1], x, x, **options)
    assert diverged == set()
    orders_alone = [call[0] for call in fed]
    fed.clear()

    together = [hypermodel.build(hp, seed) for seed in (0, 1)]
    for built, first in zip(together[1].get_weights(), initial, strict=True):
        np.testing.assert_array_equal(built, first)
    curves, diverged = seeds_together.fit(together, [0, 1], x, x, **options)
    assert diverged == set() and [model.name for model in together] == ["autoencoder"] * 2
    assert [call[1] for call in fed] == orders_alone  # seed 1's order, epoch by epoch
    assert orders_alone[0] != orders_alone[1] != list(range(SIZE))  # shuffled, and anew
    assert fed[0][0] != fed[0][1]  # each seed its own order

    for name in ("loss", "val_loss"):
        assert len(curves[1][name]) == 3
        np.testing.assert_allclose(curves[1][name], curves_alone[name], rtol=1e-4)
        assert not np.allclose(curves[0][name], curves[1][name], rtol=1e-3)  # each its own
    for got, want in zip(together[1].get_weights(), alone.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # its optimizer holds its own part of the group's state: the file loads as a seed's does
    for got, want in zip(together[1].optimizer.variables, alone.optimizer.variables, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    together[1].save_weights(tmp_path / "seed1.weights.h5")
    loaded = hypermodel.build(hp, seed=1)
    loaded.optimizer.build(loaded.trainable_variables)
    loaded.load_weights(tmp_path / "seed1.weights.h5")
    assert (
        int(loaded.optimizer.iterations)
        == int(alone.optimizer.iterations)
        == 3 * -(-SIZE // batch_size)
    )


@pytest.mark.parametrize("seeds", [[0], [0, 1]])
def test_a_fresh_model_traces_its_training_step_once(monkeypatch, seeds):
    """On TensorFlow, Keras makes the optimizer's and the loss trackers' variables inside the
    first trace, and a tf.function that makes variables is traced twice: they are made first."""
    traces = count_traces(monkeypatch)
    hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    x = np.random.default_rng(0).random((200, 28, 28, 1), dtype="float32")
    group = [hypermodel.build(keras_tuner.HyperParameters(), seed) for seed in seeds]
    seeds_together.fit(group, seeds, x, x, epochs=2, batch_size=100, validation_data=(x, x))
    assert len(traces) == 1


def test_each_seed_keeps_its_own_best_epoch():
    x = np.random.default_rng(0).random((SIZE, 28, 28, 1), dtype="float32")
    hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    models = [hypermodel.build(keras_tuner.HyperParameters(), seed) for seed in (0, 1)]
    branches = seeds_together.Branches(models, ["a", "b"], ["a_noise", "b_noise"])
    logs = {"a": 1.0, "val_a": 0.5, "b": 1.0, "val_b": 0.9}
    branches.on_epoch_end(0, logs)
    best = [model.get_weights() for model in models]
    for model in models:
        model.fit(x, x, epochs=1, verbose=0)  # the weights move on
    branches.on_epoch_end(1, {**logs, "val_a": 0.6, "val_b": float("nan")})
    branches.restore_best()
    assert branches.best == [0.5, 0.9] and branches.diverged == {1}
    for model, weights in zip(models, best, strict=True):
        for got, want in zip(model.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(got, want)
