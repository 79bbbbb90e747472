"""Faults inside a search, in a notebook and at worker start-up end as cleanly as bad input at
the door: one line on stderr, the command's exit code, every finished record kept, and the
process as it was before the command."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import run_on_jax

from kfashion.core import errors
from kfashion.core.errors import REFUSED, UserError, exit_on_user_error
from kfashion.engine import fixed_oracle

ROOT = Path(__file__).resolve().parents[1]
ENCODER = ROOT / "results" / "reference" / "models" / "encoder.keras"
SMALL = ["--subset", "600", "--epochs", "1", "--seeds", "1", "--workers", "1"]
# a 2 MiB disk of the command's own, with room left for run records but not for a model
FULL_DISK = "mount -t tmpfs -o size=2m tmpfs full && head -c 1800000 /dev/zero > full/filler"


def on_a_full_disk(tmp_path, module: str, *args) -> subprocess.CompletedProcess:
    """Run `python -m MODULE ARGS` in `tmp_path`, where `full/` is a nearly full disk (a
    tmpfs in a mount namespace of its own, which ends with the command; what the command left
    on it is copied to `kept/`)."""
    (tmp_path / "full").mkdir()
    command = f'{FULL_DISK} && {{ "$@"; code=$?; cp -r full kept; exit $code; }}'
    namespace = ["unshare", "--map-root-user", "--mount"]
    if subprocess.run([*namespace, "true"], capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("cannot mount a small disk here (unshare --map-root-user --mount)")
        pytest.skip("cannot mount a small disk here (unshare --map-root-user --mount)")
    return subprocess.run(
        [*namespace, "sh", "-c", command, "sh", sys.executable, "-m", module, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def one_line(done: subprocess.CompletedProcess) -> str:
    """Assert the command refused in one stderr line and printed no traceback anywhere."""
    assert done.returncode == REFUSED, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr
    (line,) = done.stderr.splitlines()
    return line


@pytest.mark.usefixtures("debian_data_dir")
def test_a_full_disk_inside_a_grid_cell_is_one_line_and_keeps_the_finished_runs(tmp_path):
    done = on_a_full_disk(
        tmp_path,
        "kfashion.transfer",
        *SMALL,
        "--cases",
        "1,3",
        "--encoder",
        str(ENCODER),
        "--results",
        "full/results",
    )
    line = one_line(done)
    assert line.startswith("kfashion: error: the disk holding full/results/models is full")
    assert line.endswith("run the same command again: it continues from the finished files")
    # the choices' runs ended before the first classifier was saved: kept, whole
    records = (tmp_path / "kept" / "results").rglob("cv_*.json")
    assert {json.loads(path.read_text())["case"] for path in records} == {1, 3}
    assert len(list((tmp_path / "kept" / "results").rglob("choice_*.json"))) == 2


@pytest.mark.usefixtures("debian_data_dir")
def test_a_full_disk_inside_a_workers_sweep_trial_ends_the_sweep_in_the_workers_line(tmp_path):
    done = on_a_full_disk(
        tmp_path,
        "kfashion.tune",
        *SMALL,
        "--factors",
        "optimizer",
        "--select",
        "best",
        "--workers",
        "2",
        "--directory",
        "full/tuning",
        "--results",
        "results",
    )
    line = one_line(done)
    assert line.startswith("kfashion: error: worker tuner")
    assert "is full (writing seed0.keras)" in line
    assert "exited with code" not in done.stdout  # refused: not started again


def refusal(error: Exception, capsys) -> str:
    """What a command prints on stderr when `error` ends it; it exits with code 2."""

    @exit_on_user_error
    def main():
        raise error

    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == REFUSED
    return capsys.readouterr().err


def test_a_full_disk_anywhere_is_one_line(capsys):
    """KerasTuner writes its own state through TensorFlow, whose full disk is no OSError."""
    from tensorflow.errors import ResourceExhaustedError

    trial = "tuning/trial_1/trial.json; No space left on device"
    assert refusal(ResourceExhaustedError(None, None, trial), capsys) == (
        f"kfashion: error: a disk is full ({trial}); free some space and run the same command "
        "again: it continues from the finished files\n"
    )
    wrapped = RuntimeError("while saving")  # an OSError a library wrapped
    wrapped.__cause__ = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "x.png")
    err = refusal(wrapped, capsys)
    assert err.startswith("kfashion: error: a disk is full ([Errno 28] No space left on device")
    assert "'x.png'" in err and err.count("\n") == 1


def test_a_user_error_in_a_trial_ends_the_search_and_a_bug_does_not():
    import keras_tuner

    @fixed_oracle.user_errors_end_the_search
    def run_trial(error):
        raise error

    with pytest.raises(keras_tuner.errors.FatalError) as raised:  # KerasTuner re-raises these
        run_trial(UserError("the disk holding x is full"))
    assert isinstance(raised.value, UserError) and str(raised.value) == "the disk holding x is full"
    with pytest.raises(ZeroDivisionError):  # KerasTuner prints it and fails the trial
        run_trial(ZeroDivisionError("a bug"))
    wrapped = RuntimeError("writing a TensorBoard log")  # a library's write on a full disk
    wrapped.__cause__ = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "events.out")
    with pytest.raises(keras_tuner.errors.FatalError, match="a disk is full"):
        run_trial(wrapped)


NOTEBOOK = textwrap.dedent(
    """
    import gc, json, os, signal, sys
    import keras, matplotlib
    matplotlib.use("pdf")  # the notebook's own backend
    from kfashion import transfer, tune
    from kfashion.finetuning import grid_tuner

    handler, hook = signal.getsignal(signal.SIGINT), sys.unraisablehook
    codes = []

    def command(main, argv):
        try:
            main(argv)
            codes.append(0)
        except SystemExit as stop:  # as IPython catches it, and the notebook goes on
            codes.append(stop.code)

    describe = grid_tuner.describe

    def ctrl_c_after(record):  # the user presses Ctrl-C as the first run ends
        os.kill(os.getpid(), signal.SIGINT)
        return describe(record)

    grid = sys.argv[1:]
    grid_tuner.describe = ctrl_c_after
    command(transfer.main, grid)
    grid_tuner.describe = describe
    command(transfer.main, grid)
    os.makedirs("tuning/sweep")
    open("tuning/sweep/notes.txt", "w").close()  # refused once it computes in bfloat16
    command(tune.main, ["--mixed-precision", "--subset", "600", "--workers", "1"])
    print(json.dumps({
        "codes": codes,
        "handler": signal.getsignal(signal.SIGINT) is handler,
        "hook": sys.unraisablehook is hook,
        "policy": keras.mixed_precision.global_policy().name,
        "backend": matplotlib.get_backend(),
        "frozen": gc.get_freeze_count(),
    }))
    """
)


@pytest.mark.usefixtures("debian_data_dir")
def test_commands_in_one_process_run_as_each_would_alone(tmp_path):
    """As in a notebook: an interrupted command, then the same command, which finishes, then a
    refused one; the process keeps its own Ctrl-C handler, hook, dtype policy, matplotlib
    backend and garbage collector."""
    grid = [*SMALL, "--cases", "1", "--encoder", str(ENCODER), "--results", "results"]
    done = subprocess.run(
        [sys.executable, "-c", NOTEBOOK, *grid],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["codes"] == [errors.INTERRUPTED, 0, REFUSED], done.stdout[-3000:] + done.stderr
    assert out["handler"] and out["hook"] and out["policy"] == "float32"
    assert out["backend"] == "pdf" and out["frozen"] == 0
    assert (tmp_path / "results" / "grid.json").exists()
    assert done.stderr.splitlines()[-1].startswith("kfashion: error: tuning/sweep holds files")


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie nobody reaped has ended)."""
    try:
        return " (Z) " not in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False


CHIEF = textwrap.dedent(
    """
    import sys, time
    from kfashion.engine import parallel
    with parallel.chief_on_loopback(), parallel.LocalWorkers(1, sys.argv[1:], "kfashion.tune"):
        time.sleep(300)  # no oracle is served: the worker waits for it
    """
)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.usefixtures("debian_data_dir")  # (without the data the worker would refuse)
def test_a_restarted_worker_ends_with_its_chief_even_when_the_chief_is_killed(tmp_path):
    """A worker started again from the chief's watching thread, while its output is relayed
    by others, ends when the chief dies by kill -9 (which gives it no time to stop them)."""
    chief = subprocess.Popen(
        [sys.executable, "-c", CHIEF, *SMALL, "--directory", "tuning"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    workers = []
    try:
        for line in chief.stdout:
            if line.startswith("started worker tuner0"):
                workers.append(int(line.split("process ")[1].rstrip(")\n")))
                if len(workers) == 1:
                    time.sleep(2)  # the worker under way
                    os.kill(workers[0], signal.SIGKILL)
                else:
                    time.sleep(2)
                    break
        assert len(workers) == 2 and alive(workers[1])
        chief.kill()
        chief.wait()
        deadline = time.monotonic() + 30
        while alive(workers[1]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(workers[1]), "the worker outlived its chief"
    finally:
        chief.kill()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.usefixtures("debian_data_dir")
def test_a_command_that_succeeds_on_jax_prints_nothing_on_stderr(tmp_path):
    """Keras seeds TensorFlow too where it is installed, and imports it to do so, on any
    backend: its start-up lines (absl, oneDNN, CUDA) would bury the command's errors."""
    cache = {"KFASHION_JAX_CACHE": str(tmp_path / "cache")}
    grid = [*SMALL, "--cases", "1", "--encoder", str(ENCODER), "--results", "results"]
    done = run_on_jax("-m", "kfashion.transfer", *grid, cwd=tmp_path, env=cache)
    assert done.stderr == ""
    assert "wrote results/grid.json" in done.stdout
