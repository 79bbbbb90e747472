"""The one-factor-at-a-time sweep as KerasTuner parts: its oracle, hypermodel and tuner.

One trial is one point of the design (`kfashion.config`), trained once per seed: the seeds are
the trial's executions. The trial's score, by which KerasTuner ranks trials, is the mean over
seeds of each seed's best validation loss. Each seed's per-epoch losses, best epoch, test MSE
and best-epoch weights are written beside the trial as soon as that seed ends, so a trial that
was interrupted resumes at its first unfinished seed.

`DesignOracle` hands the points out in order (`kfashion.engine.fixed_oracle`),
`AutoencoderHyperModel` builds and fits one seed's model, `SweepTuner` runs a trial's seeds one
after another (with an accelerator, together in one compiled program: `compiled_fit`).
"""

import time

import keras
import keras_tuner
import numpy as np

from kfashion import config, pretext
from kfashion.config import BASE, FACTORS, DesignPoint, setting
from kfashion.core import layout, models
from kfashion.core.files import read_json, read_record, save_checkpoint, write_json
from kfashion.core.provenance import environment, utc_now
from kfashion.engine import training
from kfashion.engine.fixed_oracle import FixedOracle, user_errors_end_the_search

OBJECTIVE = keras_tuner.Objective("val_loss", direction="min")


def search_space(pretext_name: str = config.PRETEXT) -> keras_tuner.HyperParameters:
    """Every hyperparameter the hypermodel reads, plus which factor a trial varies."""
    hp = keras_tuner.HyperParameters()
    hp.Choice("factor", ["base", *config.levels(pretext_name)])
    for name in FACTORS:
        choose(hp, name)
    knobs(hp, pretext_name)
    return hp


def choose(hp: keras_tuner.HyperParameters, name: str):
    """Read factor `name` from `hp`; its default is the base case."""
    return hp.Choice(name, FACTORS[name], default=setting(BASE, name))


def knobs(hp: keras_tuner.HyperParameters, pretext_name: str) -> dict:
    """Read the options of pretext `pretext_name` from `hp`: its knobs (default: its options
    in `config.PRETEXTS`), and its other options as they are."""
    options = dict(config.PRETEXTS[pretext_name])
    for name, default in options.items():
        if name in config.KNOBS:
            options[name] = hp.Choice(name, config.KNOBS[name], default=default)
    return options


def effective_rank(codes) -> float:
    """exp of the entropy of the codes' normalised singular values (RankMe, Garrido et al.
    2023): from 1 (every code on one line) to the code's length (spread evenly)."""
    singular = np.linalg.svd(np.asarray(codes, dtype=np.float64), compute_uv=False)
    shares = singular / singular.sum() + 1e-7  # the paper's epsilon: log(0) never comes
    return float(np.exp(-(shares * np.log(shares)).sum()))


def probe_data(dataset) -> tuple:
    """What each seed's `probe_accuracy` is fitted and scored on: the first
    `config.SWEEP_PROBE_IMAGES` training images (the split is shuffled) and the test images."""
    n = config.SWEEP_PROBE_IMAGES
    return dataset.x_train[:n], dataset.y_train[:n], dataset.x_test, dataset.y_test


def probe_accuracy(encoder, x_train, y_train, x_test, y_test) -> float:
    """Test accuracy of logistic regression (C=1) on the encoder's standardised codes."""
    from kfashion.baseline import fit_logistic

    def codes(images):
        return encoder.predict(images, batch_size=config.EVAL_BATCH_SIZE, verbose=0)

    train, test = codes(x_train), codes(x_test)
    mean, scale = train.mean(axis=0), train.std(axis=0) + 1e-6  # a dead unit stays 0
    c = config.REGULARISATION_C
    model, _ = fit_logistic((train - mean) / scale, y_train, c, config.MAX_ITER)
    return float(model.score((test - mean) / scale, y_test))


class DesignOracle(FixedOracle):
    """Hands out the design's points in order, one per trial."""

    def __init__(self, design: list[DesignPoint], pretext_name: str = config.PRETEXT, **kwargs):
        super().__init__(design, OBJECTIVE, search_space(pretext_name), **kwargs)
        self.implied = config.implied(pretext_name)

    def values_of(self, point: DesignPoint) -> dict:
        return {"factor": point.factor, **self.implied, **point.config}


class AutoencoderHyperModel(keras_tuner.HyperModel):
    """Reads a trial's hyperparameters; builds, compiles and fits one seed's pretraining model
    (`pretext`'s, around the trial's encoder and decoder)."""

    def __init__(self, verbose: int = 1, pretext_name: str = config.PRETEXT):
        super().__init__(name="autoencoder")
        self.verbose, self.pretext = verbose, pretext_name

    def build(self, hp, seed: int = 0):
        keras.utils.set_random_seed(seed)  # every point starts from the same draw for a seed
        networks = models.build_networks(
            choose(hp, "latent_dim"), choose(hp, "dropout"), choose(hp, "architecture")
        )
        model = pretext.build(self.pretext, *networks, **knobs(hp, self.pretext))
        # Keras's own optimizer by name: Adam, or plain SGD (no momentum) as in the study
        optimizer = keras.optimizers.get(
            {
                "class_name": choose(hp, "optimizer"),
                "config": {"learning_rate": choose(hp, "learning_rate")},
            }
        )
        model.compile(optimizer=optimizer, loss=pretext.load(self.pretext).LOSS)
        return model

    def fit(self, hp, model, x, y, **kwargs):
        """`model.fit` at the trial's batch size, Keras shuffling each epoch from the seed the
        model was built with, recording each epoch's step noise (`training.StepNoise`)."""
        batch_size = choose(hp, "batch_size")
        kwargs.pop("batch_size", None)  # the trial's batch size wins over the caller's
        kwargs.setdefault("verbose", self.verbose)
        noise = training.StepNoise(batch_size, len(x))
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), noise]
        training.build_before_fit(model, x, y)
        return model.fit(x, y, batch_size=batch_size, **training.fit_options(), **kwargs)


def first_non_finite(history: dict) -> str | None:
    """Describe the first NaN or inf loss in a Keras history, or None if all are finite."""
    for name in ("loss", "val_loss"):
        for epoch, value in enumerate(history.get(name, []), start=1):
            if not np.isfinite(value):
                return f"{name} became {value} in epoch {epoch}"
    return None


def describe_seed(record: dict) -> str:
    """One line for a finished seed."""
    outcome = record["diverged"]
    if not outcome:
        outcome = (
            f"best val_loss {record['best_val_loss']:.5f} at epoch {record['best_epoch']}, "
            f"test loss {record['test_loss']:.5f}"
        )
        if record["test_mse"] not in (None, record["test_loss"]):
            outcome += f", test MSE {record['test_mse']:.5f}"
    return f"seed {record['seed']}: {outcome} ({record['seconds']:.0f} s)"


class SweepTuner(keras_tuner.Tuner):
    """Runs each trial's design point once per seed and keeps every seed's record.

    Args:
        design: the design the oracle hands out, for the one-line progress reports.
        seeds: the seeds every point is trained with.
        test_data: (images, targets) scored once per seed, with the best epoch's weights, for
            the record; nothing is chosen by them.
        rank_images: validation images whose codes' effective rank each seed records.
        probe_data: (train images, their labels, test images, their labels): each seed
            records the test accuracy of logistic regression on its codes (`probe_accuracy`),
            for the figure of reconstruction quality against feature quality; nothing is
            chosen by it.
        tensorboard: a folder for TensorBoard logs, one run per seed (`trial<T>/seed<S>`), or
            None.
        **kwargs: as for `keras_tuner.Tuner`.
    """

    def __init__(
        self, design, seeds, test_data, rank_images, probe_data, tensorboard=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.design, self.seeds, self.test_data = design, list(seeds), test_data
        self.rank_images, self.probe_data = rank_images, probe_data
        self.tensorboard = tensorboard

    def _say(self, trial_id, text: str) -> None:
        print(f"trial {trial_id}/{len(self.design)} {text}", flush=True)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        point = self.design[int(trial.trial_id)]
        self._say(trial.trial_id, f"started: {point.label} {point.config}, seeds {self.seeds}")

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        score = "" if ended.score is None else f" mean best val_loss {ended.score:.5f}"
        self._say(trial.trial_id, f"ended: {ended.status}{score}")

    @user_errors_end_the_search
    def run_trial(self, trial, *args, callbacks=(), **kwargs):  # callbacks: the seeds' own
        folder = self.get_trial_dir(trial.trial_id)
        pending = [s for s in self.seeds if not self._done(folder, s)]
        for seed, model, history, seconds in self._train(trial, pending, args, kwargs):
            record = self._record(trial, seed, model, history, seconds)
            write_json(layout.seed_record(folder, seed), record)  # last: the seed is now done
            self._say(trial.trial_id, describe_seed(record))
        runs = [read_json(layout.seed_record(folder, seed)) for seed in self.seeds]
        diverged = [f"seed {run['seed']}: {run['diverged']}" for run in runs if run["diverged"]]
        if diverged:
            raise keras_tuner.errors.FailedTrialError(f"diverged: {'; '.join(diverged)}")
        return {OBJECTIVE.name: float(np.mean([run["best_val_loss"] for run in runs]))}

    @staticmethod
    def _done(folder, seed: int) -> bool:
        """A seed is done once its record is whole and, unless it diverged, its weights are
        there too (a folder copied without its weights trains them again)."""
        record = read_record(layout.seed_record(folder, seed))
        return record is not None and (
            bool(record.get("diverged")) or layout.seed_model(folder, seed).exists()
        )

    def _callbacks(self, trial, seed: int, epochs: int) -> list:
        run = f"trial{trial.trial_id}/seed{seed}"
        logs = training.tensorboard(self.tensorboard, run, trial.hyperparameters.values)
        best = keras.callbacks.EarlyStopping(  # never stops: it keeps the best epoch's weights
            OBJECTIVE.name, patience=epochs, restore_best_weights=True
        )
        return [*logs, keras.callbacks.TerminateOnNaN(), best, training.stop_on_ctrl_c()]

    def _train(self, trial, seeds, args, kwargs):
        """Yield (seed, trained model, History, seconds) for each seed: one after another, each
        in its own `fit`; where whole epochs compile (JAX on an accelerator), all together in
        one program (`kfashion.engine.compiled_fit`)."""
        hp = trial.hyperparameters
        if seeds and training.compiles_whole_epochs():  # one seed too: its orders are the same
            from kfashion.engine import compiled_fit

            keras.backend.clear_session()
            start = time.perf_counter()
            models = [self.hypermodel.build(hp, seed) for seed in seeds]
            histories = compiled_fit.fit_seeds(
                models,
                *args,
                seeds=seeds,
                batch_size=choose(hp, "batch_size"),
                epochs=kwargs["epochs"],
                validation_data=kwargs.get("validation_data"),
                callbacks=[self._callbacks(trial, s, kwargs["epochs"]) for s in seeds],
                verbose=self.hypermodel.verbose,
            )
            seconds = (time.perf_counter() - start) / len(seeds)
            yield from (
                (s, m, h, seconds) for s, m, h in zip(seeds, models, histories, strict=True)
            )
            return
        for seed in seeds:
            keras.backend.clear_session()  # the previous seed's model is done with
            start = time.perf_counter()
            model = self.hypermodel.build(hp, seed)
            own = self._callbacks(trial, seed, kwargs["epochs"])
            history = self.hypermodel.fit(hp, model, *args, **{**kwargs, "callbacks": own})
            yield seed, model, history, time.perf_counter() - start

    def _record(self, trial, seed: int, model, history, seconds: float) -> dict:
        """One seed's record; its best epoch's weights (in the model now) are saved beside it."""
        curves = {name: [float(v) for v in values] for name, values in history.history.items()}
        val_loss = np.asarray(curves.get(OBJECTIVE.name, []), dtype=float)
        finite = np.isfinite(val_loss).any()
        record = {
            "seed": seed,
            "history": curves,
            "seconds": seconds,
            "diverged": first_non_finite(curves),
            "best_epoch": int(np.nanargmin(val_loss)) + 1 if finite else None,
            "best_val_loss": float(np.nanmin(val_loss)) if finite else None,
            "test_loss": None,
            "test_mse": None,
            "code_rank": None,
            "probe_accuracy": None,
            "parameters": model.count_params(),
            "ended": utc_now(),
            "environment": environment(),
        }
        if not record["diverged"]:
            encoder = model.get_layer("encoder")
            codes = encoder.predict(self.rank_images, batch_size=config.EVAL_BATCH_SIZE, verbose=0)
            record["code_rank"] = effective_rank(codes)
            record["probe_accuracy"] = probe_accuracy(encoder, *self.probe_data)
            images, targets = self.test_data
            evaluate = dict(batch_size=config.EVAL_BATCH_SIZE, verbose=0)
            record["test_loss"] = float(model.evaluate(images, targets, **evaluate))
            if self.hypermodel.pretext == config.PRETEXT:  # its loss is this MSE
                record["test_mse"] = record["test_loss"]
            elif pretext.load(self.hypermodel.pretext).DECODER:
                autoencoder = pretext.build(config.PRETEXT, encoder, model.get_layer("decoder"))
                autoencoder.compile(loss="mse")
                record["test_mse"] = float(autoencoder.evaluate(images, images, **evaluate))
            save_checkpoint(model, layout.seed_model(self.get_trial_dir(trial.trial_id), seed))
        return record
