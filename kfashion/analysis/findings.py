"""The reference study's findings, judged from the results' JSON: `findings.json`.

Each claim gets a measure computed per seed and tested over seeds (`kfashion.analysis.stats`): the
two-sided one-sample t test of the per-seed values against 0, shown with its 95% t interval.
The comparisons are judged in families, the findings' comparisons together and the label
efficiency's together, each family's p-values Holm-adjusted so that the chance of any false
verdict in it is at most 5%. A comparison is **reproduced** where its adjusted p < 0.05 and the
mean lies on the claimed side, **contradicted** where adjusted p < 0.05 and it lies on the
other (a band or threshold claim says which side it missed on), **not resolved** otherwise. A
claim of several comparisons is reproduced when all are, contradicted when any is; a claim
whose words make two claims is judged as two. The report only renders what is written here;
nothing here is typed by hand.
"""

import numpy as np

from kfashion.analysis import stats
from kfashion.config import CASES, CLASS_NAMES, REFERENCE_CHOICE, STEP_NOISE
from kfashion.core import layout
from kfashion.core.files import file_digest, read_json

RULE = (
    "per comparison, the two-sided one-sample t test of the per-seed values against 0, its "
    "p-value Holm-adjusted over the comparison's family: reproduced where the adjusted p < 0.05 "
    "and the mean lies on the claimed side, contradicted where the adjusted p < 0.05 and it "
    "lies on the other, not resolved otherwise; a claim of several comparisons is reproduced "
    "when all are, contradicted when any is"
)
BAND_RULE = (
    "inside the band: the equivalence test (two one-sided t tests against the band's ends, the "
    "larger p); above or below it: the one-sided t test against the end it passed; each "
    "one-sided p doubled, then Holm-adjusted over the family: reproduced, or contradicted: "
    "higher / lower, where the adjusted p < 0.05, not resolved otherwise"
)
INTERVALS = (
    "each comparison's own 95% t interval over seeds, not widened for its family; beside it, "
    "the simultaneous interval: the t interval at 1 - 0.05/m for a family of m comparisons "
    "(Bonferroni), which covers all m at once with 95% probability. Holm is never less "
    "powerful than Bonferroni, so a verdict can stand where that wider interval touches 0"
)
NOT_RECORDED = "not recorded by the version of kfashion that made this run; run it again"
NEAR = 0.03  # "about X%" holds within 3 points of X
# The reference study's numbers for the four cases.
ABOUT = {2: 0.80, 3: 0.88}
BELOW = {4: 0.75}
LABEL_PAIRS = ((1, 3), (2, 3), (2, 4), (1, 2))


def rises(curve) -> int:
    """Epochs in which the loss went up from the epoch before."""
    return int(np.sum(np.diff(np.asarray(curve, dtype=float)) > 0))


def combine(verdicts: list[str]) -> str:
    """All comparisons reproduced: reproduced; any contradicted: contradicted (on which side,
    where every contradicted one says the same); else not resolved."""
    if verdicts and all(v == stats.REPRODUCED for v in verdicts):
        return stats.REPRODUCED
    against = {v for v in verdicts if v.startswith(stats.CONTRADICTED)}
    if against:
        return against.pop() if len(against) == 1 else stats.CONTRADICTED
    return stats.NOT_RESOLVED


def comparison(
    name: str, per_seed, claimed_sign: int, unit: str = "", threshold: bool = False
) -> dict:
    """One measure over seeds, claimed above 0 (`claimed_sign` +1) or below (-1); judged later,
    with its family. `unit` is "accuracy" for fractions the report shows in points; a
    `threshold` comparison (a number against a stated bound) says which side it missed on."""
    if not len(per_seed):
        return missing(name, NO_SEED)
    return {
        "name": name,
        **stats.mean_interval(per_seed),
        "unit": unit,
        "claimed": "above 0" if claimed_sign > 0 else "below 0",
        "claimed_sign": claimed_sign,
        "threshold": threshold,
    }


def band_comparison(name: str, per_seed, low: float, high: float, unit: str = "") -> dict:
    """One measure over seeds claimed to lie inside [low, high]."""
    if not len(per_seed):
        return missing(name, NO_SEED)
    p, outcome = stats.band_p(per_seed, low, high)
    return {
        "name": name,
        **stats.mean_interval(per_seed),
        "p_value": p,
        "unit": unit,
        "claimed": f"inside [{low:g}, {high:g}]",
        "band": [low, high],
        "outcome": outcome,
    }


NO_SEED = "no seed of the points or runs it compares finished"


def missing(name: str, reason: str) -> dict:
    """A comparison the results cannot make: not resolved, and outside every family."""
    return {
        "name": name,
        "mean": None,
        "per_seed": [],
        "ci95": None,
        "p_value": None,
        "reason": reason,
    }


def claim(text: str, measure: str, comparisons: list[dict], rule: str = RULE) -> dict:
    return {"claim": text, "measure": measure, "comparisons": comparisons, "rule": rule}


def settle(comparisons: list[dict]) -> dict:
    """Holm-adjust one family's p-values and give each comparison its verdict, in place.
    Comparisons without a p-value (one seed, or not recorded) are not resolved and not counted.
    Each tested comparison also gets its simultaneous (Bonferroni) interval. Returns the
    family's size."""
    tested = [c for c in comparisons if c["p_value"] is not None]
    m = len(tested)
    for c, adjusted in zip(tested, stats.holm([c["p_value"] for c in tested]), strict=True):
        c["p_holm"] = adjusted
        c["ci_simultaneous"] = stats.interval(c["per_seed"], 1 - stats.ALPHA / m)
        if "band" in c:
            c["verdict"] = c["outcome"] if adjusted < stats.ALPHA else stats.NOT_RESOLVED
        else:
            c["verdict"] = stats.verdict(c["mean"], adjusted, c["claimed_sign"], c["threshold"])
    for c in comparisons:
        c.setdefault("p_holm", None)
        c.setdefault("verdict", stats.NOT_RESOLVED)
    return {"size": m}


# --- the autoencoder sweep ---------------------------------------------------------------


def seed_runs(trial: dict) -> dict:
    """seed -> that seed's record, for a trial's finished seeds."""
    return {run["seed"]: run for run in trial.get("seeds", []) if run.get("best_val_loss")}


def points_of(sweep: dict, factor: str) -> list[tuple]:
    """(value, trial) for a factor's points, the base case included where it belongs."""
    base = next(t for t in sweep["trials"] if t["factor"] == "base")
    rows = [(t["value"], t) for t in sweep["trials"] if t["factor"] == factor]
    if factor in base["config"]:
        rows.append((base["config"][factor], base))
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


def sweep_claims(sweep: dict) -> list[dict]:
    found = []
    if slopes := trend(sweep, "latent_dim", np.log2):
        found.append(
            claim(
                "Loss falls as n grows",
                "per seed, the least-squares slope of ln(best validation loss) against log2(n) "
                "over n = 16 ... 256; claimed below 0",
                [comparison("slope per doubling of n", slopes["slopes"], -1)],
            )
        )
    if slopes := trend(sweep, "dropout", float):
        found.append(
            claim(
                "Loss rises with p",
                "per seed, the least-squares slope of ln(best validation loss) against p over "
                "p = 0.0 ... 0.5; claimed above 0",
                [comparison("slope per unit of p", slopes["slopes"], +1)],
            )
        )
    optimizer = by_value(sweep, "optimizer")
    if {"adam", "sgd"} <= set(optimizer):
        found.append(
            claim(
                "Adam converges faster than SGD",
                "per seed, the mean over epochs of ln(SGD's validation loss / Adam's): how far "
                "above Adam's SGD's curve lies; claimed above 0",
                [
                    comparison(
                        "mean log ratio",
                        paired_runs(optimizer["sgd"], optimizer["adam"], mean_log_ratio),
                        +1,
                    )
                ],
            )
        )
    rates = by_value(sweep, "learning_rate")
    if {1e-2, 1e-3} <= set(rates):
        fast, slow = rates[1e-2], rates[1e-3]
        name = "ln(step noise at 1e-2 / at 1e-3)"
        if recorded(fast, STEP_NOISE) and recorded(slow, STEP_NOISE):
            noise = [
                comparison(
                    name,
                    paired_runs(fast, slow, lambda a, b: np.log(step_noise(a) / step_noise(b))),
                    +1,
                )
            ]
        else:
            noise = [missing(name, f"the training loss's step noise was {NOT_RECORDED}")]
        found.append(
            claim(
                "lr 1e-2 oscillates",
                "oscillation is a property of the optimiser's steps: per seed, ln of the mean "
                "over epochs of the training loss's step noise at lr 1e-2 over that at 1e-3; "
                "an epoch's step noise is the std of the differences between successive means "
                "of 10-step chunks, over their mean (`kfashion.engine.training.StepNoise`); "
                "claimed above 0",
                noise,
            )
        )
        found.append(
            claim(
                "lr 1e-2 shows no clear descent",
                "descent is how low the validation loss gets and how soon: per seed, the mean "
                "over epochs of ln(validation loss at lr 1e-2 / at 1e-3), a log area between "
                "the curves, below 0 where 1e-2's curve reaches lower losses sooner; claimed "
                "above 0",
                [
                    comparison(
                        "mean log ratio, 1e-2 over 1e-3",
                        paired_runs(fast, slow, mean_log_ratio),
                        +1,
                    )
                ],
            )
        )
    batches = by_value(sweep, "batch_size")
    if {50, 100, 150} <= set(batches):
        found.append(
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
        )
        for size in (100, 150):
            found.append(
                claim(
                    f"Batch {size} falls more steadily than 50",
                    f"part of 'Batches 100 and 150 fall more steadily than 50': per seed, the "
                    f"epochs in which the validation loss rose at batch 50 minus those at batch "
                    f"{size}; claimed above 0",
                    [
                        comparison(
                            f"rising epochs at batch 50 minus at batch {size}",
                            paired_runs(
                                batches[50],
                                batches[size],
                                lambda a, b: rises(val_curve(a)) - rises(val_curve(b)),
                            ),
                            +1,
                        )
                    ],
                )
            )
    chosen = next((t for t in sweep["trials"] if t["config"] == REFERENCE_CHOICE), None)
    others = [t for t in sweep["trials"] if t is not chosen and t["best_val_loss"] is not None]
    if chosen and others:
        rival = min(others, key=lambda t: t["best_val_loss"])
        moved = ", ".join(
            f"{k}={v}" for k, v in rival["config"].items() if REFERENCE_CHOICE.get(k) != v
        )
        found.append(
            claim(
                "Final selection n=64, p=0.1, batch 100, lr 1e-3, Adam",
                "the selection is the point of lowest validation loss: per seed, its best "
                "validation loss minus that of the best other point of the sweep (the one of "
                f"lowest mean over seeds: {moved}); claimed below 0",
                [
                    comparison(
                        f"selection minus {moved}",
                        paired_runs(
                            chosen, rival, lambda a, b: a["best_val_loss"] - b["best_val_loss"]
                        ),
                        -1,
                    )
                ],
            )
        )
    return found


# --- the four transfer cases ---------------------------------------------------------------


def case_values(transfer: dict, case: int, key: str) -> dict:
    """seed -> a run's number (e.g. test_accuracy) for one case."""
    return {r["seed"]: r[key] for r in transfer["runs"] if r["case"] == case}


def case_difference(transfer: dict, a: int, b: int, measure) -> list[float]:
    runs = {(r["case"], r["seed"]): r for r in transfer["runs"]}
    seeds = sorted({s for c, s in runs if c == a} & {s for c, s in runs if c == b})
    return [float(measure(runs[a, s]) - measure(runs[b, s])) for s in seeds]


def transfer_claims(transfer: dict) -> list[dict]:
    cases = sorted(int(c) for c in transfer["cases"])
    found = []

    def accuracy(run):
        return run["test_accuracy"]

    def worst_recall(run):
        return min(run["recall"])

    def first_loss(run):
        return transfer["curves"][f"case{run['case']}_seed{run['seed']}"]["loss"][0]

    if 1 in cases and len(cases) > 1:
        found.append(
            claim(
                "Case 1 has the highest accuracy",
                "per seed, case 1's test accuracy minus each other case's (paired by seed); "
                "claimed above 0 for every other case",
                [
                    comparison(
                        f"case 1 - case {other}",
                        case_difference(transfer, 1, other, accuracy),
                        +1,
                        "accuracy",
                    )
                    for other in cases
                    if other != 1
                ],
            )
        )
    for case, target in ABOUT.items():
        if case in cases:
            values = [v - target for v in case_values(transfer, case, "test_accuracy").values()]
            found.append(
                claim(
                    f"Case {case}: about {target:.0%}",
                    f"per seed, the test accuracy minus {target:.0%}; claimed within "
                    f"{NEAR * 100:.0f} points of 0",
                    [
                        band_comparison(
                            f"case {case} - {target:.0%}", values, -NEAR, NEAR, "accuracy"
                        )
                    ],
                    rule=BAND_RULE,
                )
            )
    for case, bound in BELOW.items():
        if case in cases:
            values = [v - bound for v in case_values(transfer, case, "test_accuracy").values()]
            found.append(
                claim(
                    f"Case {case}: below {bound:.0%}",
                    f"per seed, the test accuracy minus {bound:.0%}; claimed below 0",
                    [comparison(f"case {case} - {bound:.0%}", values, -1, "accuracy", True)],
                )
            )
    if {1, 4} <= set(cases) and "recall" in transfer["runs"][0]:
        worst = (
            "per seed, the recall of each case's most confused class (the lowest diagonal entry "
            "of its row-normalised confusion matrix), paired by seed"
        )
        part = "part of 'Confusion: case 1 the cleanest, case 4 the most confused'"
        found.append(
            claim(
                "Confusion: case 1 the cleanest",
                f"{part}: {worst}; case 1's minus every other case's, claimed above 0",
                [
                    comparison(
                        f"case 1 - case {o}",
                        case_difference(transfer, 1, o, worst_recall),
                        +1,
                        "accuracy",
                    )
                    for o in cases
                    if o != 1
                ],
            )
        )
        found.append(
            claim(
                "Confusion: case 4 the most confused",
                f"{part}: {worst}; every other case's minus case 4's, claimed above 0",
                [
                    comparison(
                        f"case {o} - case 4",
                        case_difference(transfer, o, 4, worst_recall),
                        +1,
                        "accuracy",
                    )
                    for o in cases
                    if o != 4
                ],
            )
        )
    if 4 in cases and "curves" in transfer:
        found.append(
            claim(
                "Case 4 starts from a very high loss",
                "per seed, case 4's mean training loss in its first epoch minus each other "
                "case's; claimed above 0 for every other case",
                [
                    comparison(
                        f"case 4 - case {o}", case_difference(transfer, 4, o, first_loss), +1
                    )
                    for o in cases
                    if o != 4
                ],
            )
        )
    return found


# --- label efficiency ----------------------------------------------------------------------


def label_comparisons(efficiency: dict) -> list[dict]:
    """For each pair of cases and each label count: the paired difference, judged later."""
    summary, counts = efficiency["test_accuracy"], efficiency["settings"]["labels"]
    rows = []
    for a, b in LABEL_PAIRS:
        if str(a) not in summary or str(b) not in summary:
            continue
        for count in counts:
            diff = np.subtract(
                summary[str(a)][str(count)]["per_seed"], summary[str(b)][str(count)]["per_seed"]
            )
            rows.append(
                {
                    "pair": [a, b],
                    "labels": count,
                    **comparison(f"case {a} - case {b}", diff, +1, "accuracy"),
                }
            )
    return rows


def ahead(row: dict) -> str:
    """Who is ahead where the (adjusted) test says so."""
    a, b = row["pair"]
    names = {stats.REPRODUCED: f"case {a} ahead", stats.CONTRADICTED: f"case {b} ahead"}
    return names.get(row["verdict"], stats.NOT_RESOLVED)


def per_class_recall(transfer: dict) -> dict | None:
    """case -> class name -> mean and std over seeds of that class's test recall."""
    if "recall" not in transfer["runs"][0]:
        return None
    return {
        case: {
            name: stats.mean_std(
                [r["recall"][k] for r in transfer["runs"] if str(r["case"]) == case]
            )
            for k, name in enumerate(CLASS_NAMES)
        }
        for case in sorted(transfer["cases"], key=int)
    }


def judge(results) -> dict:
    """Every finding the JSON files under `results` support, each family Holm-adjusted."""
    sources, claims = {}, []
    sweep_path, transfer_path = results / layout.SWEEP, results / layout.TRANSFER
    labels_path = results / layout.LABEL_EFFICIENCY
    if sweep_path.exists():
        claims += sweep_claims(read_json(sweep_path))
    if transfer_path.exists():
        claims += transfer_claims(read_json(transfer_path))
    labels = label_comparisons(read_json(labels_path)) if labels_path.exists() else []
    for path in (sweep_path, transfer_path, labels_path):
        if path.exists():
            sources[path.name] = file_digest(path)
    families = {
        "findings": settle([c for found in claims for c in found["comparisons"]]),
        "label_efficiency": settle(labels),
    }
    # a comparison that serves two parts of a claim (case 1 - case 4 of the confusion) is
    # counted in each: Holm is then a little stricter than it need be
    families["findings"]["members"] = [
        f"{found['claim']}: {c['name']}"
        for found in claims
        for c in found["comparisons"]
        if c["p_value"] is not None
    ]
    families["label_efficiency"]["members"] = [
        f"{row['name']}, {row['labels']} labels" for row in labels if row["p_value"] is not None
    ]
    for found in claims:
        found["verdict"] = combine([c["verdict"] for c in found["comparisons"]])
    for row in labels:
        row["outcome"] = ahead(row)
    recall = per_class_recall(read_json(transfer_path)) if transfer_path.exists() else None
    return {
        "rule": RULE,
        "band_rule": BAND_RULE,
        "test": "two-sided one-sample Student t test over seeds of the per-seed measure against "
        "0 (scipy.stats.ttest_1samp; for two cases or points the measure is their paired "
        "difference), Holm-adjusted over the family (statsmodels multipletests, method holm)",
        "intervals": INTERVALS,
        "families": families,
        "sources": sources,
        "claims": claims,
        "label_efficiency": labels,
        "cases": {str(c): CASES[c].label for c in CASES},
        "per_class_recall": recall,
    }
