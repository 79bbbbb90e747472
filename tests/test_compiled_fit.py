"""Compiled epochs (the JAX fast path on GPUs) train exactly as `model.fit` does.

These run on JAX's CPU backend in a subprocess (this process runs TensorFlow), with
KFASHION_COMPILED_EPOCHS=1 forcing the path that a GPU would take by default.
"""

import json
import textwrap

import numpy as np
import pytest
from helpers import run_on_jax

from kfashion import data, sweep
from kfashion.quiet_keras import keras

FORCED = {"KFASHION_COMPILED_EPOCHS": "1"}  # the path a GPU would take, on JAX's CPU backend

COMPARE = textwrap.dedent(
    """
    import json
    import numpy as np
    from kfashion import compiled_fit, models
    from kfashion.quiet_keras import keras

    rng = np.random.default_rng(0)
    x = rng.random((250, 28, 28, 1), dtype="float32")  # 2 full batches of 100 and one of 50
    x_val = rng.random((60, 28, 28, 1), dtype="float32")

    def model():
        keras.utils.set_random_seed(0)
        autoencoder = models.build_autoencoder(16, 0.2)
        autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return autoencoder

    def train(fit, **kwargs):
        m = model()
        history = fit(m, x, x, batch_size=100, epochs=2, validation_data=(x_val, x_val),
                      verbose=0, **kwargs).history
        return history, [w.tolist() for w in m.get_weights()]

    fit = lambda m, *args, **kwargs: m.fit(*args, **kwargs)
    out = {
        "keras": train(fit, shuffle=False),
        "compiled": train(compiled_fit.fit, shuffle=False),
        "shuffled": train(compiled_fit.fit, seed=1),
    }
    print(json.dumps(out))
    """
)


def test_compiled_epochs_match_fit_step_for_step_dropout_and_last_batch_included(tmp_path):
    done = run_on_jax("-c", COMPARE, cwd=tmp_path, env=FORCED)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    (fit_history, fit_weights), (history, weights) = out["keras"], out["compiled"]
    assert set(history) == {"loss", "val_loss"} and len(history["loss"]) == 2
    for name in history:
        np.testing.assert_allclose(history[name], fit_history[name], rtol=1e-5)
    for ours, theirs in zip(weights, fit_weights, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    # shuffled epochs see the images in another order, so they give other numbers
    assert np.all(np.isfinite(out["shuffled"][0]["loss"]))
    assert out["shuffled"][0]["loss"] != history["loss"]


TUNE = textwrap.dedent(
    """
    from kfashion import tune
    tune.main(["--subset", "1200", "--epochs", "3", "--factors", "optimizer", "--select",
               "best", "--workers", "1", "--directory", "tuning", "--results", "results"])
    """
)


@pytest.mark.usefixtures("debian_data_dir")
def test_sweep_with_compiled_epochs_records_best_epochs_and_their_test_mse(tmp_path):
    run_on_jax("-c", TUNE, cwd=tmp_path, env=FORCED)
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["COMPLETED"] * 2
    for trial in summary["trials"]:
        val_loss = trial["history"]["val_loss"]
        assert len(val_loss) == 3 and trial["best_val_loss"] == pytest.approx(min(val_loss))
        assert trial["best_epoch"] == int(np.argmin(val_loss)) + 1
        assert trial["parameters"] > 0 and 0 < trial["test_mse"] < 0.3
    # the worker's test MSE is that of the best-epoch weights KerasTuner saved and we export
    x_test = data.load(subset=1200).x_test
    autoencoder = keras.saving.load_model(tmp_path / "results" / "models" / "autoencoder.keras")
    measured = autoencoder.evaluate(x_test, x_test, batch_size=1000, verbose=0)
    assert measured == pytest.approx(summary["selected"]["test_mse"], rel=1e-4)


def test_best_weights_keeps_the_epoch_with_the_lowest_validation_loss():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = sweep.BestWeights()
    best.set_model(model)
    for epoch, (value, val_loss) in enumerate([(1.0, 0.5), (2.0, 0.3), (3.0, 0.4), (4.0, 0.3)]):
        model.set_weights([np.full((2, 1), value), np.zeros(1)])
        best.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
    assert best.best == 0.3 and best.weights[0][0, 0] == 2.0  # a tie keeps the earlier epoch
