"""Every file of a results folder and of KerasTuner's working folder, named in one place.

Each stage reads and writes through these names, and `kfashion.study` counts finished work by
them. No framework is imported here.

    RESULTS/                         (`--results`; default results/)
      sweep.json  schedule.json  transfer.json  label_efficiency.json  baseline.json
      latent.json  findings.json  bench.json  README.md (the report)
      sweep.csv  transfer.csv  label_efficiency.csv   one row per seed or run (pandas, etc.)
      figures/NAME.png
      models/{autoencoder,encoder,decoder,classifier_case1..4}.keras, models/README.md
      transfer/runs/case{C}_seed{S}.json            a transfer run on all labels
      transfer/runs/labels{N}/case{C}_seed{S}.json  a run on N labelled images
      schedule/runs/epochs{E}_lr{R}_case{C}_seed{S}.json
      architecture/                  the architecture comparison, a results folder itself
    DIRECTORY/                       (`--directory`; default tuning/)
      sweep/trial_{ID}/seed{S}.json, seed{S}.weights.h5   one sweep seed's record, weights
"""

from pathlib import Path

SWEEP = "sweep.json"
SCHEDULE = "schedule.json"
TRANSFER = "transfer.json"
LABEL_EFFICIENCY = "label_efficiency.json"
BASELINE = "baseline.json"
LATENT = "latent.json"
FINDINGS = "findings.json"
BENCH = "bench.json"
REPORT = "README.md"
SWEEP_TABLE = "sweep.csv"
TRANSFER_TABLE = "transfer.csv"
LABEL_TABLE = "label_efficiency.csv"
ARCHITECTURE = "architecture"  # `tune --factors architecture` and its transfer runs
SETTINGS = "settings.json"  # beside a group of runs: what they were made with
# The command that writes each results file, for the line that says how to make one again.
MADE_BY = {
    SWEEP: "python -m kfashion.tune",
    TRANSFER: "python -m kfashion.transfer",
    SCHEDULE: "python -m kfashion.schedule",
    BASELINE: "python -m kfashion.baseline",
    LABEL_EFFICIENCY: "python -m kfashion.transfer --labels ...",
    LATENT: "python -m kfashion.latent",
    FINDINGS: "python -m kfashion.report",
    BENCH: "python -m kfashion.bench",
}
# ... and in the architecture comparison's folder, which the study makes (`study --reference`)
MADE_BY_ARCHITECTURE = {
    SWEEP: "python -m kfashion.tune --factors architecture --select best "
    f"--directory tuning/{ARCHITECTURE}",
    TRANSFER: "python -m kfashion.transfer --cases 2,4",
}
SWEEP_PROJECT = "sweep"  # KerasTuner's project folder inside --directory
SWEEP_SETTINGS = "kfashion_settings.json"  # inside it: what its trials were made with
MODELS = ("autoencoder", "encoder", "decoder")  # what a sweep exports


def figure(results, name: str) -> Path:
    return Path(results) / "figures" / f"{name}.png"


def model(results, name: str) -> Path:
    return Path(results) / "models" / f"{name}.keras"


def model_card(results) -> Path:
    """What each model of a results folder is (`kfashion.model_card`)."""
    return Path(results) / "models" / REPORT


def classifier(results, case: int) -> Path:
    return model(results, f"classifier_case{case}")


def lock(results, stage: str) -> Path:
    """The lock a running stage holds on its part of the folder."""
    return Path(results) / stage / ".lock"


def transfer_runs(results, labels="all") -> Path:
    """The folder of transfer runs on `labels` labelled images ("all": the ordinary runs)."""
    runs = Path(results) / "transfer" / "runs"
    return runs if labels == "all" else runs / f"labels{labels}"


def transfer_run(results, case: int, seed: int, labels="all") -> Path:
    return transfer_runs(results, labels) / f"case{case}_seed{seed}.json"


def schedule_runs(results) -> Path:
    return Path(results) / "schedule" / "runs"


def schedule_run(results, epochs: int, rate: float, case: int, seed: int) -> Path:
    return schedule_runs(results) / f"epochs{epochs}_lr{rate:g}_case{case}_seed{seed}.json"


def sweep_project(directory) -> Path:
    return Path(directory) / SWEEP_PROJECT


def seed_record(trial_dir, seed: int) -> Path:
    """Where a trial keeps one seed's record (its presence means the seed is done)."""
    return Path(trial_dir) / f"seed{seed}.json"


def seed_weights(trial_dir, seed: int) -> Path:
    """Where a trial keeps one seed's best-epoch weights."""
    return Path(trial_dir) / f"seed{seed}.weights.h5"


# What `study` counts as the finished units of each stage (files that exist once a unit ends).


def finished_sweep_seeds(directory) -> list[Path]:
    return sorted(sweep_project(directory).glob("trial_*/seed*.json"))


def finished_transfer_runs(results) -> list[Path]:
    return sorted(transfer_runs(results).glob("case*_seed*.json"))


def finished_label_runs(results) -> list[Path]:
    return sorted(transfer_runs(results).glob("labels*/case*_seed*.json"))


def finished_schedule_runs(results) -> list[Path]:
    return sorted(schedule_runs(results).glob("epochs*_case*_seed*.json"))
