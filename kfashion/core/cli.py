"""What every command shares: its common flags and the checks of what a user passes.

Each check raises a UserError whose message names the flag, the value, what is wrong and what
to do, and runs before any framework is imported or anything is written, so a refused command
answers at once and leaves every saved file as it was.
"""

import argparse
import os
import sys
from pathlib import Path

from kfashion import config
from kfashion.config import CASES, NUM_CLASSES, TRAIN_IMAGES
from kfashion.core.errors import REFUSAL, REFUSED, UserError


class _Parser(argparse.ArgumentParser):
    """argparse's parser, refusing bad flags (a non-integer, an unknown flag) as every other
    refusal: one line, exit code 2, instead of the usage block and then the error."""

    def error(self, message):
        print(f"{REFUSAL}{message}; see `{self.prog} --help`", file=sys.stderr)
        sys.exit(REFUSED)


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default, once: none for an option without one (None) or a switch, and
    none added where the option's text gives it already; the epilog as it is written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


# The environment variables every command reads, for each command's --help.
ENVIRONMENT = (
    ("KFASHION_DATA", "a folder with the four Fashion-MNIST .gz files, as --data-dir"),
    ("KERAS_BACKEND", "tensorflow (the default) or jax"),
    ("KFASHION_JAX_CACHE", f"JAX's compilation cache (default: {config.JAX_CACHE})"),
    ("KFASHION_COMPILED_EPOCHS", "1 or 0: whole epochs as one program on JAX, or not"),
)


def parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """An argument parser whose --help shows every default, named as it was invoked (`python
    -m kfashion.tune`, the installed `kfashion-tune`, or a script's path such as `python
    docs/bench.py`), with --version, that refuses an abbreviated option (`--epoch 3` would
    otherwise be `--epochs 3`), and ends with `example` (the command's arguments) and the
    environment variables."""
    from kfashion import __version__

    installed = f"kfashion-{prog.removeprefix('kfashion.')}"  # (`study` runs the others too)
    name = installed if Path(sys.argv[0]).name == installed else f"python -m {prog}"
    name = f"python {prog}" if prog.endswith(".py") else name
    variables = "\n".join(f"  {variable:<26}{what}" for variable, what in ENVIRONMENT)
    parser = _Parser(
        prog=name,
        description=description,
        epilog=f"example:\n  {name} {example}\n\nenvironment:\n{variables}",
        formatter_class=_Help,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"kfashion {__version__}")
    return parser


def flags(**values) -> list[str]:
    """A command line's ["--name", "value", ...] for the values given: None is left to the
    command's default, True is a switch given and False one not, a list repeats its flag."""
    out = []
    for name, value in values.items():
        flag = f"--{name.replace('_', '-')}"
        if value is True:
            out.append(flag)
        elif isinstance(value, list):
            out += [word for item in value for word in (flag, str(item))]
        elif value is not None and value is not False:  # (0 is a value)
            out += [flag, str(value)]
    return out


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --subset, which every command that loads the images takes."""
    parser.add_argument("--data-dir", help="folder with the four IDX .gz files")
    parser.add_argument(
        "--subset",
        type=int,
        help="use a stratified sample of this many training-file images (five sixths train, "
        "one sixth validates) and a sixth as many test images",
    )


def at_least(value: int, minimum: int, flag: str) -> None:
    if value < minimum:
        raise UserError(f"{flag} {value}: must be at least {minimum}")


def check_data_dir(data_dir) -> None:
    """--data-dir, if given, must be a folder."""
    if data_dir is not None and not Path(data_dir).is_dir():
        what = "is a file" if Path(data_dir).exists() else "does not exist"
        raise UserError(
            f"--data-dir {data_dir}: {what}; give the folder that holds the four IDX .gz files"
        )


def check_data_flags(args) -> None:
    """--data-dir must be a folder, --subset between 60 and 60,000 images."""
    check_data_dir(args.data_dir)
    check_subset(args.subset)


def check_subset(subset: int | None) -> None:
    """--subset: at most the training file; at least 60, so that its sixth that validates (and
    the sixth as many test images drawn with it) holds every class."""
    if subset is not None and not 6 * NUM_CLASSES <= subset <= TRAIN_IMAGES:
        raise UserError(
            f"--subset {subset}: must be between {6 * NUM_CLASSES} and {TRAIN_IMAGES} images"
        )


def tensorboard_folder(path) -> Path:
    """`--tensorboard`'s folder, checked: writable, and TensorFlow installed, which Keras writes
    TensorBoard's logs with on every backend (`keras.callbacks.TensorBoard`)."""
    import importlib.util

    if not all(importlib.util.find_spec(name) for name in ("tensorflow", "tensorboard")):
        raise UserError(
            f"--tensorboard {path}: Keras writes TensorBoard logs with TensorFlow and TensorBoard, "
            'not both installed here; install them with `python -m pip install -e ".[tensorflow]"`'
        )
    return writable_folder(path, "--tensorboard")


def writable_folder(path, flag: str) -> Path:
    """Make sure `path` is, or can be made, a folder this process can write to. Nothing is
    created here: a refused command leaves no trace."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a folder; give a folder")
    existing = path
    while not existing.exists():  # the nearest part of the path that is there already
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(
            f"{flag} {path}: cannot write there ({existing} is a file); give a folder you can "
            "write to"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"{flag} {path}: cannot write there (no permission on {existing}); give a folder "
            "you can write to"
        )
    return path


def readable_file(path, flag: str, hint: str) -> Path:
    """Make sure `path` is a file this process can read; `hint` says how to get one."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder, not a file; {hint}")
    if not path.is_file():
        raise UserError(f"{flag} {path}: no such file; {hint}")
    if not os.access(path, os.R_OK):
        raise UserError(f"{flag} {path}: cannot be read; {hint}")
    return path


def parse_numbers(text: str, flag: str, valid, hint: str) -> list[int]:
    """ "1,3" -> [1, 3] (sorted, each once) for a comma-separated flag; where a part is not a
    number or `valid(number)` is false, one line: `flag`, what was given, and `hint`."""
    try:
        numbers = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        numbers = []
    if not numbers or not all(map(valid, numbers)):
        raise UserError(f"{flag} {text!r}: {hint}")
    return numbers


def parse_cases(text: str) -> list[int]:
    """--cases, each a case of `config.CASES`."""
    hint = f"give case numbers from 1-{len(CASES)}, e.g. --cases 1,3"
    return parse_numbers(text, "--cases", CASES.__contains__, hint)
