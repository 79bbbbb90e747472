"""Tables of every run beside the JSON, one row per sweep seed or transfer run, as CSV, so
`pandas.read_csv("results/sweep.csv")` loads the whole sweep in one line. Rendered from the
stages' JSON by `python -m kfashion.report`, like the report itself."""

import csv
import io

from kfashion.config import CASES, FACTORS, setting
from kfashion.core import layout


def csv_text(rows: list[dict]) -> str:
    """`rows` (dicts with the same keys) as CSV with a header."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def sweep_rows(sweep: dict) -> list[dict]:
    """One row per seed of every point: the point's settings, then the seed's outcome."""
    rows = []
    for trial in sweep["trials"]:
        settings = {name: setting(trial["config"], name) for name in FACTORS}
        for run in trial["seeds"]:
            rows.append(
                {
                    "trial_id": trial["trial_id"],
                    "factor": trial["factor"],
                    **settings,
                    "seed": run["seed"],
                    "epochs": len(run["history"].get("loss", [])),
                    "best_epoch": run["best_epoch"],
                    "best_val_loss": run["best_val_loss"],
                    "test_mse": run["test_mse"],
                    "diverged": run["diverged"] or "",
                    "parameters": run["parameters"],
                    "seconds": round(run["seconds"], 2),
                }
            )
    return rows


def _case(case: int) -> dict:
    return {
        "case": case,
        "encoder": "pretrained" if CASES[case].pretrained else "random",
        "encoder_trained": CASES[case].train_encoder,
    }


def transfer_rows(transfer: dict) -> list[dict]:
    """One row per transfer run on all labels: its case and seed, then its scores."""
    return [
        {
            **_case(run["case"]),
            "seed": run["seed"],
            "test_accuracy": run["test_accuracy"],
            "test_loss": run["test_loss"],
            "best_epoch": run["best_epoch"],
            "best_val_accuracy": run["best_val_accuracy"],
            "seconds": round(run["seconds"], 2),
            # what training did to the encoder (blank for runs made before it was recorded)
            "dead_code_units_before": run.get("dead_code_units_before", ""),
            "dead_code_units_after": run.get("dead_code_units_after", ""),
            "encoder_weight_change": run.get("encoder_weight_change", ""),
        }
        for run in transfer["runs"]
    ]


def label_rows(efficiency: dict) -> list[dict]:
    """One row per label-efficiency run: its case, label count and seed, its test accuracy."""
    seeds = efficiency["settings"]["seeds"]
    return [
        {**_case(int(case)), "labels": count, "seed": seed, "test_accuracy": accuracy}
        for case, by_count in efficiency["test_accuracy"].items()
        for count, cell in by_count.items()
        for seed, accuracy in zip(seeds, cell["per_seed"], strict=True)
    ]


def grid_rows(found: dict) -> list[dict]:
    """One row per final run of the grid: its point, its test accuracy and diagnostics."""
    columns = (
        "network", "labels", "case", "recipe", "encoder_seed", "seed", "learning_rate",
        "train_images", "best_epoch", "val_accuracy", "test_accuracy", "test_loss",
        "dead_code_units_before", "dead_code_units_after", "encoder_weight_change", "seconds",
    )  # fmt: skip
    return [{name: run.get(name, "") for name in columns} for run in found["runs"]]


TABLES = (  # (the stage's JSON, its table, the rows)
    (layout.SWEEP, layout.SWEEP_TABLE, sweep_rows),
    (layout.TRANSFER, layout.TRANSFER_TABLE, transfer_rows),
    (layout.LABEL_EFFICIENCY, layout.LABEL_TABLE, label_rows),
    (layout.GRID, layout.GRID_TABLE, grid_rows),
)
