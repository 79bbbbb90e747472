"""Helpers shared by the tests: IDX files, commands in subprocesses, loading models elsewhere."""

import functools
import gzip
import importlib.util
import json
import math
import os
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# A command as a user runs it, reporting whether it loaded a framework: `python WRAPPER MODULE
# ARGS` runs `python -m MODULE ARGS` and prints the frameworks it imported to stderr at exit.
FRAMEWORKS = ("tensorflow", "keras", "jax")
WRAPPER = textwrap.dedent(
    """
    import atexit, runpy, sys
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    atexit.register(lambda: print("frameworks:", sorted(
        name for name in sys.modules if name in {frameworks}), file=sys.stderr))
    if module.endswith(".py"):  # a script of the repository's, such as docs/bench.py
        runpy.run_path(module, run_name="__main__")
    else:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    """
).format(frameworks=set(FRAMEWORKS))

LOAD_ELSEWHERE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    for path, inputs, out in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
        model = keras.saving.load_model(path, safe_mode=True)
        np.save(out, model.predict(np.load(inputs), verbose=0))
    assert not any(name.startswith("kfashion") for name in sys.modules), "kfashion was imported"
    """
)


@functools.cache
def docs_module(name: str):
    """`docs/NAME.py`, one of the repository's tools (`render`: renders the Markdown's blocks;
    `bench`: the benchmark); they are not part of the package, so each is loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def docs_render():
    """`docs/render.py`: renders the blocks of README.md and docs/speed.md."""
    return docs_module("render")


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file holding `array`."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path, array: np.ndarray) -> None:
    path.write_bytes(gzip.compress(idx_bytes(array), compresslevel=1))


def tensorboard_tags(folder) -> dict:
    """Each folder of TensorBoard event files under `folder` (relative) -> the tags they hold."""
    from tensorboard.backend.event_processing import event_accumulator

    out = {}
    for events in Path(folder).rglob("events.out.tfevents.*"):
        accumulator = event_accumulator.EventAccumulator(str(events))
        accumulator.Reload()
        found = accumulator.Tags()
        tags = out.setdefault(str(events.parent.relative_to(folder)), set())
        tags |= set(found["tensors"]) | set(found["scalars"])
    return out


def compile_settings(path) -> dict:
    """The compile settings a `.keras` file holds ({} for a model saved uncompiled)."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json")).get("compile_config") or {}


def predict_elsewhere(model_paths, inputs, tmp_path, env=None) -> list[np.ndarray]:
    """Load each .keras file in one fresh, isolated Python that never imports kfashion (`-I`:
    neither the current folder nor the environment's PYTHON* variables are on its path), and
    predict `inputs` with each (one array for all, or a list of one per model); `env`: variables
    to set there (KERAS_BACKEND)."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs] * len(model_paths)
    arguments = []
    for i, (path, array) in enumerate(zip(model_paths, inputs, strict=True)):
        np.save(tmp_path / f"inputs{i}.npy", array)
        arguments += [str(path), str(tmp_path / f"inputs{i}.npy"), str(tmp_path / f"out{i}.npy")]
    subprocess.run(
        [sys.executable, "-I", "-c", LOAD_ELSEWHERE, *arguments],
        check=True,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )
    return [np.load(tmp_path / f"out{i}.npy") for i in range(len(model_paths))]


def run_module(module: str, *args, env=None, cwd=None) -> subprocess.Popen:
    """Start `python -m module args` with unbuffered text output on pipes."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def refused(process: subprocess.Popen) -> str:
    """Assert the command ended with exit code 2 and one stderr line, no traceback; return it."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def refused_here(main, argv, capsys) -> str:
    """Assert a command's entry point, run in this process, exits with code 2 and one stderr
    line, no traceback; return it. (Fresh processes are tried in test_errors and test_edges.)"""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def run_light(module: str, *args, cwd=None) -> tuple[int, str, str, list[str]]:
    """Run a command (a module, or a script's path) that should answer without a framework:
    (exit code, stdout, the stderr lines before the report, the frameworks it imported)."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    lines = done.stderr.strip().splitlines()
    loaded = lines[-1].removeprefix("frameworks: ")
    return done.returncode, done.stdout, lines[:-1], eval(loaded)  # a list of names


def run_on_jax(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Run `python ARGS` to its end on Keras's JAX backend; assert that it succeeded."""
    pytest.importorskip("jax")  # the test extra installs it, so CI always runs this
    # LLVM at -O1, not XLA's default -O3: these tests' programs are tiny and run once. On a
    # 2-core CPU it took tests/test_jax.py's script from 82 s to 52 s, every number it returns
    # within 2.4e-7 of -O3's (-O2: 55 s, the same numbers as -O1; -O0 doubles the time). Both
    # sides of each comparison compile alike, so what only -O3 would get wrong goes unseen.
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=1".strip()
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": flags, **(env or {})}
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, cwd=cwd
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def assert_picture(path, colours: int) -> None:
    """Assert `path` is a PNG a reader can read something in: a figure of at least 400x300
    pixels with at least `colours` distinct colours (a blank or empty-axes figure has a few)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] >= 300 and pixels.shape[1] >= 400, pixels.shape
    distinct = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(distinct) >= colours, f"{path}: {len(distinct)} colours"


def count_traces(monkeypatch) -> list:
    """A list that grows by one each time a model's training step is traced."""
    import keras

    traces, step = [], keras.Model.train_step
    monkeypatch.setattr(
        keras.Model, "train_step", lambda self, data: traces.append(1) or step(self, data)
    )
    return traces


def differences(a, b, rel: float = 1e-9, path: str = "") -> list[str]:
    """Where two JSON-like values differ, floats compared within `rel`: the last bits of a sum
    or a least-squares fit depend on the BLAS kernels of the machine that computed them."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for key in a for d in differences(a[key], b[key], rel, f"{path}/{key}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items against {len(b)}"]
        return [
            d
            for i, pair in enumerate(zip(a, b, strict=True))
            for d in differences(*pair, rel, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=rel) else [f"{path}: {a} {b}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} {b!r}"]


# A grid's line for a final run it trained: its case, seed and initialisation (from the second)
FINAL = re.compile(r"case (\d) .*, seed (\d+)(?: \(initialisation (\d+)\))?: test accuracy")


def finished_runs(output: str) -> list[tuple]:
    """(case, seed) of each final run the output reports, in order; (case, seed, init) for
    an initialisation after a draw's first."""
    found = [m.groups() for m in map(FINAL.search, output.splitlines()) if m]
    return [tuple(int(v) for v in run if v is not None) for run in found]
