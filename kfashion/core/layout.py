"""Every file of a results folder and of KerasTuner's working folder, named in one place.

Each stage reads and writes through these names, and `kfashion.study` counts finished work by
them. No framework is imported here.

    RESULTS/                         (`--results`; default results/)
      sweep.json  baseline.json  probe.json  latent.json  findings.json  bench.json
      README.md (the report)
      sweep.csv  history.csv  grid.csv  answer.csv  findings.csv
                                     tables for pandas (`kfashion.analysis.tables`)
      figures/NAME.png
      models/{autoencoder,encoder,decoder,classifier_case1..4}.keras, models/README.md
      models/encoder_seed{S}.keras  the selected point's encoder of each pretraining seed
      grid.json                      the grid of transfer runs, the answer it gives, and the
                                     classic four cases within it (on all labels, and at
                                     every label count)
      transfer/runs/{NETWORK}/labels{N|all}/   one group of runs, with its settings.json:
        case{C}_{RECIPE}_{enc{E}|random}_seed{S}[_init{I}].json   a final run
        choice_case{C}[_seed{S}].json                   a draw's choice (all labels: one)
        cv_case{C}_{RECIPE}_lr{R}[_seed{S}_fold{F}].json   a candidate's run on a fold
      architecture/                  the architecture comparison, a results folder itself
    DIRECTORY/                       (`--directory`; default tuning/)
      sweep/trial_{ID}/seed{S}.json, seed{S}.keras   one sweep seed's record, best-epoch model
"""

from pathlib import Path

SWEEP = "sweep.json"
GRID = "grid.json"
GRID_TABLE = "grid.csv"
BASELINE = "baseline.json"
PROBE = "probe.json"
PILOT = "pilot.json"  # `kfashion.pilot`: the variance components that sized the reference
PREDICTION = "prediction.json"  # a full-size run's predicted training time, as it starts
LATENT = "latent.json"
FINDINGS = "findings.json"
BENCH = "bench.json"
REPORT = "README.md"
SWEEP_TABLE = "sweep.csv"
HISTORY_TABLE = "history.csv"
ANSWER_TABLE = "answer.csv"
FINDINGS_TABLE = "findings.csv"
ARCHITECTURE = "architecture"  # `tune --factors architecture`: a results folder of its own
PRETEXTS = "pretexts"  # the study's sweep of each other pretext: a folder of its own in here
SETTINGS = "settings.json"  # beside a group of runs: what they were made with
# The command that writes each results file, for the line that says how to make one again.
MADE_BY = {
    SWEEP: "python -m kfashion.tune",
    GRID: "python -m kfashion.transfer",
    BASELINE: "python -m kfashion.baseline",
    LATENT: "python -m kfashion.latent",
    FINDINGS: "python -m kfashion.report",
    BENCH: "python docs/bench.py",
}
# ... and in the architecture comparison's folder, which the study makes (`study --reference`)
MADE_BY_ARCHITECTURE = {
    SWEEP: "python -m kfashion.tune --factors architecture --select best "
    f"--directory tuning/{ARCHITECTURE}",
}
SWEEP_PROJECT = "sweep"  # KerasTuner's project folder inside --directory
GRID_PROJECT = "transfer_grid"  # the grid's, likewise
SWEEP_SETTINGS = "kfashion_settings.json"  # inside it: what its trials were made with


def figure(results, name: str) -> Path:
    return Path(results) / "figures" / f"{name}.png"


def model(results, name: str) -> Path:
    return Path(results) / "models" / f"{name}.keras"


def model_card(results) -> Path:
    """What each model of a results folder is (`kfashion.rendering.model_card`)."""
    return Path(results) / "models" / REPORT


def classifier(results, case: int) -> Path:
    return model(results, f"classifier_case{case}")


def lock(results, stage: str) -> Path:
    """The lock a running stage holds on its part of the folder."""
    return Path(results) / stage / ".lock"


def encoder_seed(models_folder, seed: int) -> Path:
    """The encoder of one pretraining seed of a sweep's selected point."""
    return Path(models_folder) / f"encoder_seed{seed}.keras"


def transfer_runs(results) -> Path:
    """The folder of every transfer run's record, in a folder per group (`grid_runs`)."""
    return Path(results) / "transfer" / "runs"


def grid_runs(results, network: str, labels: str) -> Path:
    """The folder of one group of transfer runs: one network, one label count."""
    return transfer_runs(results) / network / f"labels{labels}"


def grid_run(results, cell, seed: int, init: int = 0) -> Path:
    """One final run's record: `cell` (`grid.Cell`, its recipe chosen) with fine-tuning seed
    `seed`, initialisation `init` (named from the second on)."""
    folder = grid_runs(results, cell.network, cell.labels)
    more = f"_init{init}" if init else ""
    encoder = "random" if cell.encoder_seed < 0 else f"enc{cell.encoder_seed}"
    return folder / f"case{cell.case}_{cell.recipe}_{encoder}_seed{seed}{more}.json"


def _draw(cell) -> str:
    return "" if cell.draw is None else f"_seed{cell.draw}"


def choice(results, cell) -> Path:
    """The record of the recipe and rate a choice cell chose for its draw (or for every draw,
    with all labels), which the final cells of that draw take."""
    folder = grid_runs(results, cell.network, cell.labels)
    return folder / f"choice_case{cell.case}{_draw(cell)}.json"


def fold_run(results, cell, recipe: str, rate: float, fold: int) -> Path:
    """The record of one candidate's run on one fold of a choice cell."""
    folder = grid_runs(results, cell.network, cell.labels)
    name = f"cv_case{cell.case}_{recipe}_lr{rate:g}{_draw(cell)}"
    return folder / (name + ("" if cell.draw is None else f"_fold{fold}") + ".json")


def sweep_project(directory) -> Path:
    return Path(directory) / SWEEP_PROJECT


def seed_record(trial_dir, seed: int) -> Path:
    """Where a trial keeps one seed's record (its presence means the seed is done)."""
    return Path(trial_dir) / f"seed{seed}.json"


def seed_model(trial_dir, seed: int) -> Path:
    """Where a trial keeps one seed's model with its best epoch's weights."""
    return Path(trial_dir) / f"seed{seed}.keras"


# What `study` counts as the finished units of each stage (files that exist once a unit ends).


def finished_sweep_seeds(directory) -> list[Path]:
    return sorted(sweep_project(directory).glob("trial_*/seed*.json"))


def finished_transfer_runs(results, groups=None) -> list[Path]:
    """Every finished run of the grid, the choices' runs on their folds included; of `groups`
    (network, label count) only, where given: not those another grid left in the folder."""
    runs = [*final_transfer_runs(results), *transfer_runs(results).glob("*/labels*/cv_*.json")]
    if groups is not None:
        folders = {grid_runs(results, network, labels) for network, labels in groups}
        runs = [path for path in runs if path.parent in folders]
    return sorted(runs)


def final_transfer_runs(results) -> list[Path]:
    """Every final run's record of the grid (not the runs that made its choices)."""
    return sorted(transfer_runs(results).glob("*/labels*/case*_seed*.json"))
