"""The README and docs/ as a newcomer meets them: every command they show, run in a fresh clone
of the checkout at small sizes, in the order of PAGES; then what they wrote, and that no committed
file changed. The runs are made once (a session fixture) and checked by several tests. The
quick look and the bench need nothing the other commands make: they run in a clone of their
own (tests/test_readme_quick.py), so that the two chains share the two test processes."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import FINAL, assert_picture, docs_render, predict_elsewhere

from kfashion import config, data, study
from kfashion.finetuning import grid

RECIPES = ("joint", "two_phase")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The pages whose commands run, in the order a reader meets them (the README links the others).
PAGES = (README, ROOT / "docs" / "stages.md", ROOT / "docs" / "speed.md")
# Commands the pages show that this test does not run, each with the reason.
NOT_RUN = {
    "python -m kfashion.study --reference": "remakes the committed reference run (hours)",
    "python -m kfashion.tune --directory /shared/tuning": "needs a chief and worker machines",
    "python -m kfashion.pilot --results results/pilot": "rewrites the committed pilot's "
    "pilot.json (tests/test_pilot.py runs it on a pilot of its own)",
}
COMMAND = r"python (-m kfashion\.|docs/\w+\.py)"  # a command the pages show, as it starts
# Run by tests/test_readme_quick.py, in a clone of their own.
SEPARATE = ("python -m kfashion.study --quick", "python docs/bench.py")
TINY = ["--subset", "600", "--epochs", "1", "--seeds", "1"]
# Appended to each command (argparse keeps an option's last value): small sizes, same meaning.
SMALL = {
    "study": TINY,
    "tune": TINY,
    "transfer": TINY,
    "baseline": ["--subset", "600"],
    "probe": ["--subset", "600", "--seeds", "1", "--max-iter", "50"],
    "latent": ["--subset", "600", "--tsne-images", "50"],
    "bench": [*TINY[:4], "--repeats", "1", "--min-steps", "10", "--skip-study"],
}
# The quick study, smaller still, in its own folder (its own seeds: one a sweep point, two a
# transfer case, so its transfer findings have intervals), with a pretext task, so that its
# report's pretext sections render from a study's grid; in one process (the study above runs
# its searches over two workers)
QUICK = ["--subset", "300", "--epochs", "1", "--pretexts", "denoising", "--workers", "1"]
# The label counts the study's grid ran on this split, at its minimum steps: the pages'
# `transfer --labels ...` finds every run made already (a new label count is trained in
# tests/test_transfer.py)
LABELS = ["--labels", "100,all", "--min-steps", str(study.min_steps(int(TINY[3])))]


def shown_text() -> str:
    """The pages' text, one after another."""
    return "\n".join(page.read_text() for page in PAGES)


def readme_commands(text: str) -> list[str]:
    """Every `python -m kfashion.X ...` and `python docs/X.py ...` the text shows (in code
    blocks and inline), in the order they appear, each once; not those quoted inside the blocks
    rendered from results, which say which commands made those results."""
    for start, end in docs_render().MARKERS:
        if start in text:
            before, rest = text.split(start, 1)
            text = before + " " * len(start + rest.split(end, 1)[0]) + rest.split(end, 1)[1]
    found = []  # (position in the README, command)
    for block in re.finditer(r"```bash\n(.*?)```", text, re.S):
        for line in block[1].replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                if command := re.search(COMMAND, part):
                    found.append((block.start(), part[command.start() :].split("#")[0]))
    masked = re.sub(r"```.*?```", lambda block: " " * len(block[0]), text, flags=re.S)
    for span in re.finditer(r"`([^`]+)`", masked):
        if re.match(COMMAND, span[1]):
            found.append((span.start(), span[1]))
    commands = [" ".join(command.split()) for _, command in sorted(found, key=lambda f: f[0])]
    return list(dict.fromkeys(commands))


def small(command: str) -> list[str]:
    """The command's arguments (after `python`), with small sizes appended."""
    words = command.split()
    module = Path(words[1]).stem if words[1].endswith(".py") else words[2].removeprefix("kfashion.")
    extra = list(QUICK if module == "study" and "--quick" in words else SMALL.get(module, []))
    if "--labels" in words:  # the probe takes no minimum steps: it trains no network
        extra += LABELS if module == "transfer" else LABELS[:2]
    if module in ("tune", "transfer"):  # tiny searches: workers would only start and stop
        extra += ["--workers", "1"]
    return [*words[1:], *extra]


def fresh_clone(target: Path) -> Path:
    """A git repository holding the checkout's files as they are now (tracked, and untracked
    but not ignored), as a fresh clone of this checkout's main would."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run([*git, *command], cwd=target, check=True)
    return target


def run_in_fresh_clone(commands: list[str], folder) -> dict:
    """`commands`, each at small sizes, in a fresh clone made in `folder`, in order, up to the
    first that fails: {"path", "runs": [(command, exit code, output)]}."""
    path = fresh_clone(folder)
    runs, seconds = [], {}
    for command in commands:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *small(command)],
            cwd=path,
            text=True,
            capture_output=True,
            timeout=900,
        )
        runs.append((command, done.returncode, done.stdout + done.stderr))
        seconds[command] = round(time.perf_counter() - start, 1)
        if done.returncode != 0:
            break  # the rest may depend on it; the tests show its output
    # each command's seconds beside the clone (not in it: git status stays clean), to profile
    # the suite
    path.with_suffix(".seconds.json").write_text(json.dumps(seconds, indent=1))
    return {"path": path, "runs": runs}


def shown(separate: bool) -> list[str]:
    """The README's commands a test runs: those of the clone of its own (`separate`), or the
    others."""
    return [
        command
        for command in readme_commands(shown_text())
        if command not in NOT_RUN and (command in SEPARATE) == separate
    ]


def assert_every_command_ran_and_nothing_committed_changed(clone, separate: bool) -> None:
    for command, code, output in clone["runs"]:
        assert code == 0, f"{command}\n{output[-3000:]}"
    assert [command for command, _, _ in clone["runs"]] == shown(separate)
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=clone["path"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout
    assert status == "", status  # nothing committed changed, nothing unignored appeared


@pytest.fixture(scope="session")
def clone(tmp_path_factory, debian_data_dir):
    """A fresh clone in which every README command but the SEPARATE ones has run: {"path",
    "runs": [(command, exit code, output)], "snippet": output of the README's Python example}."""
    found = run_in_fresh_clone(shown(separate=False), tmp_path_factory.mktemp("clone"))
    snippet = re.search(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    found["snippet"] = subprocess.run(
        [sys.executable, "-I", "-c", snippet],
        cwd=found["path"],
        text=True,
        capture_output=True,
        timeout=300,
    )
    return found


@pytest.fixture(scope="module")
def subset(debian_data_dir):
    """The data the README's commands ran on here (`--subset 600`)."""
    return data.load(subset=600)


@pytest.fixture(scope="module")
def elsewhere(clone, subset, tmp_path_factory) -> dict:
    """The exported autoencoder's and the four classifiers' outputs on the subset's test images,
    all loaded in one fresh Python that never imports kfashion: {file name: outputs}."""
    models = clone["path"] / "results" / "models"
    names = ["autoencoder.keras", *(f"classifier_case{case}.keras" for case in (1, 2, 3, 4))]
    outputs = predict_elsewhere(
        [models / name for name in names], subset.x_test, tmp_path_factory.mktemp("elsewhere")
    )
    return dict(zip(names, outputs, strict=True))


def results(clone, name: str, folder: str = "results") -> dict:
    return json.loads((clone["path"] / folder / name).read_text())


def test_the_pages_show_the_commands_this_test_skips_or_runs_apart():
    commands = readme_commands(shown_text())
    assert set(NOT_RUN) <= set(commands) and set(SEPARATE) <= set(commands)
    assert commands[:2] == ["python -m kfashion.study --quick", "python -m kfashion.study"]
    assert shown(separate=False)[0] == "python -m kfashion.study"  # the clone's first run


def test_every_page_of_docs_is_one_whose_commands_run():
    assert set((ROOT / "docs").glob("*.md")) == set(PAGES[1:])


def test_every_readme_command_runs_and_no_committed_file_changes(clone):
    assert_every_command_ran_and_nothing_committed_changed(clone, separate=False)
    assert clone["snippet"].returncode == 0, clone["snippet"].stderr[-3000:]


def test_the_study_says_what_runs_how_far_along_and_the_time_left(clone):
    output = clone["runs"][0][2]
    lines = [line for line in output.splitlines() if line.startswith("[study ")]
    assert [line.split("]")[0] for line in lines[::2]] == [f"[study {i}/5" for i in range(1, 6)]
    assert "0 of 14 seeds done" in lines[1] and "timed once the first of each ends" in lines[1]
    # per label count (100 and all), one draw: the choices of each case (the joint or frozen
    # recipe's 2 starting rates), on 3 folds at 100 labels, then 6 final runs (a random case:
    # 2 initialisations)
    assert "0 of 44 runs done" in lines[3] and "time left:" in lines[3]


def test_the_studys_grid_runs_every_run_once_over_its_two_workers(clone):
    output = clone["runs"][0][2]
    grid_stage = output.split("[study 3/5]")[0].split("[study 2/5]", 1)[1]
    assert "starting 2 workers" in grid_stage  # the study's own default
    lines = grid_stage.splitlines()
    trained = [line for line in lines if FINAL.search(line) or "(choice, fold" in line]
    assert trained and all(re.match(r"\[tuner[01]\] ", line) for line in trained)
    # which run each line reports: the line without its worker, accuracy and seconds
    runs = [
        re.sub(r"^\[tuner\d\] | [a-z-]+ accuracy [\d.]+| \(\d+ s\)$", "", line) for line in trained
    ]
    assert len(set(runs)) == len(runs)  # none twice, the choices' runs on their folds included
    finals = [FINAL.search(line) for line in trained if ", all labels, " in line]
    at_all = sorted((int(c), int(s), int(i or 0)) for c, s, i in (m.groups() for m in finals if m))
    kept = results(clone, "grid.json")["classic"]["runs"]  # the four cases with all labels
    assert at_all == sorted((r["case"], r["seed"], r["init"]) for r in kept)


def test_sweep_records_every_seed_and_exports_the_reference_choice(clone, subset, elsewhere):
    sweep = results(clone, "sweep.json")
    assert len(sweep["trials"]) == 14 and sweep["settings"]["seeds"] == [0]
    for trial in sweep["trials"]:
        assert trial["status"] == "COMPLETED" and [r["seed"] for r in trial["seeds"]] == [0]
        for run in trial["seeds"]:
            assert len(run["history"]["val_loss"]) == 1 and run["best_epoch"] == 1
            assert 0 < run["test_mse"] < 0.3 and run["environment"]["backend"] == "tensorflow"
        means = np.mean([r["best_val_loss"] for r in trial["seeds"]])
        assert trial["best_val_loss"] == pytest.approx(means)
    selected = sweep["selected"]
    assert selected["config"] == config.REFERENCE_CHOICE and selected["seed"] == 0
    for factor in config.REFERENCE_FACTORS:  # a line of its own colour for each value
        figure = clone["path"] / "results" / "figures" / f"sweep_{factor}.png"
        assert_picture(figure, colours=len(config.FACTORS[factor]))
    assert sweep["figures"]["main_effects"] == "figures/sweep_main_effects.png"
    assert_picture(clone["path"] / "results" / sweep["figures"]["main_effects"], colours=3)
    assert "/" not in json.dumps(sweep["provenance"]["data"])  # no folder of this machine
    # the exported autoencoder is the selected point's seed 0, with its recorded test MSE
    mse = float(np.mean((elsewhere["autoencoder.keras"] - subset.x_test) ** 2))
    assert mse == pytest.approx(selected["test_mse"], rel=1e-4)


def test_transfer_cases_load_elsewhere_and_give_their_recorded_accuracy(clone, subset, elsewhere):
    transfer = results(clone, "grid.json")["classic"]
    assert {r["case"] for r in transfer["runs"]} == {1, 2, 3, 4}
    assert transfer["settings"]["encoder"] == "results/models/encoder_seed0.keras"
    for case in (1, 2, 3, 4):
        logits = elsewhere[f"classifier_case{case}.keras"]
        recorded = next(r for r in transfer["runs"] if r["case"] == case and r["seed"] == 0)
        accuracy = float((logits.argmax(axis=1) == subset.y_test).mean())
        assert accuracy == pytest.approx(recorded["test_accuracy"], abs=1e-9)


def test_findings_and_report_of_a_one_seed_run(clone):
    one_seed = results(clone, "findings.json")  # 1 seed: no interval, so nothing is resolved
    for found in one_seed["claims"]:
        assert found["verdict"] == "not resolved", found["claim"]
    report = (clone["path"] / "results" / "README.md").read_text()
    assert "## The reference study's findings, checked" in report
    assert "(no interval: one seed)" in report
    assert " 1 epochs" not in report  # a run of one epoch says so in the singular
    if (ROOT / "results" / "reference" / "grid.json").exists():
        assert "## Beside the reference run" in report


def test_a_new_run_tables_say_when_each_run_started_and_ended(clone):
    import csv
    import datetime

    for name in ("sweep.csv", "grid.csv"):
        with open(clone["path"] / "results" / name) as handle:
            rows = list(csv.DictReader(handle))
        assert rows, name
        for row in rows:
            started, ended = (datetime.datetime.fromisoformat(row[k]) for k in ("started", "ended"))
            assert ended.tzinfo is not None and 0 <= (ended - started).total_seconds() < 3600


def test_label_efficiency_architecture_and_latent_outputs(clone):
    efficiency = results(clone, "grid.json")["label_efficiency"]
    assert efficiency["settings"]["labels"] == [100, "all"]
    assert efficiency["test_accuracy"]["1"]["100"]["n"] == 1
    outputs = {command: output for command, _, output in clone["runs"]}
    again = outputs["python -m kfashion.transfer --labels 100,1000,10000,all"]
    assert "test accuracy" not in again and "(choice" not in again  # the study's runs, kept
    variant = results(clone, "sweep.json", "results/architecture")
    networks = [config.network(t["config"]) for t in variant["trials"]]
    assert networks == ["course", "course", "linear_code"]
    found = results(clone, "grid.json")  # the whole grid: both networks, both recipes
    assert found["settings"]["networks"] == ["course", "linear_code"]
    assert {r["recipe"] for r in found["runs"] if r["case"] == 1} <= set(RECIPES)
    for row in found["answer"]["rows"]:  # one seed and one draw: a difference, no interval
        assert row["ci95"] is None and row["verdict"] == "not resolved (no interval)"
    assert found["answer"]["sentence"].startswith("Not resolved here: no comparison has an")
    for choice in found["choices"]:  # chosen by held-out accuracy alone
        means = {(c["recipe"], c["learning_rate"]): c["mean"] for c in choice["candidates"]}
        assert (choice["recipe"], choice["learning_rate"]) == grid.best_candidate(means)
    taken = {(c["network"], c["labels"], c["case"], c["draw"]): c for c in found["choices"]}
    for r in found["runs"]:  # each run with its draw's choice
        choice = taken[
            r["network"], r["labels"], r["case"], None if r["labels"] == "all" else r["seed"]
        ]
        assert (r["recipe"], r["learning_rate"]) == (choice["recipe"], choice["learning_rate"])
    assert_picture(clone["path"] / "results" / found["figure"], colours=12)
    latent = results(clone, "latent.json")
    assert len(latent["encoders"]) == 2
