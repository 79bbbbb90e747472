"""The one-factor-at-a-time design of the autoencoder study, as KerasTuner parts.

The design is data: the base case, and the values each factor takes while the others stay at
the base. `DesignOracle` hands the design's configurations out in order (KerasTuner's
GridSearch cannot resume a stopped search); `AutoencoderHyperModel` builds and fits one;
`SweepTuner` keeps every epoch's losses beside each trial.
"""

import dataclasses
import time

from kfashion.quiet_keras import keras  # first: it keeps TensorFlow's start-up lines quiet

# isort: split
import keras_tuner
import numpy as np

from kfashion import models, training
from kfashion.records import write_json

# The study's base case, and the values each factor is swept over around it.
BASE = {
    "latent_dim": 64,
    "dropout": 0.2,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 100,
}
FACTORS = {
    "latent_dim": (16, 32, 64, 128, 256),
    "dropout": (0.0, 0.1, 0.2, 0.3, 0.5),
    "optimizer": ("adam", "sgd"),
    "learning_rate": (1e-4, 1e-3, 1e-2),
    "batch_size": (50, 100, 150),
    "architecture": tuple(models.ARCHITECTURES),
}
# The reference study's factors: the default design (14 trials). Others are swept on request.
REFERENCE_FACTORS = ("latent_dim", "dropout", "optimizer", "learning_rate", "batch_size")
# Settings beyond the reference study, with the value every trial has unless its factor
# changes it. They stay out of BASE so the reference design's configs read as the study's.
IMPLIED = {"architecture": "course"}
# Factors swept around another point than BASE. The linear_code network is meant to be used
# without dropout, and p=0.0 is also where the course network's validation loss is lowest in
# the sweep, so both architectures are compared at p=0.0.
AROUND = {"architecture": {**BASE, "dropout": 0.0}}
# The configuration the reference study chose in the end.
REFERENCE_CHOICE = {**BASE, "dropout": 0.1}

OBJECTIVE = keras_tuner.Objective("val_loss", direction="min")
HISTORY_FILE = "history.json"  # per-epoch curves, beside KerasTuner's trial.json


@dataclasses.dataclass(frozen=True)
class DesignPoint:
    """One trial of the design: the factor it varies (or "base"), that factor's value, and all."""

    factor: str
    value: object
    config: dict

    @property
    def label(self) -> str:
        """ "base case", or "factor=value"."""
        return describe(self.factor, self.value)


def describe(factor: str, value) -> str:
    return "base case" if factor == "base" else f"{factor}={value}"


def make_design(factors=REFERENCE_FACTORS) -> list[DesignPoint]:
    """The base case, then each factor's values in order, each configuration once.

    The reference factors give 14 points; "architecture" adds the course network and the
    linear_code one, both at p=0.0 (the course one is not repeated if "dropout" is swept too).
    """
    unknown = [factor for factor in factors if factor not in FACTORS]
    if unknown:
        raise ValueError(f"unknown factor {unknown[0]!r}; choose from {', '.join(FACTORS)}")
    design = [DesignPoint("base", None, dict(BASE))]
    for factor in factors:
        for value in FACTORS[factor]:
            config = {**AROUND.get(factor, BASE), factor: value}
            if IMPLIED.get(factor) == value:
                del config[factor]  # implied settings are left out, as in the base case
            if all(config != point.config for point in design):
                design.append(DesignPoint(factor, value, config))
    return design


def setting(config: dict, name: str):
    """A trial's value of `name`, implied ones included."""
    return {**IMPLIED, **config}[name]


def search_space() -> keras_tuner.HyperParameters:
    """Every hyperparameter the hypermodel reads, plus which factor a trial varies."""
    hp = keras_tuner.HyperParameters()
    hp.Choice("factor", ["base", *FACTORS])
    for name in FACTORS:
        choose(hp, name)
    return hp


def choose(hp: keras_tuner.HyperParameters, name: str):
    """Read factor `name` from `hp`; its default is the base case."""
    return hp.Choice(name, FACTORS[name], default=setting(BASE, name))


class DesignOracle(keras_tuner.Oracle):
    """Hands out the design's configurations in order, one per trial.

    The trial's index is how many trials have been created, which the oracle's saved state
    keeps, so a stopped search resumes where it was; KerasTuner re-queues an interrupted trial.
    """

    def __init__(self, design: list[DesignPoint], **kwargs):
        super().__init__(
            objective=OBJECTIVE,
            max_trials=len(design),
            hyperparameters=search_space(),
            allow_new_entries=False,
            tune_new_entries=False,
            # a diverged trial is recorded as failed, and the sweep goes on
            max_consecutive_failed_trials=len(design) + 1,
            **kwargs,
        )
        self.design = design

    def populate_space(self, trial_id):
        index = len(self.trials)
        if index >= len(self.design):
            return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED, "values": None}
        point = self.design[index]
        # every value is given: KerasTuner samples any that is missing at random
        return {
            "status": keras_tuner.engine.trial.TrialStatus.RUNNING,
            "values": {"factor": point.factor, **IMPLIED, **point.config},
        }


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam, or plain SGD (no momentum) as in the reference study."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}")


class AutoencoderHyperModel(keras_tuner.HyperModel):
    """Reads a trial's hyperparameters and builds, compiles and fits the course autoencoder.

    Given test images, `fit` also measures the test MSE of the best epoch's weights (lowest
    validation loss, the epoch KerasTuner's checkpoint keeps) and the parameter count, and
    hands both back on the returned History, so the sweep's summary need not load and
    recompile every trial's model again.
    """

    def __init__(self, seed: int = 0, verbose: int = 1, test_images=None):
        super().__init__(name="autoencoder")
        self.seed = seed
        self.verbose = verbose
        self.test_images = test_images

    def build(self, hp):
        keras.utils.set_random_seed(self.seed)  # every trial starts from the same draw
        model = models.build_autoencoder(
            choose(hp, "latent_dim"), choose(hp, "dropout"), choose(hp, "architecture")
        )
        optimizer = make_optimizer(choose(hp, "optimizer"), choose(hp, "learning_rate"))
        model.compile(optimizer=optimizer, loss="mse", **training.compile_options())
        return model

    def fit(self, hp, model, *args, **kwargs):
        kwargs.pop("batch_size", None)  # the trial's batch size wins over the caller's
        kwargs.setdefault("verbose", self.verbose)
        kwargs = {**training.fit_options(), **kwargs}
        best = BestWeights()
        if self.test_images is not None:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), best]
        history = training.fit(
            model, *args, batch_size=choose(hp, "batch_size"), seed=self.seed, **kwargs
        )
        if best.weights is not None:
            model.set_weights(best.weights)
            history.test_mse = model.evaluate(
                self.test_images, self.test_images, batch_size=training.EVAL_BATCH_SIZE,
                verbose=0,
            )  # fmt: skip
            history.parameters = model.count_params()
        return history


class BestWeights(keras.callbacks.Callback):
    """Keeps, in memory, the weights of the epoch with the lowest validation loss so far."""

    def __init__(self):
        super().__init__()
        self.weights, self.best = None, np.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(OBJECTIVE.name, np.nan)
        if value < self.best:  # strictly lower, as KerasTuner's best-epoch checkpoint
            self.weights, self.best = self.model.get_weights(), value


def first_non_finite(history: dict) -> str | None:
    """Describe the first NaN or inf loss in a Keras history, or None if all are finite."""
    for name in ("loss", "val_loss"):
        for epoch, value in enumerate(history.get(name, []), start=1):
            if not np.isfinite(value):
                return f"{name} became {value} in epoch {epoch}"
    return None


class SweepTuner(keras_tuner.Tuner):
    """A Tuner that writes each trial's per-epoch history and stops trials that diverge."""

    def run_trial(self, trial, *args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), keras.callbacks.TerminateOnNaN()]
        start = time.perf_counter()
        histories = super().run_trial(trial, *args, **kwargs)
        history = {
            name: [float(v) for v in values] for name, values in histories[0].history.items()
        }
        problem = first_non_finite(history)
        record = {
            "history": history,
            "seconds": time.perf_counter() - start,
            "diverged": problem,
            "test_mse": getattr(histories[0], "test_mse", None),
            "parameters": getattr(histories[0], "parameters", None),
        }
        write_json(f"{self.get_trial_dir(trial.trial_id)}/{HISTORY_FILE}", record)
        if problem:
            raise keras_tuner.errors.FailedTrialError(f"diverged: {problem}")
        return histories
