"""The reference study's claims about its autoencoder sweep, each a claim of comparisons over
seeds (`kfashion.analysis.claims`), in the order the report lists them. Each comparison joins
the findings' family (`kfashion.analysis.findings`), so a new claim here moves the others'
Holm-adjusted p-values."""

import numpy as np

from kfashion import config
from kfashion.analysis.claims import NOT_RECORDED, claim, comparison, missing
from kfashion.config import REFERENCE_CHOICE, STEP_NOISE


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


def paired_runs(trial_a: dict, trial_b: dict, measure) -> list[float]:
    """measure(run of a, run of b) for the seeds both trials finished."""
    a, b = seed_runs(trial_a), seed_runs(trial_b)
    return [float(measure(a[s], b[s])) for s in sorted(set(a) & set(b))]


def trend(sweep: dict, factor: str, transform) -> list[float] | None:
    """Per seed every point finished, the least-squares slope of ln(best validation loss)
    against transform(value); None under 3 points or without such a seed."""
    rows = points_of(sweep, factor)
    runs = [seed_runs(trial) for _, trial in rows]
    seeds = sorted(set.intersection(*map(set, runs))) if runs else []
    if len(rows) < 3 or not seeds:
        return None
    x = np.array([transform(value) for value, _ in rows], dtype=float)
    slopes = []
    for seed in seeds:
        y = np.log([by_seed[seed]["best_val_loss"] for by_seed in runs])
        slopes.append(float(np.polyfit(x, y, 1)[0]))
    return slopes


def mean_log_ratio(a: dict, b: dict) -> float:
    """The mean over epochs of ln(a's validation loss / b's): how far above b's curve a's lies,
    a log area between them."""
    return float(np.mean(np.log(np.divide(a["history"]["val_loss"], b["history"]["val_loss"]))))


def step_noise_log_ratio(a: dict, b: dict) -> float:
    """ln(a's mean step noise over epochs / b's); NaN where a run did not record it."""
    a, b = (np.mean(run["history"].get(STEP_NOISE, np.nan)) for run in (a, b))
    return float(np.log(a / b))


def gap_slope(run: dict) -> float:
    """The least-squares slope per epoch of (validation loss - training loss) over the later
    half of the epochs; NaN for a run too short to have a trend there."""
    gap = np.subtract(run["history"]["val_loss"], run["history"]["loss"])
    later = gap[len(gap) // 2 :]
    if len(later) < 2:  # a trend needs two epochs at least (runs of 4 epochs or more)
        return float("nan")
    return float(np.polyfit(np.arange(len(later)), later, 1)[0])


def rising_epochs(run: dict) -> int:
    """Epochs in which the validation loss went up from the epoch before."""
    return int(np.sum(np.diff(np.asarray(run["history"]["val_loss"], dtype=float)) > 0))


# Claims of a trend over a factor's points: (claim, factor, transform of its values, the axis
# the measure names, the comparison, the claimed sign of the slope)
TRENDS = (
    ("Loss falls as n grows", "latent_dim", np.log2, "log2(n) over n = 16 ... 256",
     "slope per doubling of n", -1),
    ("Loss rises with p", "dropout", float, "p over p = 0.0 ... 0.5", "slope per unit of p", +1),
)  # fmt: skip

# Claims of two points of one factor, claimed above 0: (claim, its measure in words, the
# comparison, (factor, the two values compared, any other value the claim needs), the measure
# of a seed's two runs, why a seed's measure can be NaN)
PAIRS = (
    (
        "Adam converges faster than SGD",
        "per seed, the mean over epochs of ln(SGD's validation loss / Adam's): how far "
        "above Adam's SGD's curve lies; claimed above 0",
        "mean log ratio",
        ("optimizer", "sgd", "adam"),
        mean_log_ratio,
        None,
    ),
    (
        "lr 1e-2 oscillates",
        "oscillation is a property of the optimiser's steps: per seed, ln of the mean "
        "over epochs of the training loss's step noise at lr 1e-2 over that at 1e-3; "
        "an epoch's step noise is the std of the differences between successive means "
        "of 10-step chunks, over their mean (`kfashion.engine.training.StepNoise`); "
        "claimed above 0",
        "ln(step noise at 1e-2 / at 1e-3)",
        ("learning_rate", 1e-2, 1e-3),
        step_noise_log_ratio,
        f"the training loss's step noise was {NOT_RECORDED}",
    ),
    (
        "lr 1e-2 shows no clear descent",
        "descent is how low the validation loss gets and how soon: per seed, the mean "
        "over epochs of ln(validation loss at lr 1e-2 / at 1e-3), a log area between "
        "the curves, below 0 where 1e-2's curve reaches lower losses sooner; claimed "
        "above 0",
        "mean log ratio, 1e-2 over 1e-3",
        ("learning_rate", 1e-2, 1e-3),
        mean_log_ratio,
        None,
    ),
    (
        "Batch 50 hints at overfitting",
        "overfitting is a growing gap between training and validation loss: per seed, "
        "the least-squares slope per epoch of (validation loss - training loss) over "
        "the later half of the epochs, at batch 50 minus at batch 100; claimed above "
        "0. Batch 50 takes twice the steps per epoch of batch 100. The training loss "
        "is the epoch's mean with dropout active, the validation loss is measured "
        "without, so the gap's level is not comparable to 0 but its trend is",
        "gap slope at batch 50 minus at batch 100",
        ("batch_size", 50, 100, 150),
        lambda a, b: gap_slope(a) - gap_slope(b),
        "a trend over the later half of the epochs needs 4 epochs or more",
    ),
    *(
        (
            f"Batch {size} falls more steadily than 50",
            f"part of 'Batches 100 and 150 fall more steadily than 50': per seed, the "
            f"epochs in which the validation loss rose at batch 50 minus those at batch "
            f"{size}; claimed above 0",
            f"rising epochs at batch 50 minus at batch {size}",
            ("batch_size", 50, size, 100, 150),
            lambda a, b: rising_epochs(a) - rising_epochs(b),
            None,
        )
        for size in (100, 150)
    ),
)


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
    measure = (
        "the selection is the point of lowest validation loss: per seed, its best validation "
        "loss minus that of the best other point of the sweep (the one of lowest mean over seeds: "
        f"{moved}); claimed below 0"
    )
    compared = comparison(f"selection minus {moved}", differences, -1)
    return [claim("Final selection n=64, p=0.1, batch 100, lr 1e-3, Adam", measure, [compared])]


def sweep_claims(sweep: dict) -> list[dict]:
    """Every claim the sweep has the points for, in order: the trends, the pairs, the
    selection."""
    found = []
    for text, factor, transform, axis, name, sign in TRENDS:
        if slopes := trend(sweep, factor, transform):
            measure = (
                f"per seed, the least-squares slope of ln(best validation loss) against {axis}; "
                f"claimed {'above' if sign > 0 else 'below'} 0"
            )
            found.append(claim(text, measure, [comparison(name, slopes, sign)]))
    for text, measure, name, (factor, a, b, *needs), per_seed, unmeasured in PAIRS:
        points = dict(points_of(sweep, factor))
        if {a, b, *needs} <= set(points):
            values = paired_runs(points[a], points[b], per_seed)
            if unmeasured and any(np.isnan(values)):  # a measure that can be missing
                compared = missing(name, unmeasured)
            else:
                compared = comparison(name, values, +1)
            found.append(claim(text, measure, [compared]))
    return found + the_final_selection_is_best(sweep)
