"""The reference study's claims about its autoencoder sweep, each a claim of comparisons over
seeds (`kfashion.analysis.claims`)."""

import numpy as np

from kfashion import config
from kfashion.analysis.claims import (
    NOT_RECORDED,
    claim,
    comparison,
    missing,
)
from kfashion.config import REFERENCE_CHOICE, STEP_NOISE


def rises(curve) -> int:
    """Epochs in which the loss went up from the epoch before."""
    return int(np.sum(np.diff(np.asarray(curve, dtype=float)) > 0))


def seed_runs(trial: dict) -> dict:
    """seed -> that seed's record, for a trial's finished seeds."""
    return {run["seed"]: run for run in trial.get("seeds", []) if run.get("best_val_loss")}


def points_of(sweep: dict, factor: str) -> list[tuple]:
    """(value, trial) for a factor's points, the base case included where it belongs."""
    base = next(t for t in sweep["trials"] if t["factor"] == "base")
    rows = [(t["value"], t) for t in sweep["trials"] if t["factor"] == factor]
    options = {}
    if factor in config.KNOBS:  # a pretext's knob: the base case has it at the pretext's option
        options = config.PRETEXTS[sweep["settings"]["pretext"]]
    if factor in {**options, **base["config"]}:
        rows.append(({**options, **base["config"]}[factor], base))
    return sorted(rows, key=lambda row: row[0])


def common_seeds(trials) -> list[int]:
    seeds = set.intersection(*(set(seed_runs(t)) for t in trials)) if trials else set()
    return sorted(seeds)


def trend(sweep: dict, factor: str, transform) -> dict | None:
    """Per seed, the least-squares slope of ln(best validation loss) against transform(value)."""
    rows = [(value, trial) for value, trial in points_of(sweep, factor)]
    seeds = common_seeds([trial for _, trial in rows])
    if len(rows) < 3 or not seeds:
        return None
    x = np.array([transform(value) for value, _ in rows], dtype=float)
    slopes = []
    for seed in seeds:
        y = np.log([seed_runs(trial)[seed]["best_val_loss"] for _, trial in rows])
        slopes.append(float(np.polyfit(x, y, 1)[0]))
    return {"seeds": seeds, "slopes": slopes}


def by_value(sweep: dict, factor: str) -> dict:
    return {value: trial for value, trial in points_of(sweep, factor)}


def val_curve(run: dict) -> list[float]:
    return run["history"]["val_loss"]


def mean_log_ratio(a: dict, b: dict, key: str = "val_loss") -> float:
    """The mean over epochs of ln(a's curve / b's): how far above b's curve a's lies, a log
    area between them."""
    return float(np.mean(np.log(np.divide(a["history"][key], b["history"][key]))))


def paired_runs(trial_a: dict, trial_b: dict, measure) -> list[float]:
    """measure(run of a, run of b) for the seeds both trials finished."""
    a, b = seed_runs(trial_a), seed_runs(trial_b)
    return [float(measure(a[s], b[s])) for s in sorted(set(a) & set(b))]


def gap_comparison(batch_50: dict, batch_100: dict) -> dict:
    """The gap's trend at batch 50 minus at batch 100, per seed; missing for short runs."""
    name = "gap slope at batch 50 minus at batch 100"
    values = paired_runs(batch_50, batch_100, lambda a, b: gap_slope(a) - gap_slope(b))
    if any(np.isnan(values)):
        return missing(name, "a trend over the later half of the epochs needs 4 epochs or more")
    return comparison(name, values, +1)


def gap_slope(run: dict) -> float:
    """The least-squares slope per epoch of (validation loss - training loss) over the later
    half of the epochs."""
    gap = np.subtract(run["history"]["val_loss"], run["history"]["loss"])
    later = gap[len(gap) // 2 :]
    if len(later) < 2:  # a trend needs two epochs at least (runs of 4 epochs or more)
        return float("nan")
    return float(np.polyfit(np.arange(len(later)), later, 1)[0])


def step_noise(run: dict) -> float:
    return float(np.mean(run["history"][STEP_NOISE]))


def recorded(trial: dict, key: str) -> bool:
    runs = seed_runs(trial).values()
    return bool(runs) and all(key in run["history"] for run in runs)


def loss_falls_as_n_grows(sweep: dict) -> list[dict]:
    if not (slopes := trend(sweep, "latent_dim", np.log2)):
        return []
    return [
        claim(
            "Loss falls as n grows",
            "per seed, the least-squares slope of ln(best validation loss) against log2(n) "
            "over n = 16 ... 256; claimed below 0",
            [comparison("slope per doubling of n", slopes["slopes"], -1)],
        )
    ]


def loss_rises_with_p(sweep: dict) -> list[dict]:
    if not (slopes := trend(sweep, "dropout", float)):
        return []
    return [
        claim(
            "Loss rises with p",
            "per seed, the least-squares slope of ln(best validation loss) against p over "
            "p = 0.0 ... 0.5; claimed above 0",
            [comparison("slope per unit of p", slopes["slopes"], +1)],
        )
    ]


def adam_converges_faster(sweep: dict) -> list[dict]:
    optimizer = by_value(sweep, "optimizer")
    if not {"adam", "sgd"} <= set(optimizer):
        return []
    ratios = paired_runs(optimizer["sgd"], optimizer["adam"], mean_log_ratio)
    return [
        claim(
            "Adam converges faster than SGD",
            "per seed, the mean over epochs of ln(SGD's validation loss / Adam's): how far "
            "above Adam's SGD's curve lies; claimed above 0",
            [comparison("mean log ratio", ratios, +1)],
        )
    ]


def high_rate_oscillates(sweep: dict) -> list[dict]:
    rates = by_value(sweep, "learning_rate")
    if not {1e-2, 1e-3} <= set(rates):
        return []
    fast, slow = rates[1e-2], rates[1e-3]
    name = "ln(step noise at 1e-2 / at 1e-3)"
    if recorded(fast, STEP_NOISE) and recorded(slow, STEP_NOISE):
        ratios = paired_runs(fast, slow, lambda a, b: np.log(step_noise(a) / step_noise(b)))
        noise = [comparison(name, ratios, +1)]
    else:
        noise = [missing(name, f"the training loss's step noise was {NOT_RECORDED}")]
    return [
        claim(
            "lr 1e-2 oscillates",
            "oscillation is a property of the optimiser's steps: per seed, ln of the mean "
            "over epochs of the training loss's step noise at lr 1e-2 over that at 1e-3; "
            "an epoch's step noise is the std of the differences between successive means "
            "of 10-step chunks, over their mean (`kfashion.engine.training.StepNoise`); "
            "claimed above 0",
            noise,
        )
    ]


def high_rate_shows_no_clear_descent(sweep: dict) -> list[dict]:
    rates = by_value(sweep, "learning_rate")
    if not {1e-2, 1e-3} <= set(rates):
        return []
    ratios = paired_runs(rates[1e-2], rates[1e-3], mean_log_ratio)
    return [
        claim(
            "lr 1e-2 shows no clear descent",
            "descent is how low the validation loss gets and how soon: per seed, the mean "
            "over epochs of ln(validation loss at lr 1e-2 / at 1e-3), a log area between "
            "the curves, below 0 where 1e-2's curve reaches lower losses sooner; claimed "
            "above 0",
            [comparison("mean log ratio, 1e-2 over 1e-3", ratios, +1)],
        )
    ]


def small_batches_overfit(sweep: dict) -> list[dict]:
    batches = by_value(sweep, "batch_size")
    if not {50, 100, 150} <= set(batches):
        return []
    return [
        claim(
            "Batch 50 hints at overfitting",
            "overfitting is a growing gap between training and validation loss: per seed, "
            "the least-squares slope per epoch of (validation loss - training loss) over "
            "the later half of the epochs, at batch 50 minus at batch 100; claimed above "
            "0. Batch 50 takes twice the steps per epoch of batch 100. The training loss "
            "is the epoch's mean with dropout active, the validation loss is measured "
            "without, so the gap's level is not comparable to 0 but its trend is",
            [gap_comparison(batches[50], batches[100])],
        )
    ]


def larger_batches_fall_steadily(sweep: dict) -> list[dict]:
    batches = by_value(sweep, "batch_size")
    if not {50, 100, 150} <= set(batches):
        return []

    def rising_epochs(a, b):
        return rises(val_curve(a)) - rises(val_curve(b))

    return [
        claim(
            f"Batch {size} falls more steadily than 50",
            f"part of 'Batches 100 and 150 fall more steadily than 50': per seed, the "
            f"epochs in which the validation loss rose at batch 50 minus those at batch "
            f"{size}; claimed above 0",
            [
                comparison(
                    f"rising epochs at batch 50 minus at batch {size}",
                    paired_runs(batches[50], batches[size], rising_epochs),
                    +1,
                )
            ],
        )
        for size in (100, 150)
    ]


def the_final_selection_is_best(sweep: dict) -> list[dict]:
    chosen = next((t for t in sweep["trials"] if t["config"] == REFERENCE_CHOICE), None)
    others = [t for t in sweep["trials"] if t is not chosen and t["best_val_loss"] is not None]
    if not (chosen and others):
        return []
    rival = min(others, key=lambda t: t["best_val_loss"])
    moved = ", ".join(
        f"{k}={v}" for k, v in rival["config"].items() if REFERENCE_CHOICE.get(k) != v
    )
    differences = paired_runs(chosen, rival, lambda a, b: a["best_val_loss"] - b["best_val_loss"])
    return [
        claim(
            "Final selection n=64, p=0.1, batch 100, lr 1e-3, Adam",
            "the selection is the point of lowest validation loss: per seed, its best "
            "validation loss minus that of the best other point of the sweep (the one of "
            f"lowest mean over seeds: {moved}); claimed below 0",
            [comparison(f"selection minus {moved}", differences, -1)],
        )
    ]


# The reference study's claims about its sweep, in the order the report lists them: each a
# function of sweep.json giving the claim (none where the sweep lacks its points). Each
# comparison joins the findings' family (`kfashion.analysis.findings`), so a new claim here
# moves the others' Holm-adjusted p-values.
CLAIMS = (
    loss_falls_as_n_grows,
    loss_rises_with_p,
    adam_converges_faster,
    high_rate_oscillates,
    high_rate_shows_no_clear_descent,
    small_batches_overfit,
    larger_batches_fall_steadily,
    the_final_selection_is_best,
)


def sweep_claims(sweep: dict) -> list[dict]:
    """Every claim of `CLAIMS` the sweep supports, in order."""
    return [found for make in CLAIMS for found in make(sweep)]
