"""Tables beside the JSON, as CSV, in one vocabulary: the same column name for the same thing
in every table, label counts as numbers (`all_labels` says where a run had every label), an
empty cell where a run has no value (a random encoder's `encoder_seed`), each run's status and,
where its record has them, its start and end. `pandas.read_csv("results/grid.csv")` loads the
whole grid in one line. Rendered from the stages' JSON by `python -m kfashion.report`, like the
report itself: a row per sweep seed (`sweep.csv`), per epoch of a sweep seed (`history.csv`), per
transfer run (`grid.csv`: the classic cases and the label efficiency are its rows of the first
network and pretraining seed), per comparison of the answer (`answer.csv`) and of the findings
(`findings.csv`)."""

import csv
import datetime
import io

from kfashion import config
from kfashion.config import CASES, train_split_size
from kfashion.core import layout

RUN_COLUMNS = (
    "network", "labels", "all_labels", "case", "encoder", "encoder_trained", "augmented", "recipe",
    "encoder_seed", "seed", "init", "status", "learning_rate", "train_images", "best_epoch",
    "val_accuracy", "test_accuracy", "test_loss", "dead_code_units_before",
    "dead_code_units_after", "encoder_weight_change", "seconds", "started", "ended",
)  # fmt: skip


def csv_text(rows: list[dict]) -> str:
    """`rows` (dicts with the same keys) as CSV with a header."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def times(record: dict) -> dict:
    """When a run started and ended (UTC), where its record says when it ended; else blank."""
    if "ended" not in record:
        return {"started": "", "ended": ""}
    ended = datetime.datetime.fromisoformat(record["ended"])
    started = ended - datetime.timedelta(seconds=round(record["seconds"]))
    return {"started": started.isoformat(), "ended": record["ended"]}


def labels(count, subset) -> dict:
    """A label count as a number: every label of the training split where it is "all"."""
    every = count == "all"
    return {"labels": train_split_size(subset) if every else int(count), "all_labels": every}


def case(number: int) -> dict:
    return {
        "case": number,
        "encoder": "pretrained" if CASES[number].pretrained else "random",
        "encoder_trained": CASES[number].train_encoder,
        "augmented": CASES[number].augmented,
    }


def sweep_rows(sweep: dict) -> list[dict]:
    """One row per seed of every point: the point's settings, then the seed's outcome."""
    rows = []
    pretext = sweep["settings"].get("pretext", config.PRETEXT)  # older sweeps: reconstruction
    for trial in sweep["trials"]:
        every = {**config.implied(pretext), **trial["config"]}
        settings = {name: every[name] for name in config.levels(pretext)}
        for run in trial["seeds"]:
            rows.append(
                {
                    "trial_id": trial["trial_id"],
                    "pretext": pretext,
                    "factor": trial["factor"],
                    **settings,
                    "seed": run["seed"],
                    "status": "diverged" if run["diverged"] else "completed",
                    "diverged": run["diverged"] or "",
                    "epochs": len(run["history"].get("loss", [])),
                    "best_epoch": run["best_epoch"],
                    "best_val_loss": run["best_val_loss"],
                    "test_loss": run.get("test_loss", run["test_mse"]),
                    "test_mse": run["test_mse"],
                    "code_rank": run.get("code_rank"),
                    "probe_accuracy": run.get("probe_accuracy"),
                    "parameters": run["parameters"],
                    "seconds": round(run["seconds"], 2),
                    **times(run),
                }
            )
    return rows


def run_rows(stage: dict) -> list[dict]:
    """One row per final transfer run of a stage's JSON (the grid's, or its four cases')."""
    subset = stage["settings"].get("subset")
    rows = []
    for run in stage["runs"]:
        row = {
            **run,
            **labels(run["labels"], subset),
            **case(run["case"]),
            "encoder_seed": run["encoder_seed"] if run["encoder_seed"] >= 0 else "",
            "init": run.get("init", 0),  # records made before initialisations were counted: 0
            "status": "completed",  # a run's record is written once it has ended
            "seconds": round(run["seconds"], 2),
            **times(run),
        }
        rows.append({name: row.get(name, "") for name in RUN_COLUMNS})
    return rows


def history_rows(sweep: dict) -> list[dict]:
    """One row per epoch and measure of every sweep seed (the grid's records keep no curves)."""
    return [
        {"trial_id": trial["trial_id"], "factor": trial["factor"], "seed": run["seed"],
         "epoch": epoch, "measure": name, "value": value}
        for trial in sweep["trials"]
        for run in trial["seeds"]
        for name, values in run["history"].items()
        for epoch, value in enumerate(values, start=1)
    ]  # fmt: skip


def interval_cells(found: dict) -> dict:
    """A comparison's 95% interval as two cells, empty where it has none."""
    low, high = found.get("ci95") or ("", "")
    return {"ci95_low": low, "ci95_high": high}


def answer_rows(grid: dict) -> list[dict]:
    """One row per comparison of the answer: pretrained minus random, with its verdict."""
    return [
        {
            "network": row["network"],
            **labels(row["labels"], grid["settings"].get("subset")),
            "recipe": row["recipe"],
            "random_case": row["cases"][1],
            "pretraining_seeds": len(row["pretraining_seeds"]),
            "draws": len(row["draws"]),
            "random_initialisations": row["random_initialisations"],
            "pretrained": row["pretrained_mean"],
            "random": row["random_mean"],
            "difference": row["mean_difference"],
            **interval_cells(row),
            "margin": row["margin"],
            "p_difference_holm": row.get("p_difference_holm", ""),
            "p_equivalence_holm": row.get("p_equivalence_holm", ""),
            "verdict": row["verdict"],
            "bound": "" if row["bound"] is None else row["bound"],
        }
        for row in grid["answer"]["rows"]
    ]


def findings_rows(findings: dict) -> list[dict]:
    """One row per comparison of every finding of the reference study, with its verdict."""
    return [
        {
            "claim": found["claim"],
            "comparison": c["name"],
            "mean": c.get("mean", ""),
            **interval_cells(c),
            "p_value": c.get("p_value", ""),
            "p_holm": c.get("p_holm", ""),
            "verdict": c.get("verdict", ""),
            "claim_verdict": found["verdict"],
        }
        for found in findings["claims"]
        for c in found["comparisons"]
    ]


TABLES = (  # (the stage's JSON, its table, the rows)
    (layout.SWEEP, layout.SWEEP_TABLE, sweep_rows),
    (layout.SWEEP, layout.HISTORY_TABLE, history_rows),
    (layout.GRID, layout.GRID_TABLE, run_rows),
    (layout.GRID, layout.ANSWER_TABLE, answer_rows),
    (layout.FINDINGS, layout.FINDINGS_TABLE, findings_rows),
)
