"""Fashion-MNIST from local IDX files or the Keras download: parsing, checks and splits.

Sources, in order (the first that holds the files is used; a bad file there is an error,
never a silent fall-through to the next source):

1. `--data-dir` or the `KFASHION_DATA` environment variable: a folder with the four .gz files;
2. Keras's cache, `~/.keras/datasets/fashion-mnist/` (or under `KERAS_HOME`);
3. Debian's package `dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist/`;
4. `keras.datasets.fashion_mnist.load_data()`, which downloads into Keras's cache (needs internet).

Check what you have with `python -m kfashion.data` (add `--data-dir DIR` for a folder of your own).
"""

import dataclasses
import gzip
import hashlib
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from kfashion import config
from kfashion.config import CLASS_NAMES, NUM_CLASSES, TRAIN_IMAGES, train_split_size
from kfashion.core import cli
from kfashion.core.errors import UserError, caused_by, exit_on_user_error

# file name, number of items, SHA-256 of the decompressed content (gzip headers vary, content not)
FILES = {
    "train_images": (
        "train-images-idx3-ubyte.gz",
        TRAIN_IMAGES,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte.gz",
        TRAIN_IMAGES,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte.gz",
        10_000,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz",
        10_000,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "install it with `apt-get install dataset-fashion-mnist`, "
    "pass --data-dir (or KFASHION_DATA) a folder with the four .gz files, "
    "or connect to the internet so Keras can download it"
)


class DataError(UserError):
    """Missing or corrupt Fashion-MNIST files."""


@dataclasses.dataclass(frozen=True)
class RawData:
    """The four IDX arrays as stored (uint8), and where they came from."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # the kind of place, e.g. "Debian package dataset-fashion-mnist"
    folder: Path  # printed for the user, never recorded (it is this machine's path)
    sha256: dict  # file name -> SHA-256 of its decompressed content


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Float32 images in [0, 1] shaped (N, 28, 28, 1) and int labels, split three ways."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    folder: Path
    sha256: dict

    def sizes(self) -> dict:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def provenance(self) -> dict:
        """Where the files came from, by kind and content, without this machine's paths."""
        return {"source": self.source, "sha256": self.sha256}

    def describe(self) -> str:
        """One line for the terminal: the source, its folder and the split sizes."""
        sizes = ", ".join(f"{name} {count:,}" for name, count in self.sizes().items())
        return f"{self.source} ({self.folder}); {sizes}"


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    """Parse an unsigned-byte IDX file.

    Args:
        raw: the decompressed file content.
        name: the file's name, for error messages.

    Returns:
        A uint8 array with the dimensions the header gives.

    Raises:
        DataError: the header is not an unsigned-byte IDX header, or the payload size does
            not match the dimensions.
    """
    if len(raw) < 4:
        raise DataError(f"{name}: only {len(raw)} bytes, too short for an IDX file")
    magic = struct.unpack(">I", raw[:4])[0]
    ndim = raw[3]
    if raw[:3] != b"\x00\x00\x08" or ndim == 0:
        raise DataError(f"{name}: magic number 0x{magic:08x} is not an unsigned-byte IDX file")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{name}: header cut short ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(dims))
    if len(raw) - header_size != expected:
        raise DataError(
            f"{name}: header says {'x'.join(map(str, dims))} ({expected} bytes of data) but the "
            f"file holds {len(raw) - header_size}: it is truncated or corrupt"
        )
    return np.frombuffer(raw, np.uint8, offset=header_size).reshape(dims)


def _fix_hint(path: Path) -> str:
    return f"replace {path} with a good copy ({HOW_TO_GET})"


def _read_gzip(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a readable gzip file ({error}); {_fix_hint(path)}") from None


def _read_idx(path: Path, magic: int) -> tuple[np.ndarray, bytes]:
    raw = _read_gzip(path)
    try:
        array = parse_idx(raw, str(path))
    except DataError as error:
        raise DataError(f"{error}; {_fix_hint(path)}") from None
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:
        raise DataError(
            f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x}; {_fix_hint(path)}"
        )
    return array, raw


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, dict[Path, str]]:
    """Read one split ("train" or "test") from a folder of IDX .gz files and check its structure.

    Checks only what says more than a checksum would: gzip, the IDX header (a cut download),
    images and labels where the other belongs, files of two splits together, a split's file
    under the other's name. Anything else is left to `check_checksums`.

    Returns:
        (images uint8 (N, 28, 28), labels uint8 (N,), {path: SHA-256 of its content}).
    """
    images_name, count, _ = FILES[f"{split}_images"]
    labels_name = FILES[f"{split}_labels"][0]
    images_path, labels_path = folder / images_name, folder / labels_name
    images, images_raw = _read_idx(images_path, IMAGES_MAGIC)
    labels, labels_raw = _read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images):,} images but {labels_path} holds "
            f"{len(labels):,} labels: the two files do not belong together; {_fix_hint(folder)}"
        )
    if len(images) != count:
        raise DataError(
            f"{images_path}: {len(images):,} images, expected {count:,}; {_fix_hint(images_path)}"
        )
    digests = {
        path: hashlib.sha256(raw).hexdigest()
        for path, raw in ((images_path, images_raw), (labels_path, labels_raw))
    }
    return images, labels, digests


def check_checksums(digests: dict[Path, str]) -> None:
    """Compare each file's content digest with Fashion-MNIST's (DataError if one differs)."""
    expected = {name: sha for name, _, sha in FILES.values()}
    for path, digest in digests.items():
        if digest != expected[path.name]:
            raise DataError(
                f"{path}: SHA-256 of the content does not match Fashion-MNIST's; {_fix_hint(path)}"
            )


def keras_cache() -> Path:
    """Where `keras.datasets.fashion_mnist` downloads to, found as Keras finds it when it
    loads (`keras.src.backend.config`: KERAS_HOME, or ~/.keras where the home folder is
    writable, else /tmp/.keras) and when it downloads (`keras.utils.get_file`: /tmp/.keras
    where that folder is not writable)."""
    home = os.environ.get("KERAS_HOME")
    if home is None:
        user = os.path.expanduser("~")
        home = os.path.join(user if os.access(user, os.W_OK) else "/tmp", ".keras")
    if not os.access(home, os.W_OK):
        home = "/tmp/.keras"
    return Path(home) / "datasets" / "fashion-mnist"


def _sources(data_dir) -> tuple[list[tuple[str, Path]], bool]:
    """Folders to look in, in order, and whether the user named one explicitly."""
    if data_dir:
        return [("--data-dir", Path(data_dir))], True
    if os.environ.get("KFASHION_DATA"):
        return [("KFASHION_DATA", Path(os.environ["KFASHION_DATA"]))], True
    return [
        ("Keras cache", keras_cache()),
        ("Debian package dataset-fashion-mnist", DEBIAN_DIR),
    ], False


def _download() -> None:
    """Let Keras download Fashion-MNIST into its cache (needs internet)."""
    # imported here: loading local files must not pay for importing Keras
    from kfashion.core.quiet_keras import load_keras

    load_keras().datasets.fashion_mnist.load_data()


def download_failure(error: BaseException) -> str:
    """Why a download failed, in a few words: Keras re-raises urllib's errors as a bare
    Exception whose context is the original one, so the chain is searched."""
    import socket
    import urllib.error

    found = caused_by(
        error,
        lambda e: (
            isinstance(e, (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror))
            or (isinstance(e, ValueError) and "hash" in str(e))
        ),
    )
    if isinstance(found, urllib.error.HTTPError):
        return f"HTTP error {found.code} {found.msg}".strip()
    if isinstance(found, urllib.error.URLError):
        return f"no connection: {getattr(found.reason, 'strerror', None) or found.reason}"
    if isinstance(found, ValueError):
        return "the downloaded file's checksum did not match (a cut or altered download)"
    if found is not None:
        return f"no connection: {found.strerror or found}"
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _read_folder(label: str, folder: Path) -> RawData:
    train_images, train_labels, train_digests = read_split(folder, "train")
    test_images, test_labels, test_digests = read_split(folder, "test")
    digests = train_digests | test_digests
    check_checksums(digests)
    sha256 = {path.name: digest for path, digest in digests.items()}
    return RawData(train_images, train_labels, test_images, test_labels, label, folder, sha256)


def load_raw(data_dir=None) -> RawData:
    """Find, read and check the four Fashion-MNIST files (see the module docstring for the order).

    Raises:
        DataError: no source holds the files and the download failed, or a file is bad.
    """
    sources, explicit = _sources(data_dir)
    names = [name for name, _, _ in FILES.values()]
    for label, folder in sources:
        if explicit and not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise DataError(
                f"{folder} ({label}): {what}; give the folder that holds the four IDX .gz files"
            )
        missing = [name for name in names if not (folder / name).is_file()]
        if not missing:
            return _read_folder(label, folder)
        if explicit or len(missing) < len(names):
            raise DataError(f"{folder} ({label}) lacks {', '.join(missing)}; {HOW_TO_GET}")
    try:
        _download()
    except Exception as error:  # any failure to download means the same thing to the user
        looked = ", ".join(str(folder) for _, folder in sources)
        raise DataError(
            f"Fashion-MNIST not found in {looked} and the download failed "
            f"({download_failure(error)}); {HOW_TO_GET}"
        ) from None
    return _read_folder("Keras download", keras_cache())


def stratified_sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of `size` items drawn without replacement, classes in proportion."""
    from sklearn.model_selection import train_test_split

    if size == len(labels):
        return np.arange(size)
    picked, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(picked)


def _to_float(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., None]


def load(data_dir=None, subset: int | None = None, split_seed: int = config.SPLIT_SEED) -> Dataset:
    """Load Fashion-MNIST split into train 50,000 / validation 10,000 / test 10,000.

    Validation is a stratified sixth of the training files; test is the official test files.

    Args:
        data_dir: a folder with the four .gz files; None looks in the usual places.
        subset: if given, a stratified sample of that many training-file images (split 5:1 into
            train and validation the same way) and a stratified sixth as many test images.
        split_seed: seeds the subset and the validation split.

    Returns:
        A Dataset.
    """
    cli.check_subset(subset)
    raw = load_raw(data_dir)
    x, y = raw.train_images, raw.train_labels
    x_test, y_test = raw.test_images, raw.test_labels
    if subset is not None:
        keep = stratified_sample(y, subset, split_seed)
        x, y = x[keep], y[keep]
        keep_test = stratified_sample(y_test, subset // 6, split_seed)
        x_test, y_test = x_test[keep_test], y_test[keep_test]
    val = stratified_sample(y, len(y) // 6, split_seed)
    train = np.setdiff1d(np.arange(len(y)), val)
    return Dataset(
        x_train=_to_float(x[train]),
        y_train=y[train].astype(np.int32),
        x_val=_to_float(x[val]),
        y_val=y[val].astype(np.int32),
        x_test=_to_float(x_test),
        y_test=y_test.astype(np.int32),
        source=raw.source,
        folder=raw.folder,
        sha256=raw.sha256,
    )


@exit_on_user_error
def main(argv=None) -> None:
    parser = cli.parser(
        "kfashion.data",
        "Find, check and summarise the Fashion-MNIST files kfashion will use.",
        "--data-dir /usr/share/datasets/fashion-mnist",
    )
    parser.add_argument(
        "--data-dir", help="folder with the four IDX .gz files (default: the usual places)"
    )
    args = parser.parse_args(argv)
    cli.check_data_dir(args.data_dir)
    start = time.perf_counter()
    raw = load_raw(args.data_dir)
    seconds = time.perf_counter() - start
    train_counts = np.bincount(raw.train_labels, minlength=NUM_CLASSES)
    test_counts = np.bincount(raw.test_labels, minlength=NUM_CLASSES)
    print(f"source: {raw.source} ({raw.folder})")
    print(
        f"{len(raw.train_labels):,} train / {len(raw.test_labels):,} test images of 28x28, "
        f"checksums OK (read and checked in {seconds:.1f} s)"
    )
    train = train_split_size()
    print(
        f"split used by every stage: {train:,} train / {len(raw.train_labels) - train:,} "
        f"validation (stratified, seed {config.SPLIT_SEED}) / {len(raw.test_labels):,} test"
    )
    print("per class (train / test):")
    for name, n_train, n_test in zip(CLASS_NAMES, train_counts, test_counts, strict=True):
        print(f"  {name:<12} {n_train:>6,} / {n_test:>6,}")


if __name__ == "__main__":
    main()
