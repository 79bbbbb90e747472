"""The CSV tables beside the JSON: one row per run, the same numbers as the JSON."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kfashion.analysis import tables

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"


def rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def tabled(tmp_path):
    """The committed reference's JSON, and its tables as `kfashion.analysis.tables` renders them."""
    for source, table, render in tables.TABLES:
        if source in ("sweep.json", "transfer.json", "label_efficiency.json"):
            shutil.copy(REFERENCE / source, tmp_path)
            (tmp_path / table).write_text(
                tables.csv_text(render(json.loads((tmp_path / source).read_text())))
            )
    return tmp_path


def test_a_row_per_run_with_the_numbers_of_the_json(tabled):
    sweep = json.loads((tabled / "sweep.json").read_text())
    sweep_table = rows(tabled / "sweep.csv")
    assert len(sweep_table) == sum(len(t["seeds"]) for t in sweep["trials"])
    for trial in sweep["trials"]:
        mine = [r for r in sweep_table if r["trial_id"] == trial["trial_id"]]
        losses = [float(r["best_val_loss"]) for r in mine]
        assert np.mean(losses) == pytest.approx(trial["best_val_loss"])
        assert {r["factor"] for r in mine} == {trial["factor"]}
    transfer = json.loads((tabled / "transfer.json").read_text())
    transfer_table = rows(tabled / "transfer.csv")
    assert len(transfer_table) == len(transfer["runs"])
    for case, summary in transfer["cases"].items():
        mine = [float(r["test_accuracy"]) for r in transfer_table if r["case"] == case]
        assert np.mean(mine) == pytest.approx(summary["test_accuracy"]["mean"])
    efficiency = json.loads((tabled / "label_efficiency.json").read_text())
    label_table = rows(tabled / "label_efficiency.csv")
    for case, by_count in efficiency["test_accuracy"].items():
        for count, cell in by_count.items():
            every = str(count == "all")
            mine = [
                r
                for r in label_table
                if r["case"] == case
                and r["all_labels"] == every
                and (count == "all" or r["labels"] == str(count))
            ]
            assert [float(r["test_accuracy"]) for r in mine] == cell["per_seed"]


KEYS = {  # each table's columns that name one row
    "sweep.csv": ["trial_id", "seed"],
    "history.csv": ["trial_id", "seed", "epoch", "measure"],
    "transfer.csv": ["case", "seed", "init"],
    "label_efficiency.csv": ["case", "labels", "seed"],
    "grid.csv": ["network", "labels", "case", "recipe", "encoder_seed", "seed", "init"],
    "answer.csv": ["network", "labels", "recipe"],
    "findings.csv": ["claim", "comparison"],
}


def test_every_table_loads_with_pandas_in_one_vocabulary():
    pandas = pytest.importorskip("pandas")
    loaded = {name: pandas.read_csv(REFERENCE / name) for name in KEYS}
    for name, table in loaded.items():
        assert len(table) and not table.duplicated(KEYS[name]).any(), name
    grid, transfer = loaded["grid.csv"], loaded["transfer.csv"]
    assert list(transfer.columns) == list(grid.columns)  # the same words for the same runs
    for table in (grid, transfer, loaded["label_efficiency.csv"], loaded["answer.csv"]):
        assert table["labels"].dtype == "int64" and table["all_labels"].dtype == "bool"
        assert (table.loc[table["all_labels"], "labels"] == 50_000).all()
    random = grid["encoder"] == "random"
    assert grid.loc[random, "encoder_seed"].isna().all()  # no -1 standing for "none"
    assert (grid.loc[~random, "encoder_seed"] >= 0).all()
    assert set(grid["status"]) == {"completed"} and grid["test_accuracy"].dtype == "float64"
    assert set(loaded["sweep.csv"]["status"]) <= {"completed", "diverged"}
