"""The committed reference run (results/reference/): its findings, report and README blocks are
what its JSON gives, its defaults were chosen on validation, and its classifiers give the
accuracy it reports in a process that never imports kfashion."""

import hashlib
import importlib.util
import itertools
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import compile_settings, differences, docs_render, predict_elsewhere

from kfashion import config, data, report
from kfashion.analysis import findings, tables
from kfashion.core import layout
from kfashion.finetuning import grid
from kfashion.rendering import model_card

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"
pytestmark = pytest.mark.skipif(
    not (REFERENCE / "grid.json").exists(), reason="no reference run committed yet"
)


def committed(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def classic() -> dict:
    """The grid's four classic cases on all labels, whose classifiers are committed."""
    return committed("grid.json")["classic"]


def test_committed_findings_are_what_the_json_gives():
    judged = json.loads(json.dumps(findings.judge(REFERENCE)))
    assert differences(committed("findings.json"), judged) == []  # to the last bits of a fit


def test_grid_json_records_the_choice_rule_in_its_own_words_not_a_docstrings():
    settings = committed("grid.json")["settings"]
    if "choice" in settings:  # a crossed grid; one made before says its own search's rule
        assert settings["choice"] == grid.CHOICE_RULE
    else:
        assert settings["search"].startswith("Every cell's learning rate is chosen on validation")
    assert "Every run's recipe and learning rate" not in grid.__doc__  # an edit changes no file


def test_committed_report_is_what_the_json_renders():
    # results/reference/README.md is generated: a hand edit, or JSON changed without
    # re-rendering, fails here
    assert (REFERENCE / "README.md").read_text() == report.render(REFERENCE)


def test_the_reference_report_is_the_same_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no results/reference here: the folder itself says what it is
    assert (REFERENCE / "README.md").read_text() == report.render(REFERENCE)


def test_the_markdown_blocks_are_what_the_json_renders():
    render = docs_render()
    every = ""
    for document in render.DOCUMENTS:
        text = (ROOT / document).read_text()
        assert render.rendered(text, REFERENCE, render.link_from(document)) == text, document
        every += text
    for start, end in render.MARKERS:  # each block once, and none left empty
        assert every.count(start) == 1, start
        assert every.split(start)[1].split(end)[0].strip(), start


def test_no_number_is_typed_by_hand_outside_the_rendered_blocks():
    render = docs_render()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        for start, end in render.MARKERS:
            if start in text:
                text = text.split(start)[0] + text.split(end)[1]
        # percentages, times, speed-ups and images/s belong in the rendered blocks
        typed = re.findall(
            r"\d+(?:\.\d+)?\s?(?:%|s\b|x\b|images/s|min\b|minutes?\b|h\b|hours?\b)", text
        )
        assert [t for t in typed if t != "95%"] == [], (page.name, typed)  # 95%: a setting


def test_defaults_are_what_the_reference_was_made_with():
    settings = classic()["settings"]
    assert (settings["epochs"], settings["batch_size"]) == (
        config.TRANSFER_EPOCHS,
        config.TRANSFER_BATCH_SIZE,
    )
    if "choices" in committed("grid.json"):  # a crossed grid: each count's planned draws
        assert len(settings["seeds"]) == config.REFERENCE_DRAWS["all"]
    sweep = committed("sweep.json")["settings"]
    assert (sweep["epochs"], len(sweep["seeds"])) == (config.SWEEP_EPOCHS, config.SWEEP_SEEDS)


def test_committed_encoders_are_the_ones_the_grid_started_from():
    # each pretraining seed's encoder the grid records by its SHA-256 is committed, unchanged,
    # where the run made it (in results/next/, then moved whole into results/reference/)
    encoders = committed("grid.json")["settings"]["encoders"]
    pretexts = config.REFERENCE["pretexts"].split(",")
    assert set(encoders) == {"course", *(f"course_{name}" for name in pretexts)}
    for name, seeds in encoders.items():
        assert len(seeds) >= 3, name  # the grid issue's bar: at least 3 pretraining seeds
        for seed, entry in seeds.items():
            path = REFERENCE / Path(entry["file"]).relative_to(config.NEXT_RESULTS)
            assert path == layout.encoder_seed(path.parent, int(seed)), name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], path


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
    runs = classic()["runs"]
    seed = classic()["settings"]["seeds"][0]  # the saved classifiers' seed
    reported = {
        str(REFERENCE / "models" / f"classifier_case{r['case']}.keras"): r["test_accuracy"]
        for r in runs
        if r["seed"] == seed and r.get("init", 0) == 0  # a random case's first initialisation
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


def test_committed_model_cards_are_what_the_json_renders():
    # models/README.md is generated by `python -m kfashion.report`: never edited by hand
    pretexts = [path.parent for path in report.pretext_sweeps(REFERENCE)]
    for folder in (REFERENCE, REFERENCE / layout.ARCHITECTURE, *pretexts):
        assert (folder / "models" / "README.md").read_text() == model_card.render(folder)


def test_the_model_card_has_its_metadata_and_one_entry_per_distinct_model():
    card = (REFERENCE / "models" / "README.md").read_text()
    header = card.split("---\n")[1]
    assert "library_name: keras" in header and "license: mit" in header
    assert "metrics: [{type: accuracy, value: 0.9063}]" in header  # case 1, its seed 0
    assert "| 9 | Ankle boot |" in card and "output logits" in card
    assert "## `encoder.keras` = `encoder_seed0.keras`" in card  # the same weights twice
    assert card.count("## `encoder_seed0.keras`") == 0
    for path in sorted((REFERENCE / "models").glob("*.keras")):
        model = keras.saving.load_model(path, compile=False)
        assert f"; {model.count_params():,} parameters." in card, path.name
        assert f"`{path.name}`: `{hashlib.sha256(path.read_bytes()).hexdigest()}`" in card


def test_the_constraints_pin_the_versions_the_reference_run_records():
    lines = (REFERENCE / "constraints.txt").read_text().splitlines()
    pinned = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    names = {"sklearn": "scikit-learn", "keras_tuner": "keras-tuner"}
    for stage in ("sweep.json", "grid.json"):
        versions = json.loads((REFERENCE / stage).read_text())["provenance"]["versions"]
        for package, version in versions.items():
            if package not in ("python", "kfashion"):
                assert pinned[names.get(package, package)] == version, (stage, package)


def test_committed_tables_are_what_the_json_renders():
    present = [entry for entry in tables.TABLES if (REFERENCE / entry[0]).exists()]
    assert len(present) >= 4  # sweep, its history, the grid, its answer
    for source, table, rows in present:
        rendered = tables.csv_text(rows(json.loads((REFERENCE / source).read_text())))
        assert (REFERENCE / table).read_text() == rendered


def test_committed_models_carry_compile_settings_every_backend_takes():
    # PyTorch's backend refuses to predict with a model compiled for several steps a call
    models = sorted(REFERENCE.glob("**/*.keras"))
    assert len(models) == 36
    for path in models:
        assert compile_settings(path).get("steps_per_execution", 1) == 1, path


def test_committed_models_predict_alike_on_every_backend(tmp_path, debian_data_dir):
    # each committed model loads without kfashion on each backend installed and gives the same
    # predictions on real test images (the decoder on the encoder's codes of them)
    pytest.importorskip("jax")
    backends = ["tensorflow", "jax"] + (["torch"] if importlib.util.find_spec("torch") else [])
    models = sorted((REFERENCE / "models").glob("*.keras"))
    images = data.load_raw(debian_data_dir).test_images[:200, ..., None] / np.float32(255)
    encoder = keras.saving.load_model(REFERENCE / "models" / "encoder.keras")
    codes = encoder.predict(images, verbose=0)
    inputs = [codes if path.name == "decoder.keras" else images for path in models]
    outputs = {}
    for backend in backends:  # one fresh process each
        folder = tmp_path / backend
        folder.mkdir()
        predicted = predict_elsewhere(models, inputs, folder, {"KERAS_BACKEND": backend})
        outputs[backend] = dict(zip(models, predicted, strict=True))
    assert len(outputs["jax"]) == len(models) == 10  # 3 exported, 4 classifiers, 3 seeds
    for backend, path in itertools.product(backends[1:], models):
        # relative too: a logit of 25 differs by 1.3e-5 between the backends' float32 sums on
        # some CPUs (5e-7 of it, a few float32 steps), and one of -0.17 by 1.2e-5 (the sum of
        # terms of magnitude 10 that cancel); a wrong model differs by whole units
        np.testing.assert_allclose(
            outputs[backend][path],
            outputs["tensorflow"][path],
            rtol=1e-5,
            atol=1e-4,
            err_msg=f"{backend}: {path.name}",
        )


def test_each_saved_classifier_is_the_one_its_run_record_names():
    # a run's record names the classifier it saved by its SHA-256: a file changed after (its
    # compile settings, say) must be named again, or a resumed grid would train the run again
    named = {}
    for path in (REFERENCE / "transfer" / "runs").glob("*/labels*/case*_seed*.json"):
        record = json.loads(path.read_text())
        if "classifier_sha256" in record:
            named[record["case"]] = record["classifier_sha256"]
    assert sorted(named) == [1, 2, 3, 4]
    for case, digest in named.items():
        saved = REFERENCE / "models" / f"classifier_case{case}.keras"
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest, case


def test_the_headline_says_what_each_case_is_a_mean_over():
    # a random case's mean is over every initialisation of each draw, not over the seeds alone
    runs = classic()["cases"]["3"]["test_accuracy"]["n"]
    seeds = len(classic()["settings"]["seeds"])
    block = (ROOT / "README.md").read_text().split("<!-- results:start -->")[1]
    assert f"over {seeds} seeds" in block
    if runs > seeds:
        assert f"over {runs // seeds} initialisations of each" in block
