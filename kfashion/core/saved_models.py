"""The saved models the stages read: found, loaded and checked in one place.

Every command that loads a `.keras` file checks what it maps to what before using it, so a
wrong file (a decoder or a classifier given as an encoder, a decoder of another latent size)
is one line naming the file, not a traceback from inside Keras.
"""

import zipfile
from pathlib import Path

from kfashion import config
from kfashion.config import IMAGE_SHAPE
from kfashion.core import cli, layout
from kfashion.core.errors import UserError

HINT = "run `python -m kfashion.tune` first, or pass --encoder a file it saved"
# kfashion's names for the models that are not encoders (models.build_*), to say which it is
OTHER_KINDS = ("classifier", "autoencoder", "decoder")


def network_of(models_folder: Path) -> str:
    """The network a models folder's encoders are, by the sweep that pretrained them: the
    architecture and pretext in the sweep.json beside the folder (`config.network`), or the
    course network where there is none."""
    from kfashion.core.files import read_json

    sweep = Path(models_folder).parent / layout.SWEEP
    saved = read_json(sweep) if sweep.is_file() else {}
    pretext = saved.get("settings", {}).get("pretext", config.PRETEXT)
    return config.network((saved.get("selected") or {}).get("config", {}), pretext)


def readable_archive(path, flag: str) -> Path:
    """A readable file that is a zip archive, as every `.keras` file is; checked before Keras
    is loaded, so a wrong file answers at once."""
    path = cli.readable_file(path, flag, HINT)
    if not zipfile.is_zipfile(path):
        raise UserError(f"{flag} {path}: not a readable .keras model (not a zip archive); {HINT}")
    return path


def parse_encoder_seeds(text: str) -> list[int]:
    """--encoder-seeds (of transfer and probe): pretraining seeds, each from 0."""
    hint = "give seeds from 0, e.g. --encoder-seeds 0,1,2"
    return cli.parse_numbers(text, "--encoder-seeds", lambda seed: seed >= 0, hint)


def encoder_entries(args) -> list[Path]:
    """The --encoder paths (default: RESULTS/models)."""
    return [Path(e) for e in args.encoder or [str(layout.model(args.results, "encoder").parent)]]


def default_encoder_seeds(entries: list[Path]) -> list[int]:
    """The pretraining seeds every --encoder folder holds (0 where one is a file)."""
    held = [
        {int(p.stem.removeprefix("encoder_seed")) for p in e.glob("encoder_seed[0-9]*.keras")
         if p.stem.removeprefix("encoder_seed").isdigit()}
        if e.is_dir()
        else {0}
        for e in entries
    ]  # fmt: skip
    return sorted(set.intersection(*held)) or [0]


def encoder_seeds(args) -> list[int]:
    """--encoder-seeds, or where not given every seed each --encoder folder holds."""
    if args.encoder_seeds:
        return parse_encoder_seeds(args.encoder_seeds)
    return default_encoder_seeds(encoder_entries(args))


def encoder_files(args, encoder_seeds) -> dict:
    """network name -> pretraining seed -> encoder file of --encoder and --encoder-seeds, each
    checked as readable. A network is named by the sweep that pretrained it (`network_of`)."""
    found = {}
    for entry in encoder_entries(args):
        folder = entry if entry.is_dir() else entry.parent
        name = network_of(folder)
        if name in found:
            raise UserError(f"--encoder {entry}: a second encoder of the {name} network; give one")
        if not entry.is_dir() and len(encoder_seeds) > 1:
            raise UserError(
                f"--encoder {entry}: one file holds one pretraining seed; give the models "
                "folder a sweep wrote for --encoder-seeds"
            )
        found[name] = {
            seed: readable_archive(
                layout.encoder_seed(folder, seed) if entry.is_dir() else entry, "--encoder"
            )
            for seed in encoder_seeds
        }
    return found


def load(path: Path):
    """Load a `.keras` file, or a UserError naming it."""
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # any failure to read the file means the same to the user
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UserError(
            f"{path}: not a readable .keras model ({type(error).__name__}: {message}); {HINT}"
        ) from None


def shapes(model) -> tuple:
    """(input shape, output shape) of a one-input, one-output model, or (None, None)."""
    try:
        inputs, outputs = model.input_shape, model.output_shape
    except (AttributeError, ValueError):  # not built, or a subclassed model
        return None, None
    single = all(isinstance(s, tuple) for s in (inputs, outputs))
    return (tuple(inputs), tuple(outputs)) if single else (None, None)


def load_encoder(path: Path):
    """Load and check an encoder: images (None, 28, 28, 1) in, flat codes (None, n) out."""
    model = load(path)
    inputs, outputs = shapes(model)
    kind = f"a {model.name}, " if model.name in OTHER_KINDS else ""
    if inputs is None or inputs[1:] != IMAGE_SHAPE or len(outputs) != 2 or kind:
        raise UserError(
            f"{path}: not an encoder: {kind}it maps {inputs} to {outputs}; an encoder must map "
            f"(None, 28, 28, 1) images to (None, n) codes; {HINT}"
        )
    return model


def load_decoder(path: Path, latent_dim: int, encoder_path: Path):
    """Load and check the decoder for an encoder of `latent_dim`: (None, n) codes in, images
    (None, 28, 28, 1) out."""
    model = load(path)
    inputs, outputs = shapes(model)
    if inputs != (None, latent_dim) or outputs is None or outputs[1:] != IMAGE_SHAPE:
        raise UserError(
            f"{path}: not the decoder of {encoder_path}: it maps {inputs} to {outputs}; it must "
            f"map the encoder's (None, {latent_dim}) codes to (None, 28, 28, 1) "
            f"images; put the decoder saved with that encoder beside it; {HINT}"
        )
    return model
