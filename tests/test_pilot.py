import json

import numpy as np
from helpers import refused_here

from kfashion import config, pilot
from kfashion.analysis import sizing
from kfashion.core import layout

ENVIRONMENT = {"backend": "tensorflow", "device": "CPU", "machine": "a test machine",
               "versions": {"kfashion": "0"}}  # fmt: skip


def write_pilot(results, spread: float) -> None:
    """A crossed pilot grid of run records at 1,000 labels and all labels: 3 pretraining
    seeds x 4 draws, the random cases from 2 initialisations, accuracies with `spread`."""
    rng = np.random.default_rng(0)
    for labels in ("1000", "all"):
        folder = layout.grid_runs(results, "course", labels)
        folder.mkdir(parents=True)
        settings = {"epochs": 30, "batch_size": 100, "subset": None, "min_steps": 1000}
        (folder / layout.SETTINGS).write_text(json.dumps(settings))
        for case, recipe in ((1, "joint"), (2, "frozen"), (3, "joint"), (4, "frozen")):
            starts = [(k, 0) for k in range(3)] if case in (1, 2) else [(-1, 0), (-1, 1)]
            for encoder_seed, init in starts:
                for draw in range(4):
                    start = "random" if encoder_seed < 0 else f"enc{encoder_seed}"
                    name = f"case{case}_{recipe}_{start}_seed{draw}_init{init}.json"
                    record = {"network": "course", "labels": labels, "case": case,
                              "recipe": recipe, "encoder_seed": encoder_seed, "seed": draw,
                              "init": init, "seconds": 10.0 * case,
                              "test_accuracy": 0.8 + rng.normal(0, spread),
                              "environment": ENVIRONMENT}  # fmt: skip
                    (folder / name).write_text(json.dumps(record))


def test_the_pilot_sizes_each_count_to_its_margin_and_predicts_its_time(tmp_path, capsys):
    write_pilot(tmp_path, spread=0.004)
    pilot.main(["--results", str(tmp_path)])
    found = json.loads((tmp_path / layout.PILOT).read_text())
    assert {r["recipe"] for r in found["rows"]} == {"joint", "frozen"}
    for labels, size in found["sizes"].items():
        assert size["reached"] and size["pretraining_seeds"] == config.SWEEP_SEEDS
        assert max(size["half_widths"].values()) <= size["margin"]
        row = next(r for r in found["rows"] if (r["labels"], r["recipe"]) == (labels, "joint"))
        parts = sizing.components_for(row, config.RANDOM_INITS)
        fewer = sizing.half_width(parts, size["pretraining_seeds"], size["draws"] - 1)
        assert size["draws"] == 2 or fewer > size["margin"]  # the fewest draws that reach it
    assert found["seconds_per_run"]["all"] == {"1": 10.0, "2": 20.0, "3": 30.0, "4": 40.0}
    k, n = found["sizes"]["all"]["pretraining_seeds"], found["sizes"]["all"]["draws"]
    # with all labels: every final run, and each case's candidates once (the default recipe's
    # 2 starting rates)
    expected = n * (10 * k + 20 * k + 30 * 2 + 40 * 2) + 10 * 2 + 20 * 2 + 30 * 2 + 40 * 2
    assert found["predicted_seconds_per_network"]["all"] == expected
    assert "wrote" in capsys.readouterr().out


def test_a_pilot_folder_without_runs_is_refused(tmp_path, capsys):
    message = refused_here(pilot.main, ["--results", str(tmp_path)], capsys)
    assert "no transfer runs there" in message


def test_the_reference_runs_draws_are_the_pilots_rule_for_the_network_and_recipe_it_keeps():
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / config.PILOT_RESULTS / layout.PILOT
    found = json.loads(committed.read_text())
    rows = [r for r in found["rows"] if (r["network"], r["recipe"]) == ("course", "joint")]
    sizes = sizing.sizes(rows, config.SWEEP_SEEDS, config.RANDOM_INITS)
    counts = config.REFERENCE["labels"].split(",")
    assert {count: sizes[count]["draws"] for count in counts} == {
        str(count): draws for count, draws in config.REFERENCE_DRAWS.items()
    }
