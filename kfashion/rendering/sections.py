"""The report's sections, as Markdown lines, each rendered from one stage's JSON.

Every number comes from the JSON files the stages and `kfashion.analysis.findings` wrote;
nothing here judges a finding or computes a statistic beyond formatting it.
"""

import functools
from datetime import datetime

from kfashion.analysis import transfer_claims
from kfashion.config import CASES, CLASS_NAMES
from kfashion.core.provenance import made_on


def table(header: str, rows: list[list]) -> list[str]:
    """A Markdown table; `header` is its header row's Markdown ("case | test accuracy")."""
    lines = [f"| {header} |", "|" + " --- |" * (header.count(" | ") + 1)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def number(value: float, percent: bool = True) -> str:
    """An accuracy as a percentage, anything else (a loss) to four decimals."""
    return f"{value:.2%}" if percent else f"{value:.4f}"


def accuracy_interval(mean: float, ci95: list | None) -> str:
    """ "84.10% [83.20%, 85.00%]": a mean and its 95% interval (without one: the mean)."""
    return f"{mean:.2%}" + (f" [{ci95[0]:.2%}, {ci95[1]:.2%}]" if ci95 else "")


def interval_text(row: dict) -> str:
    return accuracy_interval(row["test_accuracy"], row["ci95"])


def spread(cell: dict, percent: bool = True) -> str:
    """ "91.04% ± 0.36%" from a {"mean", "std"} (no spread for one seed)."""
    std = cell.get("std")
    return number(cell["mean"], percent) + ("" if std is None else f" ± {number(std, percent)}")


def by_case(transfer: dict) -> list[tuple[str, dict]]:
    """A transfer's cases in order of their numbers: (case, its entry)."""
    return sorted(transfer["cases"].items(), key=lambda item: int(item[0]))


def case_accuracies(transfer: dict, case: str) -> list[float]:
    """The test accuracy of each of a case's runs (one a seed, or a random encoder's
    initialisations of each seed)."""
    return [run["test_accuracy"] for run in transfer["runs"] if str(run["case"]) == case]


def chosen_trial(sweep: dict) -> dict:
    """The point whose models a sweep exported."""
    return next(t for t in sweep["trials"] if t["trial_id"] == sweep["selected"]["trial_id"])


def signed(value: float, result: dict) -> str:
    """A value of a comparison's measure: accuracies in points, to two decimals."""
    return f"{value * 100:+.2f}" if result.get("unit") == "accuracy" else f"{value:+.3g}"


def interval(result: dict) -> str:
    """ "+1.20 points [-0.40, +2.80]": a mean and its 95% interval, accuracies in points."""
    if result.get("mean") is None:
        return f"no value: {result['reason']}"
    unit = " points" if result.get("unit") == "accuracy" else ""
    fmt = functools.partial(signed, result=result)
    if why := why_no_interval(result):
        return f"{fmt(result['mean'])}{unit} (no interval: {why})"
    low, high = result["ci95"]
    text = f"{fmt(result['mean'])}{unit} [{fmt(low)}, {fmt(high)}]"
    if wide := result.get("ci_simultaneous"):
        text += f" (simultaneous [{fmt(wide[0])}, {fmt(wide[1])}])"
    return text


def why_no_interval(result: dict) -> str | None:
    """Why a comparison over seeds has no 95% t interval, "one seed" or "every seed alike" (its
    spread is 0); None where it has one."""
    if result.get("ci95") is not None:
        return None
    return "one seed" if len(result["per_seed"]) < 2 else "every seed alike"


def p_values(result: dict) -> str:
    """ "p 0.012, Holm 0.096": the raw and the family-adjusted p-value."""
    if result.get("p_value") is None:
        return "no test"
    return f"p {result['p_value']:.2g}, Holm {result['p_holm']:.2g}"


def per_seed(result: dict) -> str:
    return ", ".join(signed(value, result) for value in result["per_seed"])


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
        numbers = "; ".join(comparison_numbers(c) for c in found["comparisons"])
        rows.append([found["claim"], f"**{found['verdict']}**", found["measure"], numbers])
    return out + table("finding | here | measure | mean [95% interval]; p-values", rows) + [""]


def comparison_numbers(c: dict) -> str:
    """A claim's comparison: its mean and interval, p-values, every seed's value, its band."""
    text = f"{c['name']}: {interval(c)}"
    if c["mean"] is not None:
        text += f"; {p_values(c)}; per seed {per_seed(c)}"
    if "band" in c:
        text += f"; band {c['band'][0] * 100:+.0f} to {c['band'][1] * 100:+.0f} points"
    return text


def baseline_lines(baseline: dict, transfer: dict) -> list[str]:
    """The linear baselines beside the frozen cases, which are linear probes too."""
    frozen = ", ".join(
        f"case {case} ({entry['label']}) {spread(entry['test_accuracy'])}"
        for case, entry in by_case(transfer)
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
            if grid := entry.get("grid"):
                validation = ", ".join(f"C={fit['C']:g}: {validated(fit)}" for fit in grid)
                chosen = f"{entry['chosen_C']:g}"
            else:
                validation, chosen = validated(entry), "1 (fixed)"
            test = f"{entry['test_accuracy']:.2%}"
            rows.append([entry["model"], entry["features"], validation, chosen, test])
    return out + table("model | features | validation accuracy | C | test accuracy", rows)


def validated(fit: dict) -> str:
    """A fit's validation accuracy, and whether it did not converge."""
    converged = fit.get("converged", True)
    return f"{fit['validation_accuracy']:.2%}" + ("" if converged else " (not converged)")


def recall_lines(recall: dict) -> list[str]:
    """Each class's accuracy (its recall) per case, mean ± std over seeds."""
    cases = sorted(recall, key=int)
    rows = [[name, *(spread(recall[case][name]) for case in cases)] for name in CLASS_NAMES]
    return [
        "",
        "Each class's test accuracy (its recall: the share of its test images given its "
        "label), mean ± std over seeds:",
        "",
        *table("class | " + " | ".join(f"case {case}" for case in cases), rows),
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
        f"{plural(settings['epochs'], 'epoch')}, batch {settings['batch_size']}, {rates}; "
        f"seeds {settings['seeds']}. Test accuracy, read once per run after training:",
        "",
    ]
    rows = []
    for case, entry in by_case(transfer):
        per_run = ", ".join(f"{a:.2%}" for a in case_accuracies(transfer, case))
        rows.append([case, entry["label"], spread(entry["test_accuracy"]), per_run])
    out += table("case | encoder | test accuracy (mean ± std) | per run", rows)
    if baseline:
        out += baseline_lines(baseline, transfer)
    if recall:
        out += recall_lines(recall)
    figures = transfer["figures"]
    out += ["", f"![curves]({figures['curves']})", "", f"![confusion]({figures['confusion']})", ""]
    pairs = []
    for case, entry in by_case(transfer):
        matrix = entry["confusion_matrix_all_seeds"]
        true, predicted, count = transfer_claims.most_confused_pair(matrix)
        pairs.append(f"case {case}: {true} taken for {predicted} ({count} times)")
    out += ["Most frequent confusion, all seeds summed: " + "; ".join(pairs) + ".", ""]
    if models := transfer.get("models"):
        out += ["Saved classifiers: " + ", ".join(f"`{m}`" for m in models.values()) + ".", ""]
    return out


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def count_text(labels: str) -> str:
    return "all" if labels == "all" else f"{int(labels):,}"


def labels_section(efficiency: dict, comparisons: list[dict]) -> list[str]:
    settings, summary = efficiency["settings"], efficiency["test_accuracy"]
    counts = settings["labels"]
    repeats = ", ".join(f"{n}x {c}" for c, n in efficiency["repeats_per_epoch"].items())
    out = [
        "## Label efficiency",
        "",
        f"Each case trained on a stratified sample of that many labelled training images "
        f"(a new sample per seed, the same for every case; seeds {settings['seeds']}), the "
        f"encoder pretrained on all of them without labels, {plural(settings['epochs'], 'epoch')}. "
        f"Few-label runs: {settings['few_label_runs']} ({repeats})"
        + ('; "all" is the ordinary run above, for these seeds' if "all" in counts else "")
        + ". Test accuracy, mean ± std:",
        "",
    ]
    rows = [[count, *(spread(summary[case][str(count)]) for case in summary)] for count in counts]
    out += table("labels | " + " | ".join(f"case {case}" for case in summary), rows) + [""]
    if comparisons:
        out += [
            "Paired by seed, the difference in test accuracy (points) with its 95% interval, "
            "its t test's p-value and its Holm-adjusted p-value over this table's "
            f"{len(comparisons)} comparisons (one family), and which case is ahead where the "
            "adjusted p < 0.05:",
            "",
        ]
        cells = {(tuple(c["pair"]), c["labels"]): c for c in comparisons}
        rows = []
        for a, b in sorted({pair for pair, _ in cells}):
            found = [cells[(a, b), count] for count in counts]
            rows.append([f"case {a} - case {b}", *(compared(c) for c in found)])
        out += table("pair | " + " | ".join(map(str, counts)), rows) + [""]
    return out + [f"![label efficiency]({efficiency['figure']})", ""]


def compared(comparison: dict) -> str:
    """A comparison's interval, p-values and outcome, as a table's cell."""
    return f"{interval(comparison)}; {p_values(comparison)}: {comparison['outcome']}"


def version_key(version: str) -> tuple:
    """ "0.10.0" after "0.9.0": versions compared by their numbers."""
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def taken_seconds(runs: list[dict] | None) -> float | None:
    """The runs' own training seconds, summed (as the prediction prices them)."""
    return None if runs is None else sum(run["seconds"] for run in runs)


def clock_seconds(runs: list[dict] | None) -> float | None:
    """The wall-clock time in which at least one of the runs was training, each run from its
    end back by its own seconds: runs side by side in workers count once, and the pauses of a
    run stopped and resumed not at all; None where a run does not say when it ended. (Seeds
    trained together in one program, JAX on an accelerator, each record a share of its time
    and end together: the program's span counts once, shorter than it took.)"""
    if not runs or not all(run.get("ended") for run in runs):
        return None
    spans = sorted(
        (end - run["seconds"], end)
        for run in runs
        for end in [datetime.fromisoformat(run["ended"]).timestamp()]
    )
    total, reached = 0.0, float("-inf")
    for start, end in spans:
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


def last_plan(prediction: dict) -> dict:
    """A study's `prediction.json` as its plan was last amended (itself where never)."""
    return (prediction.get("amended") or [prediction])[-1]


def time_section(prediction: dict, runs: list) -> list[str]:
    """A study's training time per stage as predicted before it started (`prediction.json`;
    where its plan was amended since, as predicted for the last plan, the first prediction
    named) beside the time its runs took (`runs`: each stage's run records of the last plan,
    None where not done)."""
    first, prediction = prediction, last_plan(prediction)
    taken = [taken_seconds(done) for done in runs]
    clocks = [clock_seconds(done) for done in runs]
    rows = []
    for stage, seconds, clock in zip(prediction["stages"], taken, clocks, strict=True):
        predicted = stage["predicted_seconds"]
        ratio = f"{seconds / predicted:.2f}" if seconds and predicted else "-"
        times = [hours(predicted), hours(seconds), ratio, hours(clock)]
        rows.append([stage["what"], f"{stage['units']:,}", *times])
    total, total_clock = sum(s or 0 for s in taken), sum(c or 0 for c in clocks)  # those done
    rows.append(
        ["all", "", hours(prediction["predicted_seconds"]), hours(total), "", hours(total_clock)]
    )
    made, when = prediction["provenance"], "before it trained"
    if first.get("amended"):  # the first plan's stages whose units the amendment changed
        units = {stage["what"]: stage["units"] for stage in prediction["stages"]}
        changed = "; ".join(
            f"{stage['what']}: {stage['units']:,} units"
            for stage in first["stages"]
            if units.get(stage["what"]) != stage["units"]
        )
        when = (
            f"when it resumed on {made['date'][:10]} with its plan amended (its first plan, "
            f"predicted on {first['provenance']['date'][:10]}: "
            f"{hours(first['predicted_seconds'])} in all; {changed})"
        )
    out = [
        "## Training time: predicted and taken",
        "",
        f"Predicted by `{made['command']}` {when}, from measured costs:",
        "",
        *(f"- {module}: {text}" for module, text in prediction["costs"].items()),
        "",
        "Predicted and taken are sums of the runs' own seconds; on the clock is the wall-clock "
        "time in which at least one of a stage's runs was training (runs side by side in workers "
        "counted once, a stopped run's pause not at all).",
        "",
    ]
    header = "stage | units | predicted | taken | taken / predicted | on the clock"
    return out + table(header, rows) + [""]


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
        listed = "; ".join(sorted(machines))
        out.append(f"- **The runs here were made on different machines or backends**: {listed}.")
    if len(versions_of_runs) > 1:  # a long run resumed across versions says which made what
        listed = " and ".join(sorted(versions_of_runs, key=version_key))
        out.append(
            f"- The training runs recorded here were made by kfashion {listed}; each run's record "
            "names its version."
        )
    return out + [""]
