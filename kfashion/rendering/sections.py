"""The report's sections, as Markdown lines, each rendered from one stage's JSON.

Every number comes from the JSON files the stages and `kfashion.analysis.findings` wrote;
nothing here judges a finding or computes a statistic beyond formatting it.
"""

from kfashion.analysis import answer, transfer_claims
from kfashion.config import CASES, CLASS_NAMES
from kfashion.core.provenance import made_on


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def spread(cell: dict, percent: bool = True) -> str:
    """ "91.04% ± 0.36%" from a {"mean", "std"} (no spread for one seed)."""
    fmt = (lambda v: f"{v:.2%}") if percent else (lambda v: f"{v:.4f}")
    return fmt(cell["mean"]) + (f" ± {fmt(cell['std'])}" if cell.get("std") is not None else "")


def interval(result: dict) -> str:
    """ "+1.20 points [-0.40, +2.80]": a mean and its 95% interval, accuracies in points."""
    if result.get("mean") is None:
        return f"no value: {result['reason']}"
    points = result.get("unit") == "accuracy"
    scale, digits, unit = (100, 2, " points") if points else (1, 3, "")

    def fmt(value):
        return f"{value * scale:+.{digits}f}" if points else f"{value:+.{digits}g}"

    if result.get("ci95") is None:
        return f"{fmt(result['mean'])}{unit} (no interval: one seed)"
    low, high = result["ci95"]
    text = f"{fmt(result['mean'])}{unit} [{fmt(low)}, {fmt(high)}]"
    if wide := result.get("ci_simultaneous"):
        text += f" (simultaneous [{fmt(wide[0])}, {fmt(wide[1])}])"
    return text


def p_values(result: dict) -> str:
    """ "p 0.012, Holm 0.096": the raw and the family-adjusted p-value."""
    if result.get("p_value") is None:
        return "no test"
    return f"p {result['p_value']:.2g}, Holm {result['p_holm']:.2g}"


def per_seed(result: dict) -> str:
    points = result.get("unit") == "accuracy"
    return ", ".join(f"{v * 100:+.2f}" if points else f"{v:+.3g}" for v in result["per_seed"])


def families(findings: dict) -> str:
    sizes = "; ".join(
        f"{name.replace('_', ' ')}: {family['size']} comparisons"
        for name, family in findings["families"].items()
    )
    return f"Families, each Holm-adjusted on its own: {sizes}."


def findings_section(findings: dict) -> list[str]:
    out = [
        "## The reference study's findings, checked",
        "",
        f"Verdicts: {findings['rule']}. A band claim: {findings['band_rule']}. Test: "
        f"{findings['test']}. {families(findings)} Intervals: {findings['intervals']}. Each "
        "claim's measure is computed per seed; the numbers are its mean, 95% interval and "
        "p-values, then every seed's value.",
        "",
    ]
    rows = []
    for found in findings["claims"]:
        numbers = "; ".join(
            f"{c['name']}: {interval(c)}"
            + (f"; {p_values(c)}; per seed {per_seed(c)}" if c["mean"] is not None else "")
            + (
                f"; band {c['band'][0] * 100:+.0f} to {c['band'][1] * 100:+.0f} points"
                if "band" in c
                else ""
            )
            for c in found["comparisons"]
        )
        rows.append([found["claim"], f"**{found['verdict']}**", found["measure"], numbers])
    return out + table(["finding", "here", "measure", "mean [95% interval]; p-values"], rows) + [""]


def baseline_lines(baseline: dict, transfer: dict) -> list[str]:
    """The linear baselines beside the frozen cases, which are linear probes too."""
    frozen = ", ".join(
        f"case {case} ({entry['label']}) {spread(entry['test_accuracy'])}"
        for case, entry in sorted(transfer["cases"].items(), key=lambda kv: int(kv[0]))
        if not CASES[int(case)].train_encoder
    )
    out = [
        "",
        "Linear baselines on the same split (scikit-learn, `kfashion.baseline`), beside the "
        f"frozen cases, which are linear probes on fixed codes: {frozen}. C is the inverse "
        "L2 strength; where chosen, it is the grid's C of highest validation accuracy, and the "
        "test split was read once per model, after the choice:",
        "",
    ]
    rows = []
    for key in ("logistic_regression", "logistic_regression_tuned", "pca_logistic_regression"):
        if entry := baseline.get(key):
            grid = entry.get("grid")
            validation = (
                ", ".join(
                    f"C={row['C']:g}: {row['validation_accuracy']:.2%}"
                    + ("" if row["converged"] else " (not converged)")
                    for row in grid
                )
                if grid
                else f"{entry['validation_accuracy']:.2%}"
                + ("" if entry.get("converged", True) else " (not converged)")
            )
            rows.append(
                [
                    entry["model"],
                    entry["features"],
                    validation,
                    f"{entry['chosen_C']:g}" if grid else "1 (fixed)",
                    f"{entry['test_accuracy']:.2%}",
                ]
            )
    return out + table(["model", "features", "validation accuracy", "C", "test accuracy"], rows)


def recall_lines(recall: dict) -> list[str]:
    """Each class's accuracy (its recall) per case, mean ± std over seeds."""
    cases = sorted(recall, key=int)
    rows = [[name, *(spread(recall[case][name]) for case in cases)] for name in CLASS_NAMES]
    return [
        "",
        "Each class's test accuracy (its recall: the share of its test images given its "
        "label), mean ± std over seeds:",
        "",
        *table(["class", *(f"case {case}" for case in cases)], rows),
    ]


def transfer_section(
    transfer: dict, baseline: dict | None, recall: dict | None = None
) -> list[str]:
    settings = transfer["settings"]
    rate = settings["learning_rate"]
    if isinstance(rate, dict):  # chosen per case, before training (the grid's choices)
        rates = "learning rates " + ", ".join(f"case {c} {r:g}" for c, r in rate.items())
        rates += f" ({settings['schedule']})"
    else:
        rates = f"learning rate {rate} ({settings['schedule']}), the same for every case"
    out = [
        "## Transfer: the four cases",
        "",
        f"Encoder + Dense(10) on {settings['sizes']['train']:,} training images, "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}, {rates}; "
        f"seeds {settings['seeds']}. Test accuracy, read once per run after training:",
        "",
    ]
    rows = []
    for case, entry in sorted(transfer["cases"].items(), key=lambda kv: int(kv[0])):
        per_seed = [r["test_accuracy"] for r in transfer["runs"] if str(r["case"]) == case]
        rows.append(
            [
                case,
                entry["label"],
                spread(entry["test_accuracy"]),
                ", ".join(f"{a:.2%}" for a in per_seed),
            ]
        )
    out += table(["case", "encoder", "test accuracy (mean ± std)", "per run"], rows)
    if baseline:
        out += baseline_lines(baseline, transfer)
    if recall:
        out += recall_lines(recall)
    figures = transfer["figures"]
    out += ["", f"![curves]({figures['curves']})", "", f"![confusion]({figures['confusion']})", ""]
    pairs = []
    for case in sorted(transfer["cases"], key=int):
        true, predicted, count = transfer_claims.most_confused_pair(
            transfer["cases"][case]["confusion_matrix_all_seeds"]
        )
        pairs.append(f"case {case}: {true} taken for {predicted} ({count} times)")
    out += ["Most frequent confusion, all seeds summed: " + "; ".join(pairs) + ".", ""]
    if models := transfer.get("models"):
        out += ["Saved classifiers: " + ", ".join(f"`{m}`" for m in models.values()) + ".", ""]
    return out


def _sd(variance: float | None) -> str:
    return "-" if variance is None else f"{100 * variance**0.5:.2f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _labels(labels: str) -> str:
    return "all" if labels == "all" else f"{int(labels):,}"


def _difference(row: dict) -> str:
    text = f"{100 * row['mean_difference']:+.2f}"
    if row["ci95"] is not None:
        low, high = (100 * v for v in row["ci95"])
        text += f" [{low:+.2f}, {high:+.2f}]"
    return text


def _p(row: dict) -> str:
    if row["p_difference"] is None:
        return "-"
    return f"{row['p_difference_holm']:.3g} / {row['p_equivalence_holm']:.3g}"


def answer_lines(found: dict, figure: str | None = None, link: str | None = None) -> list[str]:
    """The answer's sentence, its forest plot (`figure`, under `link`) and its table, one row
    per comparison (for the report and the README)."""
    rows = [
        [
            r["network"],
            _labels(r["labels"]),
            f"{r['recipe']} (cases {r['cases'][0]} - {r['cases'][1]})",
            f"{r['pretrained_mean']:.2%} - {r['random_mean']:.2%}",
            _difference(r),
            f"±{100 * r['margin']:g}",
            _p(r),
            f"{len(r['pretraining_seeds'])} x {len(r['draws'])} x {r['random_initialisations']}",
            f"**{answer.verdict_text(r)}**",
        ]
        for r in found["rows"]
    ]
    where = f"{link}/{figure}" if link else figure
    picture = ["", f"![the answer: pretrained minus random]({where})"] if figure else []
    return [
        f"**{found['sentence']}**",
        *picture,
        "",
        *table(
            [
                "encoder",
                "labels",
                "recipe",
                "pretrained - random",
                "difference, points [95% interval]",
                "margin",
                "Holm p: difference / equivalence",
                "seeds x draws x random inits",
                "verdict",
            ],
            rows,
        ),
    ]


def choice_lines(found: dict) -> list[str]:
    """How the grid's recipes and rates were chosen, and what was chosen how often."""
    out = ["", f"The choices: {found['settings']['choice']}", ""]
    rows = [
        [c["network"], _labels(c["labels"]), c["case"],
         ", ".join(f"{name} ({count}x)" for name, count in sorted(c["chosen"].items())),
         c["choices"], c["ties"], c["extended"]]
        for c in found["choice_summary"]
    ]  # fmt: skip
    return out + table(["encoder", "labels", "case", "chosen (recipe, rate)", "choices",
                        "ties", "beyond the starting rates"], rows)  # fmt: skip


def search_lines(found: dict) -> list[str]:
    """The recipe search of a grid made before each draw chose its own (one rate per cell)."""
    out = ["", f"The recipe search: {found['settings']['search']}", ""]
    rows = []
    for group in found["recipe_search"]:
        scores = ", ".join(
            f"{c['learning_rate']:g}: "
            + ("-" if c["mean_val_accuracy"] is None else f"{c['mean_val_accuracy']:.2%}")
            for c in group["candidates"]
        )
        rows.append(
            [group["network"], _labels(group["labels"]), group["case"], group["recipe"], scores,
             f"{group['chosen_learning_rate']:g}"]
        )  # fmt: skip
    return out + table(["encoder", "labels", "case", "recipe", "validation accuracy by rate",
                        "chosen"], rows)  # fmt: skip


def grid_section(found: dict) -> list[str]:
    """The grid of transfer runs: the answer, its plan and variance components, the choices,
    and what training did to the encoders."""
    settings = found["settings"]
    out = [
        "## Does reconstruction pretraining help the classifier? The grid",
        "",
        f"`{found['provenance']['command']}`: encoders {', '.join(settings['networks'])}; "
        f"label counts {', '.join(map(_labels, settings['labels']))}; cases "
        f"{settings['cases']}; recipes: "
        + "; ".join(f"{name}: {text}" for name, text in settings["recipes"].items())
        + f". {settings['kerastuner'].capitalize()}.",
        "",
        *answer_lines(found["answer"], found.get("answer_figure")),
        "",
        f"The analysis plan: {found['answer']['plan']}",
        "",
        "The variance components of each row's paired differences (standard deviations, "
        "points: pretraining seed, draw, residual; and between a random encoder's "
        "initialisations of one draw):",
        "",
    ]
    rows = [
        [r["network"], _labels(r["labels"]), r["recipe"],
         *(_sd(r["components"] and r["components"][name])
           for name in ("pretraining", "draw", "residual")),
         _sd(r["init_variance"])]
        for r in found["answer"]["rows"]
    ]  # fmt: skip
    out += table(["encoder", "labels", "recipe", "pretraining seed", "draw", "residual",
                  "random initialisation"], rows)  # fmt: skip
    out += choice_lines(found) if "choices" in found else search_lines(found)
    out += [
        "",
        "What training did to the encoder (jointly trained cases): the share of code units "
        "that are 0 on every one of 1,000 fixed validation images, before and after, and how "
        "far its weights moved relative to their norm; mean ± std over the cell's runs:",
        "",
    ]
    rows = [
        [c["network"], _labels(c["labels"]), c["case"],
         ", ".join(c["recipes"]) if "recipes" in c else c["recipe"],
         "random" if c["encoder_seed"] < 0 else c["encoder_seed"],
         spread(c["dead_code_units_before"]), spread(c["dead_code_units_after"]),
         spread(c["encoder_weight_change"], percent=False)]
        for c in found["cells"]
        if CASES[c["case"]].train_encoder
    ]  # fmt: skip
    out += table(["encoder", "labels", "case", "recipe", "pretraining seed", "dead before",
                  "dead after", "weight change"], rows)  # fmt: skip
    return out + ["", f"![the grid]({found['figure']})", ""]


def probe_section(probe: dict) -> list[str]:
    """Frozen codes judged as features: the linear probes' test accuracy per label count."""
    settings = probe["settings"]
    counts = settings["labels"]
    names = list(dict.fromkeys(row["features"] for row in probe["summary"]))
    cell = {(r["labels"], r["features"]): r for r in probe["summary"]}

    def shown(row):
        low, high = row["ci95"] or (None, None)
        interval_text = "" if low is None else f" [{low:.2%}, {high:.2%}]"
        return f"{row['test_accuracy']:.2%}{interval_text}"

    rows = [[name, *(shown(cell[c, name]) if (c, name) in cell else "-" for c in counts)]
            for name in names]  # fmt: skip
    return [
        "## Frozen codes as features: linear probes",
        "",
        f"`{probe['provenance']['command']}`: logistic regression on each set of features, its "
        f"C chosen from {settings['C_grid']} by {settings['folds']}-fold cross-validation inside "
        "each draw's labels (with all labels, on the validation split); test accuracy, the mean "
        "over draws (and pretraining seeds) [95% t interval over draws]:",
        "",
        *table(["features", *(_labels(c) for c in counts)], rows),
        "",
    ]


def labels_section(efficiency: dict, comparisons: list[dict]) -> list[str]:
    settings, summary = efficiency["settings"], efficiency["test_accuracy"]
    counts = settings["labels"]
    repeats = ", ".join(f"{n}x {c}" for c, n in efficiency["repeats_per_epoch"].items())
    out = [
        "## Label efficiency",
        "",
        f"Each case trained on a stratified sample of that many labelled training images "
        f"(a new sample per seed, the same for every case; seeds {settings['seeds']}), the "
        f"encoder pretrained on all of them without labels, {settings['epochs']} epochs. "
        f"Few-label runs: {settings['few_label_runs']} ({repeats})"
        + ('; "all" is the ordinary run above, for these seeds' if "all" in counts else "")
        + ". Test accuracy, mean ± std:",
        "",
    ]
    rows = [[count, *(spread(summary[case][str(count)]) for case in summary)] for count in counts]
    out += table(["labels", *(f"case {case}" for case in summary)], rows) + [""]
    if comparisons:
        out += [
            "Paired by seed, the difference in test accuracy (points) with its 95% interval, "
            "its t test's p-value and its Holm-adjusted p-value over this table's "
            f"{len(comparisons)} comparisons (one family), and which case is ahead where the "
            "adjusted p < 0.05:",
            "",
        ]
        pairs = sorted({tuple(c["pair"]) for c in comparisons})
        rows = []
        for a, b in pairs:
            row = [f"case {a} - case {b}"]
            for count in counts:
                c = next(
                    c for c in comparisons if tuple(c["pair"]) == (a, b) and c["labels"] == count
                )
                row.append(f"{interval(c)}; {p_values(c)}: {c['outcome']}")
            rows.append(row)
        out += table(["pair", *map(str, counts)], rows) + [""]
    return out + [f"![label efficiency]({efficiency['figure']})", ""]


def version_key(version: str) -> tuple:
    """ "0.10.0" after "0.9.0": versions compared by their numbers."""
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def how_section(stages: dict) -> list[str]:
    """Each stage's command, backend, machine, versions and data; and whether the runs that a
    table combines were all made alike."""
    out = ["## How this run was made", ""]
    machines, versions_of_runs = set(), set()
    for name, stage in stages.items():
        p = stage["provenance"]
        versions = ", ".join(f"{k} {v}" for k, v in p["versions"].items())
        data = p.get("data", {}).get("source", "-")
        out.append(
            f"- {name}: `{p['command']}` on {p['date'][:10]}: backend {p['backend']}, "
            f"{p['machine']}; {versions}; data: {data}."
        )
        environments = [r["environment"] for r in stage.get("runs", []) if "environment" in r]
        for trial in stage.get("trials", []):
            environments += [r["environment"] for r in trial["seeds"] if "environment" in r]
        machines |= {made_on(env) for env in environments} | set(stage.get("made_on", []))
        versions_of_runs |= {env["versions"].get("kfashion", "?") for env in environments}
    if len(machines) == 1:
        out.append(f"- Every training run recorded here was made with {machines.pop()}.")
    elif machines:
        out.append(
            "- **The runs here were made on different machines or backends**: "
            + "; ".join(sorted(machines))
            + "."
        )
    if len(versions_of_runs) > 1:  # a long run resumed across versions says which made what
        out.append(
            "- The training runs recorded here were made by kfashion "
            + " and ".join(sorted(versions_of_runs, key=version_key))
            + "; each run's record names its version."
        )
    return out + [""]
