"""The CSV tables beside the JSON: one row per run, the same numbers as the JSON."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kfashion.analysis import tables
from kfashion.config import CASES

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"


def rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def tabled(tmp_path):
    """The committed reference's JSON, and its tables as `kfashion.analysis.tables` renders them."""
    for source, table, render in tables.TABLES:
        if source in ("sweep.json", "grid.json"):
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
    grid = json.loads((tabled / "grid.json").read_text())
    grid_table = rows(tabled / "grid.csv")
    assert len(grid_table) == len(grid["runs"])
    for cell in grid["cells"]:
        seed = "" if cell["encoder_seed"] < 0 else str(cell["encoder_seed"])
        mine = [
            float(r["test_accuracy"])
            for r in grid_table
            if (r["network"], r["case"], r["encoder_seed"])
            == (cell["network"], str(cell["case"]), seed)
            and (r["all_labels"] == "True") == (cell["labels"] == "all")
            and (cell["labels"] == "all" or r["labels"] == cell["labels"])
            and r["recipe"] == cell.get("recipe", r["recipe"])  # a grid of a recipe per cell
        ]
        assert len(mine) == cell["test_accuracy"]["n"]
        assert np.mean(mine) == pytest.approx(cell["test_accuracy"]["mean"])


def of_the_classic_cases(grid: dict, table: list[dict], case: str, view: str) -> list[dict]:
    """The table's rows of one of the grid's classic cases in `view` ("classic" or
    "label_efficiency"): its network, pretraining seed and draws (and its recipe, in a grid made
    before each draw chose its own: a cell per recipe)."""
    settings = grid["classic"]["settings"]
    seeds = grid[view]["settings"]["seeds"]
    seed = str(settings["encoder_seed"]) if CASES[int(case)].pretrained else ""
    recipe = grid["classic"]["cases"][case]["recipe"] if "recipe" in grid["cells"][0] else None
    return [
        r
        for r in table
        if (r["network"], r["case"], r["encoder_seed"]) == (settings["network"], case, seed)
        and int(r["seed"]) in seeds
        and r["recipe"] == (recipe or r["recipe"])
    ]


def test_the_classic_cases_and_the_label_efficiency_are_the_grid_tables_rows(tabled):
    grid = json.loads((tabled / "grid.json").read_text())
    grid_table = rows(tabled / "grid.csv")
    for case, summary in grid["classic"]["cases"].items():
        mine = of_the_classic_cases(grid, grid_table, case, "classic")
        accuracy = [float(r["test_accuracy"]) for r in mine if r["all_labels"] == "True"]
        assert len(accuracy) == summary["test_accuracy"]["n"]
        assert np.mean(accuracy) == pytest.approx(summary["test_accuracy"]["mean"])
    for case, by_count in grid["label_efficiency"]["test_accuracy"].items():
        for count, cell in by_count.items():
            every = str(count == "all")
            per_seed = {}  # a random case's initialisations of a draw: their mean
            for r in of_the_classic_cases(grid, grid_table, case, "label_efficiency"):
                if r["all_labels"] == every and (count == "all" or r["labels"] == str(count)):
                    per_seed.setdefault(int(r["seed"]), []).append(float(r["test_accuracy"]))
            values = [np.mean(per_seed[seed]) for seed in sorted(per_seed)]
            assert values == pytest.approx(cell["per_seed"])


KEYS = {  # each table's columns that name one row
    "sweep.csv": ["trial_id", "seed"],
    "history.csv": ["trial_id", "seed", "epoch", "measure"],
    "grid.csv": ["network", "labels", "case", "recipe", "encoder_seed", "seed", "init"],
    "answer.csv": ["network", "labels", "recipe", "random_case"],  # case 3 or the control
    "findings.csv": ["claim", "comparison"],
}


def test_every_table_loads_with_pandas_in_one_vocabulary():
    pandas = pytest.importorskip("pandas")
    loaded = {name: pandas.read_csv(REFERENCE / name) for name in KEYS}
    for name, table in loaded.items():
        assert len(table) and not table.duplicated(KEYS[name]).any(), name
    grid = loaded["grid.csv"]
    for table in (grid, loaded["answer.csv"]):
        assert table["labels"].dtype == "int64" and table["all_labels"].dtype == "bool"
        assert (table.loc[table["all_labels"], "labels"] == 50_000).all()
    random = grid["encoder"] == "random"
    assert grid.loc[random, "encoder_seed"].isna().all()  # no -1 standing for "none"
    assert (grid.loc[~random, "encoder_seed"] >= 0).all()
    assert set(grid["status"]) == {"completed"} and grid["test_accuracy"].dtype == "float64"
    assert set(loaded["sweep.csv"]["status"]) <= {"completed", "diverged"}
