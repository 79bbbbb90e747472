"""Helpers shared by the tests: IDX writing and loading a model where kfashion is not imported."""

import gzip
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

LOAD_ELSEWHERE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    model = keras.saving.load_model(sys.argv[1], safe_mode=True)
    np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
    assert not any(name.startswith("kfashion") for name in sys.modules), "kfashion was imported"
    """
)


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file holding `array`."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path, array: np.ndarray) -> None:
    path.write_bytes(gzip.compress(idx_bytes(array), compresslevel=1))


def predict_elsewhere(model_path, inputs: np.ndarray, tmp_path) -> np.ndarray:
    """Load a .keras file in a fresh Python that never imports kfashion, and predict."""
    inputs_path, outputs_path = tmp_path / "inputs.npy", tmp_path / "outputs.npy"
    np.save(inputs_path, inputs)
    # run from tmp_path so the checkout's kfashion/ is not even importable by accident
    paths = [str(model_path), str(inputs_path), str(outputs_path)]
    subprocess.run(
        [sys.executable, "-c", LOAD_ELSEWHERE, *paths],
        check=True,
        cwd=tmp_path,
    )
    return np.load(outputs_path)


def run_module(module: str, *args, env=None) -> subprocess.Popen:
    """Start `python -m module args` with unbuffered text output on pipes."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def refused(process: subprocess.Popen) -> str:
    """Assert the command ended with exit code 2 and one stderr line, no traceback; return it."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def run_on_jax(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Run `python ARGS` to its end on Keras's JAX backend; assert that it succeeded."""
    pytest.importorskip("jax")  # the test extra installs it, so CI always runs this
    env = {**os.environ, "KERAS_BACKEND": "jax", **(env or {})}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done
