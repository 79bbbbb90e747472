"""The JAX backend: compiled epochs (the fast path on accelerators) and seeds trained together
give the numbers `fit` and single runs give, and both stages run end to end on it.

Everything runs in one subprocess on JAX's CPU backend (this process runs TensorFlow), with
KFASHION_COMPILED_EPOCHS=1 forcing the path that a GPU would take by default.
"""

import json
import textwrap

import keras
import numpy as np
import pytest
from helpers import run_on_jax, tensorboard_tags

from kfashion import data

FORCED = {"KFASHION_COMPILED_EPOCHS": "1"}
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras
    import numpy as np
    from kfashion import transfer, tune
    from kfashion.core import jax_cache, models
    from kfashion.engine import compiled_fit, training
    from kfashion.finetuning import cases

    jax_cache.use_compilation_cache()  # the many models of one architecture compile once

    rng = np.random.default_rng(0)
    x = rng.random((250, 28, 28, 1), dtype="float32")  # 2 full batches of 100 and one of 50
    y = rng.integers(0, 10, 250).astype("int32")
    x_val, y_val = rng.random((60, 28, 28, 1), dtype="float32"), rng.integers(0, 10, 60)
    out = {}

    def autoencoder(seed=0):
        keras.utils.set_random_seed(seed)
        model = models.build_autoencoder(16, 0.2)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model

    def classifier(seed=0):
        keras.utils.set_random_seed(seed)
        model = models.build_classifier(models.build_encoder(16, 0.2))
        cases.compile_classifier(model, 1e-3, 6)
        return model

    def weights(model):
        return [w.tolist() for w in model.get_weights()]

    def compiled(model, x, y, seed=0, callbacks=(), **kwargs):  # one seed's run of fit_seeds
        kwargs.setdefault("batch_size", 100)
        fit_seeds = compiled_fit.fit_seeds
        return fit_seeds([model], x, y, seeds=[seed], callbacks=[list(callbacks)], **kwargs)[0]

    def run(fit, model, x, y, **kwargs):
        history = fit(model, x, y, batch_size=100, verbose=0, **kwargs).history
        return history, weights(model)

    keras_fit = lambda model, *args, **kwargs: model.fit(*args, **kwargs)
    val = {"validation_data": (x_val, x_val)}
    out["fit"] = run(keras_fit, autoencoder(), x, x, epochs=2, shuffle=False, **val)
    out["compiled"] = run(compiled, autoencoder(), x, x, epochs=2, shuffle=False, **val)

    # shuffled: each epoch equals fit without shuffling on the images in the epoch's order
    orders = [np.asarray(compiled_fit.epoch_order(1, step, 250)) for step in (0, 3)]
    model = autoencoder()
    for order in orders:
        model.fit(x[order], x[order], batch_size=100, epochs=1, shuffle=False, verbose=0)
    out["fit_in_order"] = weights(model)
    out["shuffled"] = run(compiled, autoencoder(), x, x, epochs=2, seed=1)
    model = autoencoder()
    for _ in range(2):  # one-epoch calls continue the shuffle sequence
        compiled(model, x, x, epochs=1, seed=1)
    out["one_epoch_calls"] = weights(model)

    # seeds together, in one vmapped program, against each seed alone
    alone = [run(compiled, autoencoder(s), x, x, epochs=2, seed=s, **val) for s in (0, 1)]
    together = [autoencoder(s) for s in (0, 1)]
    histories = compiled_fit.fit_seeds(together, x, x, seeds=[0, 1], batch_size=100, epochs=2,
                                       **val)
    out["alone"] = alone
    out["together"] = [(h.history, weights(m)) for h, m in zip(histories, together)]
    cval = {"validation_data": (x_val, y_val)}
    out["classifier_alone"] = run(compiled, classifier(3), x, y, epochs=2, seed=3, **cval)
    pair = [classifier(3), classifier(4)]
    histories = compiled_fit.fit_seeds(pair, x, y, seeds=[3, 4], batch_size=100, epochs=2, **cval)
    out["classifier_together"] = (histories[0].history, weights(pair[0]))

    refused = []
    class PerBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass
    try:
        compiled(autoencoder(), x, x, epochs=1, callbacks=[PerBatch()])
    except ValueError as error:
        refused.append(str(error))
    wrong = autoencoder()
    wrong.compile(optimizer="adam", loss="mse", metrics=["mae"])
    try:
        compiled(wrong, x, x, epochs=1)
    except ValueError as error:
        refused.append(str(error))
    out["refused"] = refused
    diverging = autoencoder()  # the shuffled runs' program (compiled once): only the rate is new
    diverging.optimizer.learning_rate.assign(1e12)
    history = compiled(diverging, x, x, epochs=3, callbacks=[keras.callbacks.TerminateOnNaN()])
    out["diverged"] = history.history["loss"]

    small = ["--subset", "600", "--epochs", "2", "--seeds", "2", "--tensorboard", "logs"]
    tune.main([*small, "--factors", "optimizer", "--select", "best", "--workers", "1",
               "--directory", "tuning", "--results", "results"])
    transfer.main([*small, "--cases", "1", "--results", "results", "--workers", "1"])
    for pretext in ("masked", "contrastive"):  # random layers inside the compiled epochs
        tune.main(["--subset", "600", "--epochs", "2", "--seeds", "1", "--pretext", pretext,
                   "--factors=", "--select", "rank", "--workers", "1",
                   "--directory", f"tuning_{pretext}", "--results", f"results_{pretext}"])
    print(json.dumps(out, default=float))
    """
)


@pytest.fixture(scope="module")
def on_jax(tmp_path_factory, debian_data_dir):
    folder = tmp_path_factory.mktemp("jax")
    cache = {"KFASHION_JAX_CACHE": str(folder / "cache")}  # not the user's compilation cache
    done = run_on_jax("-c", SCRIPT, cwd=folder, env={**FORCED, **cache})
    return json.loads(done.stdout.strip().splitlines()[-1]), folder


def close(a, b, **tolerance):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, **tolerance)


def test_compiled_epochs_are_fits_epochs_step_for_step(on_jax):
    out, _ = on_jax
    (fit_history, fit_weights), (history, weights) = out["fit"], out["compiled"]
    assert set(history) == {"loss", "val_loss"} and len(history["loss"]) == 2
    for name in history:
        np.testing.assert_allclose(history[name], fit_history[name], rtol=1e-5)
    close(weights, fit_weights, atol=1e-4)
    # shuffled epochs: fit without shuffling on the same orders gives the same weights
    close(out["shuffled"][1], out["fit_in_order"], atol=1e-4)
    close(out["one_epoch_calls"], out["shuffled"][1], atol=1e-6)


def test_seeds_trained_together_equal_each_seed_trained_alone(on_jax):
    out, _ = on_jax
    for (alone_history, alone_weights), (history, weights) in zip(
        out["alone"], out["together"], strict=True
    ):
        for name in ("loss", "val_loss"):
            np.testing.assert_allclose(history[name], alone_history[name], rtol=1e-4)
        close(weights, alone_weights, atol=1e-4)
    assert out["together"][0][1] != out["together"][1][1]  # each seed is its own run
    (history, weights), (alone, alone_weights) = out["classifier_together"], out["classifier_alone"]
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[name], alone[name], rtol=1e-4, atol=1e-6)
    close(weights, alone_weights, atol=1e-4)


def test_compiled_epochs_refuse_what_they_would_drop_and_stop_a_diverged_run(on_jax):
    out, _ = on_jax
    assert len(out["refused"]) == 2
    assert "PerBatch overrides on_train_batch_end" in out["refused"][0]
    assert "'mae'" in out["refused"][1]
    assert len(out["diverged"]) == 1 and not np.isfinite(out["diverged"][0])


def test_both_stages_run_on_jax_and_their_models_load_on_tensorflow(on_jax):
    _, folder = on_jax
    results = folder / "results"
    sweep = json.loads((results / "sweep.json").read_text())
    assert sweep["provenance"]["backend"] == "jax"
    for trial in sweep["trials"]:
        assert [r["seed"] for r in trial["seeds"]] == [0, 1]
        assert all(len(r["history"]["val_loss"]) == 2 for r in trial["seeds"])
    x_test = data.load(subset=600).x_test
    autoencoder = keras.saving.load_model(results / "models" / "autoencoder.keras")
    assert keras.backend.backend() == "tensorflow"  # this process: the files cross over
    measured = autoencoder.evaluate(x_test, x_test, batch_size=1000, verbose=0)
    assert measured == pytest.approx(sweep["selected"]["test_mse"], rel=1e-4)
    transfer = json.loads((results / "grid.json").read_text())
    assert transfer["provenance"]["backend"] == "jax" and len(transfer["classic"]["runs"]) == 2


@pytest.mark.parametrize("pretext", ["masked", "contrastive"])
def test_pretexts_with_random_layers_train_in_compiled_epochs(on_jax, pretext):
    """Their masks and views are drawn by random layers inside the model (`PatchMask`,
    `Views`), whose seed state the one program of an epoch must carry: it trains, its loss
    moves, and the encoder it exports loads on TensorFlow."""
    _, folder = on_jax
    results = folder / f"results_{pretext}"
    sweep = json.loads((results / "sweep.json").read_text())
    assert sweep["provenance"]["backend"] == "jax" and sweep["settings"]["pretext"] == pretext
    (trial,) = sweep["trials"]
    (run,) = trial["seeds"]
    losses = run["history"]["loss"]
    assert len(losses) == 2 and np.all(np.isfinite(losses)) and losses[1] != losses[0]
    encoder = keras.saving.load_model(results / "models" / "encoder_seed0.keras")
    codes = encoder.predict(data.load(subset=600).x_test, verbose=0)
    assert codes.shape[1] == 64 and np.all(np.isfinite(codes))


def test_both_stages_log_each_run_to_tensorboard_on_jax(on_jax):
    _, folder = on_jax
    found = tensorboard_tags(folder / "logs")
    runs = [
        "trial0/seed0",
        "trial1/seed1",
        "transfer/runs/course/labelsall/case1_joint_enc0_seed1/all",
    ]
    for run in runs:  # seeds trained together in one program log apart, with their settings
        assert {"_hparams_/session_start_info", "_hparams_/session_end_info"} <= found[run], run
        assert "epoch_loss" in found[f"{run}/train"] and "epoch_loss" in found[f"{run}/validation"]


def test_compilation_cache_counts_each_event_once_however_often_keras_is_loaded(tmp_path):
    """A study loads Keras once per stage in one process; its cache counts must not grow with
    the stages (each load used to add a listener and an exit writer)."""
    log = tmp_path / "cache.jsonl"
    script = textwrap.dedent(
        """
        import jax, jax.numpy as jnp
        from kfashion.core.quiet_keras import load_keras
        for stage in range(3):
            load_keras()
        jax.jit(lambda x: x * 2 + 1)(jnp.ones(3)).block_until_ready()
        """
    )
    env = {"KFASHION_CACHE_LOG": str(log), "KFASHION_JAX_CACHE": str(tmp_path / "cache")}
    run_on_jax("-c", script, env=env)
    (line,) = log.read_text().splitlines()  # one writer
    assert json.loads(line)["misses"] >= 1  # a fresh cache: the program compiled, counted
