"""The committed reference run (results/reference/): its findings, report and README blocks are
what its JSON gives, its defaults were chosen on validation, and its classifiers give the
accuracy it reports in a process that never imports kfashion."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kfashion import findings, report, schedule, transfer, tune

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"
pytestmark = pytest.mark.skipif(
    not (REFERENCE / "transfer.json").exists(), reason="no reference run committed yet"
)


def committed(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def test_committed_findings_are_what_the_json_gives():
    assert committed("findings.json") == json.loads(json.dumps(findings.judge(REFERENCE)))


def test_committed_report_is_what_the_json_renders():
    # results/reference/README.md is generated: a hand edit, or JSON changed without
    # re-rendering, fails here
    assert (REFERENCE / "README.md").read_text() == report.render(REFERENCE)


def test_project_readme_blocks_are_what_the_json_renders():
    text = (ROOT / "README.md").read_text()
    assert report.project_readme(text, REFERENCE, "results/reference") == text
    for start, end in (report.HEADLINE, report.FINDINGS, report.SPEED):
        assert text.split(start)[1].split(end)[0].strip(), start


def test_no_number_is_typed_by_hand_outside_the_rendered_blocks():
    text = (ROOT / "README.md").read_text()
    for start, end in (report.HEADLINE, report.FINDINGS, report.SPEED):
        text = text.split(start)[0] + text.split(end)[1]
    # percentages, seconds, speed-ups and images/s belong in the rendered blocks
    typed = re.findall(r"\d+(?:\.\d+)?\s?(?:%|s\b|x\b|images/s)", text)
    assert [t for t in typed if t != "95%"] == [], typed  # 95%: the intervals' level, a setting


def test_defaults_are_what_validation_chose_and_the_reference_was_made_with():
    chosen = committed("schedule.json")["chosen"]
    assert (transfer.EPOCHS, transfer.LEARNING_RATE, transfer.BATCH_SIZE) == (
        chosen["epochs"],
        chosen["learning_rate"],
        chosen["batch_size"],
    )
    assert committed("schedule.json")["settings"]["candidates"] == [
        list(c) for c in schedule.parse_candidates(schedule.CANDIDATES)
    ]
    settings = committed("transfer.json")["settings"]
    assert (settings["epochs"], settings["learning_rate"]) == (
        chosen["epochs"],
        chosen["learning_rate"],
    )
    sweep = committed("sweep.json")["settings"]
    assert (sweep["epochs"], len(sweep["seeds"])) == (tune.EPOCHS, tune.SEEDS)
    assert len(committed("transfer.json")["settings"]["seeds"]) == transfer.SEEDS


def test_no_folder_of_the_making_machine_is_recorded():
    for path in REFERENCE.rglob("*.json"):
        text = path.read_text()
        assert not re.search(r'"/(?:work|home|root|tmp|usr)/', text), path


EVALUATE = textwrap.dedent(
    """
    import gzip, json, sys
    import keras
    import numpy as np

    folder, models = sys.argv[1], sys.argv[2:]
    def idx(name, offset):
        with gzip.open(f"{folder}/{name}") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    images = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1) / np.float32(255)
    labels = idx("t10k-labels-idx1-ubyte.gz", 8)
    accuracies = {}
    for path in models:
        model = keras.saving.load_model(path)
        predicted = model.predict(images, batch_size=1000, verbose=0).argmax(axis=1)
        accuracies[path] = float((predicted == labels).mean())
    assert not any(name.startswith("kfashion") for name in sys.modules), "kfashion was imported"
    print(json.dumps(accuracies))
    """
)


def test_committed_classifiers_give_the_reported_accuracy(tmp_path, debian_data_dir):
    runs = committed("transfer.json")["runs"]
    seed = committed("transfer.json")["settings"]["seeds"][0]  # the saved classifiers' seed
    reported = {
        str(REFERENCE / "models" / f"classifier_case{r['case']}.keras"): r["test_accuracy"]
        for r in runs
        if r["seed"] == seed
    }
    # an isolated interpreter (-I): neither the checkout nor PYTHON* variables on its path
    output = subprocess.run(
        [sys.executable, "-I", "-c", EVALUATE, str(debian_data_dir), *reported],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    measured = json.loads(output.strip().splitlines()[-1])
    assert set(measured) == set(reported) and len(reported) == 4
    for path, accuracy in reported.items():
        assert measured[path] == pytest.approx(accuracy, abs=1e-9), path
