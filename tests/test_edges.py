"""Faults a user can cause or meet at the edges: too many workers, a missing backend, a results
file cut short or from another version, a full disk, a bad flag. Each ends in one stderr line
and exit code 2, and nothing saved is lost."""

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import refused, run_light, run_module

from kfashion import config
from kfashion.core import files, quiet_keras
from kfashion.core.errors import UserError
from kfashion.engine import parallel

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"


@pytest.mark.parametrize("command", ["tune", "study"])
def test_more_workers_than_the_machine_holds_are_refused_at_once(tmp_path, command):
    args = ["--workers", "10000", "--results", str(tmp_path / "r"), "--directory", str(tmp_path)]
    code, out, err, frameworks = run_light(f"kfashion.{command}", *args, cwd=tmp_path)
    assert code == 2 and len(err) == 1, out + "\n".join(err)
    most = parallel.most_workers()
    assert err[0].startswith("kfashion: error: --workers 10000: ")
    assert f"at most {most} workers" in err[0] and f"pass --workers {most} or fewer" in err[0]
    assert frameworks == [] and list(tmp_path.iterdir()) == []


def test_memory_bounds_the_workers_too(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(parallel, "available_memory", lambda: 3 * config.WORKER_MEMORY)
    assert parallel.most_workers() == 2  # the chief takes a worker's memory too
    parallel.check_workers(2)
    with pytest.raises(UserError, match="at most 2 workers"):
        parallel.check_workers(3)


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 2), (16, 2)])
def test_the_searches_default_workers_fit_the_machine(monkeypatch, cores, expected):
    """2 single-threaded workers by default for the sweep and the grid (faster than one
    process on 2 cores), never more than the machine holds: a 1-core machine runs them
    in-process, not refused."""
    from kfashion import transfer, tune

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(parallel, "available_memory", lambda: None)
    args = tune.parse_args([])
    assert args.workers == expected
    assert len(tune.design_from_args(args)) == 14  # the default is never refused
    workers = []
    monkeypatch.setattr(parallel, "check_workers", lambda count: workers.append(count))
    with pytest.raises(SystemExit):  # past the workers, it stops at the missing encoder
        transfer.main(["--encoder", "no-such-encoder.keras"])
    assert workers == [expected]


def a_command_under(backend: str, tmp_path) -> str:
    """The line a command that loads Keras answers with, under KERAS_BACKEND=`backend`."""
    args = ["--subset", "600", "--epochs", "1", "--seeds", "1", "--workers", "1"]
    args += ["--results", str(tmp_path / "r"), "--directory", str(tmp_path / "t")]
    line = refused(run_module("kfashion.tune", *args, env={"KERAS_BACKEND": backend}))
    assert not (tmp_path / "r").exists() and not (tmp_path / "t").exists()
    return line


def installed() -> str:
    return ", ".join(b for b in quiet_keras.BACKENDS if quiet_keras.importlib.util.find_spec(b))


def test_an_unknown_backend_is_one_line(tmp_path):
    line = a_command_under("bogus", tmp_path)
    assert "Keras backend 'bogus' (from KERAS_BACKEND) is not one kfashion runs on" in line
    assert f"installed: {installed()}" in line


def test_a_backend_that_is_not_installed_is_one_line(tmp_path):
    missing = [b for b in quiet_keras.BACKENDS if not quiet_keras.importlib.util.find_spec(b)]
    if not missing:
        pytest.skip("every backend is installed here")
    line = a_command_under(missing[0], tmp_path)
    assert f"Keras backend '{missing[0]}' (from KERAS_BACKEND) is not installed" in line
    assert f"python -m pip install {missing[0]}" in line and f"installed: {installed()}" in line


def test_the_backend_in_keras_json_is_read_as_keras_reads_it(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert quiet_keras.chosen_backend() == ("tensorflow", "Keras's default")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert quiet_keras.chosen_backend() == ("jax", str(tmp_path / "keras.json"))


@pytest.fixture
def reference_copy(tmp_path):
    """The reference run's JSON files, to damage."""
    folder = tmp_path / "results"
    folder.mkdir()
    for path in REFERENCE.glob("*.json"):
        shutil.copy(path, folder)
    return folder


def test_report_names_a_cut_sweep_json(reference_copy):
    sweep = reference_copy / "sweep.json"
    sweep.write_bytes(sweep.read_bytes()[:5000])  # as a copy cut short leaves it
    line = refused(run_module("kfashion.report", "--results", str(reference_copy)))
    assert f"{sweep}: not valid JSON" in line
    assert f"`python -m kfashion.tune --results {reference_copy}`" in line
    assert not (reference_copy / "README.md").exists()


def test_report_changes_nothing_when_a_file_it_renders_is_bad(reference_copy):
    """The findings are judged first; they are written with everything else, after rendering."""
    findings = reference_copy / "findings.json"
    findings.write_text('{"made": "before"}\n')
    grid = reference_copy / "grid.json"
    grid.write_bytes(grid.read_bytes()[:5000])
    line = refused(run_module("kfashion.report", "--results", str(reference_copy)))
    assert f"{grid}: not valid JSON" in line
    assert findings.read_text() == '{"made": "before"}\n'
    assert not (reference_copy / "README.md").exists()


def test_report_names_a_grid_json_whose_classic_cases_lack_their_runs(reference_copy):
    grid = reference_copy / "grid.json"
    entry = json.loads(grid.read_text())
    del entry["classic"]["runs"]  # as an older version, or a hand edit, leaves it
    grid.write_text(json.dumps(entry))
    line = refused(run_module("kfashion.report", "--results", str(reference_copy)))
    assert f"{grid}: not what this version of kfashion writes (KeyError: 'runs')" in line
    assert f"`python -m kfashion.transfer --results {reference_copy}`" in line


def test_report_names_a_grid_json_made_before_the_classic_cases_moved_into_it(reference_copy):
    grid = reference_copy / "grid.json"
    entry = json.loads(grid.read_text())
    del entry["classic"]  # as a grid.json beside its own transfer.json once was
    grid.write_text(json.dumps(entry))
    line = refused(run_module("kfashion.report", "--results", str(reference_copy)))
    assert f"{grid}: not what this version of kfashion writes (KeyError: 'classic')" in line


def test_a_run_record_cut_short_is_not_done(tmp_path):
    record = tmp_path / "case1_seed0.json"
    assert files.read_record(record) is None  # not there
    record.write_text('{"case": 1, "test_accu')  # cut short from outside
    assert files.read_record(record) is None  # so the resume runs it again
    record.write_text('{"case": 1}')
    assert files.read_record(record) == {"case": 1}


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    """The full disk is simulated: Path.write_text is patched to raise OSError(ENOSPC) part
    way, as a write to a full disk does."""
    path = tmp_path / "sweep.json"
    files.write_json(path, {"old": 1})
    before = path.read_bytes()

    def disk_full(self, text, *args, **kwargs):
        os.write(os.open(self, os.O_WRONLY), text[:3].encode())  # a part gets out first
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(UserError) as error:
        files.write_json(path, {"new": 2})
    assert f"the disk holding {tmp_path} is full" in str(error.value)
    assert "free some space and run the same command again" in str(error.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--workers", "two"], "argument --workers: invalid int value: 'two'"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_a_bad_flag_is_one_line(tmp_path, args, fragment):
    code, out, err, frameworks = run_light("kfashion.tune", *args, cwd=tmp_path)
    assert code == 2 and err == [
        f"kfashion: error: {fragment}; see `python -m kfashion.tune --help`"
    ], err
    assert frameworks == []


def test_report_refuses_a_folder_it_cannot_write(reference_copy):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    reference_copy.chmod(0o500)
    try:
        line = refused(run_module("kfashion.report", "--results", str(reference_copy)))
    finally:
        reference_copy.chmod(0o700)
    assert "cannot write there" in line


def test_report_writes_a_model_card_from_the_json(reference_copy):
    models = reference_copy / "models"
    models.mkdir()
    shutil.copy(REFERENCE / "models" / "encoder.keras", models)
    (models / "mine.keras").write_bytes(b"")
    done = run_module("kfashion.report", "--results", str(reference_copy))
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    card = (models / "README.md").read_text()
    assert "## `encoder.keras`" in card and "Input (None, 28, 28, 1), output (None, 64)" in card
    assert "## `mine.keras`\n\nNot described by this folder's JSON files." in card


def test_report_writes_each_pretexts_model_card_with_its_own_score(reference_copy):
    # a contrastive sweep's encoder: no decoder, so no MSE and no model-index score
    sweep = json.loads((reference_copy / "sweep.json").read_text())
    sweep["settings"]["pretext"] = "contrastive"
    sweep["selected"].update(
        test_mse=None, test_loss=4.5, models={"encoder": "models/encoder.keras"}, encoder_seeds={}
    )
    for trial in sweep["trials"]:
        trial.update(test_mse=None, test_loss=4.75)
    folder = reference_copy / "pretexts" / "contrastive"
    (folder / "models").mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(sweep))
    shutil.copy(REFERENCE / "models" / "encoder.keras", folder / "models")
    done = run_module("kfashion.report", "--results", str(reference_copy))
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    card = (folder / "models" / "README.md").read_text()
    assert "- What: the sweep's selected contrastive encoder (" in card
    score = "- Test score: contrastive test loss 4.5000 (this seed); contrastive test loss 4.7500"
    assert score in card
    assert "model-index:" not in card


@pytest.mark.usefixtures("debian_data_dir")
def test_transfer_runs_again_a_run_whose_record_was_cut_short(tmp_path, capsys):
    from kfashion import transfer
    from kfashion.core import models

    encoder = tmp_path / "encoder.keras"
    models.build_encoder(latent_dim=16).save(encoder)
    args = ["--subset", "600", "--epochs", "1", "--seeds", "1", "--cases", "4", "--workers", "1"]
    args += ["--encoder", str(encoder), "--results", str(tmp_path / "r")]
    args += ["--directory", str(tmp_path / "tuning")]
    transfer.main(args)
    record = tmp_path / "r/transfer/runs/course/labelsall/case4_frozen_random_seed0.json"
    record.write_bytes(record.read_bytes()[:40])  # cut short from outside
    capsys.readouterr()
    transfer.main(args)
    out = capsys.readouterr().out
    assert "case 4 (random encoder, frozen), frozen at lr" in out and "seed 0: test" in out
    assert "(choice" not in out  # only the run cut short trains again
    assert json.loads(record.read_text())["case"] == 4


def test_the_remake_hint_of_the_architecture_folder_names_its_own_command():
    from kfashion.core import files

    hint = files.remake(Path("results/architecture/sweep.json"))
    assert "--factors architecture" in hint and "--results results/architecture" in hint
    assert "--factors" not in files.remake(Path("results/sweep.json"))
