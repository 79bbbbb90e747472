import json

import keras
import pytest
from helpers import refused_here

from kfashion import config, probe
from kfashion.core import layout, models


@pytest.mark.usefixtures("debian_data_dir")
def test_probes_choose_c_inside_each_draws_labels_and_read_the_test_split_once(tmp_path):
    keras.utils.set_random_seed(0)
    encoder = tmp_path / "encoder.keras"
    models.build_encoder(latent_dim=16, dropout=0.0).save(encoder)
    probe.main(["--encoder", str(encoder), "--labels", "40,all", "--seeds", "2", "--subset",
                "600", "--max-iter", "50", "--results", str(tmp_path)])  # fmt: skip
    found = json.loads((tmp_path / layout.PROBE).read_text())
    features = {"pixels", "pca", "course pretrained", "course random"}
    assert {(f["labels"], f["features"]) for f in found["fits"]} == {
        (labels, name) for labels in ("40", "all") for name in features
    }
    for f in found["fits"]:
        scores = {float(c): v for c, v in f["held_out_accuracy"].items()}
        assert set(scores) == set(config.C_GRID) and f["C"] == max(scores, key=scores.get)
    for row in found["summary"]:  # two draws each: a mean and an interval over them
        once = row["labels"] == "all" and row["features"] != "course random"
        assert row["draws"] == (1 if once else 2)  # all labels: one fit of what no draw changes
        if not once:
            assert row["ci95"][0] <= row["test_accuracy"] <= row["ci95"][1]


def test_probe_refuses_a_label_count_its_folds_cannot_hold(tmp_path, capsys):
    message = refused_here(probe.main, ["--labels", "20", "--results", str(tmp_path)], capsys)
    assert "--labels '20'" in message
