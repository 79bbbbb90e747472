"""Every command answers --help and refuses bad input at once: one line on stderr, exit code 2,
no framework loaded, nothing written. (Wall times are measured by hand, not asserted.)"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_light

import kfashion
from kfashion.core import cli
from kfashion.core.errors import UserError

COMMANDS = [
    "study",
    "tune",
    "transfer",
    "baseline",
    "latent",
    "report",
    "bench",
    "data",
]
BENCH = Path(__file__).resolve().parents[1] / "docs" / "bench.py"  # a tool, not in the package


def program(command: str) -> str:
    """What runs `command`: its module, or the benchmark's script."""
    return str(BENCH) if command == "bench" else f"kfashion.{command}"


def invoked(command: str) -> str:
    """`command` as its --help names it."""
    return "python docs/bench.py" if command == "bench" else f"python -m kfashion.{command}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_answers_without_loading_a_framework(command):
    code, out, err, frameworks = run_light(program(command), "--help")
    assert code == 0 and invoked(command) in out and not err
    assert frameworks == []
    assert "(default: None)" not in out
    options, epilog = out.split("\nexample:\n")
    for option in re.split(r"\n  -", options):  # each default once, where there is one
        assert option.lower().count("default") <= 1, option
    example, environment = epilog.split("\nenvironment:\n")
    assert example.startswith(f"  {invoked(command)} --")
    for variable, _ in cli.ENVIRONMENT:
        assert f"  {variable} " in environment


def test_version_and_the_installed_commands_own_name():
    code, out, _, frameworks = run_light("kfashion.tune", "--version")
    assert code == 0 and out == f"kfashion {kfashion.__version__}\n" and frameworks == []
    _, out, _, _ = run_light("kfashion.latent", "--help")
    assert "(default: 0)" in " ".join(out.split())  # a default of 0 is a default
    installed = Path(sys.executable).parent / "kfashion-tune"  # pip install -e . made it
    if not installed.exists():
        pytest.skip("kfashion is not installed in this environment")
    done = subprocess.run([installed, "--help"], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("usage: kfashion-tune ")


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


BAD = [
    ("tune", ["--epochs", "0"], "--epochs 0: must be at least 1"),
    ("tune", ["--seeds", "0"], "--seeds 0"),
    ("tune", ["--factors", "colour"], "unknown factor 'colour'"),
    ("tune", ["--factors", "latent_dim"], "--select reference needs the dropout factor"),
    ("tune", ["--subset", "10"], "--subset 10"),
    ("tune", ["--directory", "{file}"], "is a file, not a folder"),
    ("tune", ["--results", "{file}"], "is a file, not a folder"),
    ("tune", ["--results", "{file}/below"], "cannot write there"),
    ("tune", ["--data-dir", "{file}"], "--data-dir"),
    ("tune", ["--epoch", "3"], "unrecognized arguments: --epoch 3"),  # no abbreviations
    ("transfer", ["--seed", "3"], "unrecognized arguments: --seed 3"),
    ("transfer", ["--cases", "1,6"], "--cases"),
    ("transfer", ["--seeds", "-1"], "--seeds -1"),
    ("transfer", ["--recipes", "slow"], "--recipes 'slow'"),
    ("transfer", ["--encoder-seeds", "x"], "--encoder-seeds 'x'"),
    ("transfer", ["--labels", "5"], "--labels"),
    ("transfer", ["--pretext-labels", "5"], "--pretext-labels '5'"),
    ("transfer", ["--workers", "0"], "--workers 0"),
    ("transfer", ["--encoder", "{tmp}"], "encoder_seed0.keras: no such file"),
    ("transfer", ["--encoder", "{file}"], "not a readable .keras model"),
    ("transfer", ["--encoder", "{tmp}/missing.keras"], "no such file"),
    ("transfer", ["--results", "{tmp}/empty"], "run `python -m kfashion.tune` first"),
    ("baseline", ["--max-iter", "0"], "--max-iter 0"),
    ("baseline", ["--results", "{file}"], "is a file"),
    ("latent", ["--encoder", "{tmp}/none.keras"], "no such file"),
    ("report", ["--results", "{tmp}/none"], "not a folder"),
    ("report", ["--results", "{tmp}"], "neither sweep.json nor grid.json"),
    ("study", ["--workers", "0"], "--workers 0"),
    ("study", ["--results", "{file}"], "is a file"),
    ("study", ["--directory", "{file}"], "is a file"),
    ("study", ["--data-dir", "{file}"], "--data-dir"),
    ("bench", ["--repeats", "0"], "--repeats 0"),
    ("bench", ["--full-sweep", "0"], "--full-sweep"),
    ("data", ["--data-dir", "{file}"], "--data-dir"),
]


@pytest.mark.parametrize("command, args, fragment", BAD)
def test_bad_input_is_refused_at_once(tmp_path, a_file, command, args, fragment):
    before = sorted(tmp_path.rglob("*"))
    args = [a.format(file=a_file, tmp=tmp_path) for a in args]
    code, out, err, frameworks = run_light(program(command), *args, cwd=tmp_path)
    assert code == 2, out + "\n".join(err)
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0], err
    assert frameworks == [], err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, nothing lost


def test_an_unwritable_folder_is_refused(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        probe = folder / "probe"
        probe.touch()  # root writes anywhere: then there is nothing to check here
        probe.unlink()
        pytest.skip("this user can write to a read-only folder (root)")
    except PermissionError:
        with pytest.raises(UserError, match="cannot write there"):
            cli.writable_folder(folder, "--results")
    finally:
        folder.chmod(0o700)


def test_flags_give_values_switches_and_repeated_flags_and_leave_out_none():
    given = cli.flags(epochs=0, subset=None, overwrite=False, mixed_precision=True, encoder=["a"])
    assert given == ["--epochs", "0", "--mixed-precision", "--encoder", "a"]  # 0 is a value


def test_a_workers_command_line_parses_back_to_the_chiefs_settings():
    from kfashion import transfer, tune

    chief = ["--subset", "600", "--epochs", "1", "--data-dir", "d", "--tensorboard", "tb"]
    for module, extra, own in (
        (tune, ["--mixed-precision", "--factors", "dropout", "--workers", "2"], {"workers"}),
        (transfer, ["--random-inits", "0", "--encoder", "a", "--encoder", "b"], {"workers"}),
    ):
        args = module.parse_args([*chief, *extra])
        back = module.parse_args(module.worker_args(args))
        differ = {k for k in vars(args) if getattr(back, k) != getattr(args, k)}
        assert differ <= own | {"results", "overwrite"}, (module.__name__, differ)
