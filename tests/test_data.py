import gzip
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from helpers import idx_bytes, write_idx_gz

from kfashion import data

TINY_IMAGES = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
TINY_LABELS = np.array([0, 9, 4])


def run_data_command(*args):
    return subprocess.run(
        [sys.executable, "-m", "kfashion.data", *args], capture_output=True, text=True
    )


def assert_refused(result, *fragments):
    """Exit code 2, one line on stderr naming what is wrong, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def fake_folder(tmp_path_factory):
    """Four well-formed IDX files of the right sizes whose content is not Fashion-MNIST."""
    folder = tmp_path_factory.mktemp("fake")
    for split, count in (("train", 60_000), ("test", 10_000)):
        write_idx_gz(folder / data.FILES[f"{split}_images"][0], np.zeros((count, 28, 28)))
        write_idx_gz(folder / data.FILES[f"{split}_labels"][0], np.arange(count) % 10)
    return folder


@pytest.fixture
def bad_folder(fake_folder, tmp_path):
    """A copy of the fake folder, to break one file of."""
    folder = tmp_path / "data"
    shutil.copytree(fake_folder, folder)
    return folder


def test_parse_idx_round_trip():
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(TINY_IMAGES), "x"), TINY_IMAGES)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(TINY_LABELS), "y"), TINY_LABELS)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x09\x01" + b"\x00" * 8, "not an unsigned-byte IDX"),
        (b"\x01\x00\x08\x01" + b"\x00" * 8, "not an unsigned-byte IDX"),
        (b"\x00\x00\x08\x03\x00\x00", "header cut short"),
        (idx_bytes(TINY_IMAGES)[:-5], "truncated or corrupt"),
        (idx_bytes(TINY_LABELS) + b"\x00", "truncated or corrupt"),
    ],
)
def test_parse_idx_rejects_bad_headers(raw, message):
    with pytest.raises(data.DataError, match=message):
        data.parse_idx(raw, "file")


def test_stratified_sample_keeps_class_proportions():
    labels = np.repeat(np.arange(10), [600] * 9 + [60])
    picked = data.stratified_sample(labels, 546, seed=1)
    assert len(picked) == len(set(picked)) == 546 and list(picked) == sorted(picked)
    np.testing.assert_array_equal(np.bincount(labels[picked]), [60] * 9 + [6])
    assert list(data.stratified_sample(labels, 546, seed=1)) == list(picked)  # repeatable
    assert list(data.stratified_sample(labels, 546, seed=2)) != list(picked)


def test_fake_content_fails_its_checksum(fake_folder):
    assert_refused(run_data_command("--data-dir", str(fake_folder)), "SHA-256", "train-images")


def test_truncated_gzip(bad_folder):
    path = bad_folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    assert_refused(run_data_command("--data-dir", str(bad_folder)), str(path), "gzip")


def test_not_gzip(bad_folder):
    path = bad_folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(idx_bytes(TINY_IMAGES))
    assert_refused(run_data_command("--data-dir", str(bad_folder)), str(path), "gzip")


def test_truncated_idx_inside_gzip(bad_folder):
    path = bad_folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10_000) % 10)[:-1]))
    assert_refused(run_data_command("--data-dir", str(bad_folder)), str(path), "truncated")


def test_wrong_magic(bad_folder):
    path = bad_folder / "train-images-idx3-ubyte.gz"
    write_idx_gz(path, np.zeros(60_000))  # a labels-shaped file where images belong
    assert_refused(run_data_command("--data-dir", str(bad_folder)), str(path), "magic")


def test_wrong_counts(bad_folder):
    write_idx_gz(bad_folder / "t10k-images-idx3-ubyte.gz", np.zeros((100, 28, 28)))
    write_idx_gz(bad_folder / "t10k-labels-idx1-ubyte.gz", np.zeros(100))
    assert_refused(run_data_command("--data-dir", str(bad_folder)), "100 images, expected 10,000")


def test_images_labels_count_mismatch(bad_folder):
    write_idx_gz(bad_folder / "train-labels-idx1-ubyte.gz", np.zeros(59_999))
    assert_refused(
        run_data_command("--data-dir", str(bad_folder)), "60,000 images", "59,999 labels"
    )


def test_data_dir_without_the_files(tmp_path):
    assert_refused(
        run_data_command("--data-dir", str(tmp_path)),
        "lacks train-images-idx3-ubyte.gz",
        "apt-get install dataset-fashion-mnist",
    )


def test_bad_file_in_a_source_is_not_skipped(bad_folder, monkeypatch):
    """A corrupt Keras cache is an error even though the Debian folder may hold good files."""
    (bad_folder / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    monkeypatch.setattr(data, "keras_cache", lambda: bad_folder)
    monkeypatch.delenv("KFASHION_DATA", raising=False)
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte.gz: not a readable gzip"):
        data.load_raw()


def test_partial_source_is_an_error(tmp_path, monkeypatch):
    write_idx_gz(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28)))
    monkeypatch.setattr(data, "keras_cache", lambda: tmp_path)
    monkeypatch.delenv("KFASHION_DATA", raising=False)
    with pytest.raises(data.DataError, match="lacks train-labels"):
        data.load_raw()


def test_missing_everywhere_without_network(tmp_path, monkeypatch, capsys):
    def no_network():
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "keras_cache", lambda: tmp_path / "keras")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(data, "_download", no_network)
    monkeypatch.delenv("KFASHION_DATA", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        data.main([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "download failed" in err and "apt-get install dataset-fashion-mnist" in err


def test_environment_variable_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KFASHION_DATA", str(tmp_path))
    with pytest.raises(data.DataError, match="KFASHION_DATA"):
        data.load_raw()


@pytest.mark.parametrize("kind", ["a file", "nothing"])
def test_environment_variable_naming_no_folder_says_so(tmp_path, monkeypatch, kind):
    path = tmp_path / "data"
    if kind == "a file":
        path.write_text("not a folder")
    monkeypatch.setenv("KFASHION_DATA", str(path))
    what = "is a file, not a folder" if kind == "a file" else "does not exist"
    with pytest.raises(data.DataError, match=f"KFASHION_DATA.: {what}"):
        data.load_raw()


def test_real_data_from_debian(debian_data_dir):
    raw = data.load_raw(debian_data_dir)  # checks every checksum on the way
    assert raw.source == "--data-dir" and set(raw.sha256) == {n for n, _, _ in data.FILES.values()}
    assert raw.train_images.shape == (60_000, 28, 28)
    assert raw.test_images.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(np.bincount(raw.train_labels), [6_000] * 10)
    np.testing.assert_array_equal(np.bincount(raw.test_labels), [1_000] * 10)


def test_real_split(debian_data_dir):
    dataset = data.load(debian_data_dir)
    assert dataset.sizes() == {"train": 50_000, "validation": 10_000, "test": 10_000}
    assert dataset.x_train.shape == (50_000, 28, 28, 1) and dataset.x_train.dtype == np.float32
    assert 0.0 == dataset.x_train.min() and dataset.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(dataset.y_val), [1_000] * 10)
    np.testing.assert_array_equal(np.bincount(dataset.y_train), [5_000] * 10)
    # validation images come from the training files and none is also in train
    train_rows = {row.tobytes() for row in dataset.x_train[:, 10:18, 10:18]}
    assert sum(row.tobytes() in train_rows for row in dataset.x_val[:200, 10:18, 10:18]) < 5


def test_real_subset_is_stratified_and_repeatable(debian_data_dir):
    first = data.load(debian_data_dir, subset=1200)
    again = data.load(debian_data_dir, subset=1200)
    assert first.sizes() == {"train": 1_000, "validation": 200, "test": 200}
    np.testing.assert_array_equal(np.bincount(first.y_train), [100] * 10)
    np.testing.assert_array_equal(first.x_val, again.x_val)


def test_bad_subset_is_refused(debian_data_dir):
    with pytest.raises(data.UserError, match="--subset"):
        data.load(debian_data_dir, subset=10)


def test_data_command_summarises_real_data(debian_data_dir):
    result = run_data_command("--data-dir", str(debian_data_dir))
    assert result.returncode == 0, result.stderr
    assert "60,000 train / 10,000 test" in result.stdout and "checksums OK" in result.stdout


def test_the_download_goes_through_keras(tmp_path):
    # The real download, with the network made unreachable by a proxy nobody listens on: it
    # must fail in Keras's fetch, not before it (an import error once hid behind "failed").
    env = {**os.environ, "KERAS_HOME": str(tmp_path), "no_proxy": "", "NO_PROXY": ""}
    env |= {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTPS_PROXY")}
    # Then the command says why, in its one line (Debian's folder hidden, as on other machines).
    # One process for both: each would spend most of its time importing TensorFlow.
    program = textwrap.dedent(
        """
        import traceback
        from kfashion import data
        try:
            data._download()
        except Exception:
            print(traceback.format_exc())  # on stdout: the command's own line goes to stderr
        data.DEBIAN_DIR = data.Path("/none")
        data.main([])
        """
    )
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    assert "URL fetch failure" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr[-2000:]
    assert "the download failed (no connection: Connection refused)" in done.stderr


def keras_raising(error: BaseException):
    """A download that fails as Keras's get_file does: urllib's error re-raised as a bare
    Exception (its context the original), a bad checksum as a ValueError."""

    def download():
        if not isinstance(error, urllib.error.URLError):
            raise error
        try:
            raise error
        except urllib.error.URLError as failure:
            raise Exception(f"URL fetch failure on the origin: {failure}")  # noqa: B904

    return download


@pytest.mark.parametrize(
    "error, reason",
    [
        (urllib.error.HTTPError("url", 404, "Not Found", {}, None), "HTTP error 404 Not Found"),
        (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")), "no connection"),
        (ConnectionResetError(104, "Connection reset by peer"), "no connection: Connection reset"),
        (
            ValueError(
                "Incomplete or corrupted file detected. The sha256 file hash does not match"
            ),
            "the downloaded file's checksum did not match",
        ),
        (RuntimeError("something else"), "RuntimeError: something else"),
    ],
)
def test_a_failed_download_says_why(tmp_path, monkeypatch, capsys, error, reason):
    monkeypatch.setattr(data, "keras_cache", lambda: tmp_path / "keras")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(data, "_download", keras_raising(error))
    monkeypatch.delenv("KFASHION_DATA", raising=False)
    with pytest.raises(SystemExit):
        data.main([])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"the download failed ({reason}" in line and "apt-get install" in line


def test_the_keras_cache_is_found_as_keras_finds_it_at_the_time_of_loading(tmp_path, monkeypatch):
    """KERAS_HOME and the home folder are read when data loads, not when kfashion is imported;
    a Keras home that is not a writable folder falls back to /tmp/.keras, as Keras's get_file."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    assert data.keras_cache() == tmp_path / "home" / "datasets" / "fashion-mnist"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.keras_cache() == Path("/tmp/.keras/datasets/fashion-mnist")  # no ~/.keras yet
    (tmp_path / ".keras").mkdir()
    assert data.keras_cache() == tmp_path / ".keras" / "datasets" / "fashion-mnist"
