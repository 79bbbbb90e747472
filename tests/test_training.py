"""How every stage trains: `kfashion.engine.training` and one sweep seed's `fit`."""

import keras
import keras_tuner
import numpy as np
import pytest
from helpers import count_traces

from kfashion import config
from kfashion.engine import training
from kfashion.pretraining import sweep


def test_step_noise_recovers_each_chunks_mean_from_the_running_means():
    x = np.random.default_rng(0).normal(size=(245, 3)).astype("float32")  # a short last batch
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    # no learning: each batch's loss is known beforehand
    model.compile(keras.optimizers.SGD(0.0), "mse")  # one step a call
    noise = training.StepNoise(batch_size=10, samples=len(x))
    history = model.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0, callbacks=[noise])
    squared = ((model.predict(x, verbose=0) - y) ** 2).ravel()
    chunk = 10 * config.STEP_NOISE_CHUNK  # images a chunk
    expected = [squared[k : k + chunk].mean() for k in range(0, len(x), chunk)]
    assert len(expected) == 3 and noise.chunks == pytest.approx(expected, rel=1e-4)
    values = history.history[config.STEP_NOISE]
    assert len(values) == 2
    assert values[-1] == pytest.approx(np.diff(expected).std(ddof=1) / np.mean(expected), rel=1e-3)


def test_step_noise_counts_images_whatever_step_index_keras_passes():
    """With several steps a call, Keras 3.15 passes a call's last step to `on_train_batch_end`,
    earlier releases its first: the chunk means are the same either way."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=config.STEP_NOISE_CHUNK)
    means, images = [2.0, 1.0, 3.0], [100, 100, 45]  # 245 images, batches of 10
    seen = np.cumsum(images)
    running = np.cumsum(np.multiply(means, images)) / seen
    for indices in ([9, 19, 24], [0, 10, 20]):
        noise = training.StepNoise(batch_size=10, samples=245)
        noise.set_model(model)
        noise.on_epoch_begin(0)
        for index, mean in zip(indices, running, strict=True):
            noise.on_train_batch_end(index, {"loss": mean})
        assert noise.chunks == pytest.approx(means), indices


def seed_run(x, seed):
    """One sweep seed as the sweep trains it: its curves and weights."""
    hp = keras_tuner.HyperParameters()
    hp.values["learning_rate"] = 1e-2  # far enough in 60 steps for the seeds to differ
    hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    model = hypermodel.build(hp, seed)
    # batch_size 7 is overruled by the trial's (100): 30 steps an epoch, 3 chunks of 10
    history = hypermodel.fit(hp, model, x, x, epochs=2, batch_size=7, validation_data=(x, x))
    return history.history, model.get_weights()


def test_a_sweep_seed_is_the_same_run_again_and_records_its_step_noise(monkeypatch):
    traces = count_traces(monkeypatch)
    x = np.random.default_rng(0).random((3000, 28, 28, 1), dtype="float32")
    first, weights = seed_run(x, 0)
    assert len(traces) == 1  # a fresh model traces its training step once
    seed_run(x, 1)  # another seed in between
    again, weights_again = seed_run(x, 0)
    assert first == again and all(map(np.array_equal, weights, weights_again))
    other, _ = seed_run(x, 1)
    assert other["loss"] != first["loss"]
    noise = first[config.STEP_NOISE]
    assert len(noise) == 2 and all(value > 0 for value in noise)
