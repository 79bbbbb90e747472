"""The model card of a results folder's `models/` (its README.md, in the Hugging Face
convention): what each `.keras` file there is, from the JSON beside the models (`sweep.json`
for the autoencoder, encoder and decoder, `grid.json` for the classifiers)."""

import hashlib
import io
import zipfile
from pathlib import Path

from kfashion.config import CLASS_NAMES, IMAGE_SHAPE, NUM_CLASSES, PRETEXT
from kfashion.core import layout
from kfashion.core.files import file_digest, read_json
from kfashion.finetuning.grid import run_order
from kfashion.rendering.sections import chosen_trial, table

IMAGES = f"(None, {', '.join(map(str, IMAGE_SHAPE))})"
USE = {  # the third line of code, by kind; images are float32 in [0, 1]
    "autoencoder": "reconstructions = model.predict(images)  # images: {inputs} -> {outputs}",
    "encoder": "codes = model.predict(images)  # images: {inputs} -> codes: {outputs}",
    "decoder": "images = model.predict(codes)  # codes: {inputs} -> images: {outputs}",
    "classifier": "logits = model.predict(images)  # images: {inputs} -> logits: {outputs}\n"
    "classes = logits.argmax(axis=1)",
}


def made_by(stage: dict) -> str:
    p = stage["provenance"]
    versions = ", ".join(f"{k} {v}" for k, v in p["versions"].items())
    return f"`{p['command']}` on {p['date'][:10]}, backend {p['backend']}; {versions}"


def pretraining_score(record: dict, pretext: str) -> str:
    """A pretraining seed's (or point's) test score: its MSE where it reconstructs images, else
    its pretext's own loss (contrastive, supervised)."""
    if record.get("test_mse") is not None:
        return f"test MSE {record['test_mse']:.4f}"
    return f"{pretext} test loss {record['test_loss']:.4f}"


def describe(sweep: dict | None, grid: dict | None) -> dict:
    """file name -> (kind, what it is, input shape, output shape, test score, seed, the stage's
    JSON, and (metric, value) of this model's own test score, or None)."""
    found = {}
    if sweep:
        chosen = sweep["selected"]
        n = chosen["config"]["latent_dim"]
        point = chosen_trial(sweep)
        pretext = sweep["settings"].get("pretext", PRETEXT)
        named = "" if pretext == PRETEXT else f"{pretext} "  # "the selected masked autoencoder"
        config = ", ".join(f"{k}={v}" for k, v in chosen["config"].items())
        score = (
            f"{pretraining_score(chosen, pretext)} (this seed); "
            f"{pretraining_score(point, pretext)} mean over its point's {len(point['seeds'])} seeds"
        )
        shapes = {
            "autoencoder": (IMAGES, IMAGES),
            "encoder": (IMAGES, f"(None, {n})"),
            "decoder": (f"(None, {n})", IMAGES),
        }
        for kind, path in chosen["models"].items():
            what = f"the sweep's selected {named}{kind} ({chosen['rule']}: {config})"
            mse = ("mse", chosen["test_mse"]) if kind == "autoencoder" else None
            found[Path(path).name] = (kind, what, *shapes[kind], score, chosen["seed"], sweep, mse)
        runs = {run["seed"]: run for run in point["seeds"]}
        for seed, path in chosen.get("encoder_seeds", {}).items():  # every pretraining seed's
            what = f"the selected point's {named}encoder of pretraining seed {seed} ({config})"
            run = runs[int(seed)]
            by = "its autoencoder" if run.get("test_mse") is not None else "its pretraining model"
            score = f"{pretraining_score(run, pretext)} ({by}, this seed)"
            found[Path(path).name] = ("encoder", what, *shapes["encoder"], score, seed, sweep, None)
    if grid and (transfer := grid["classic"]):  # the classifiers saved: its four cases'
        seed = transfer["settings"]["seeds"][0]  # the saved classifiers' seed
        n = len(transfer["settings"]["seeds"])
        outputs = f"(None, {NUM_CLASSES})"
        for case, name in transfer["models"].items():
            entry = transfer["cases"][case]
            saved = next(  # a random case saves its first initialisation's
                r for r in transfer["runs"] if str(r["case"]) == case and run_order(r) == (seed, 0)
            )
            mine, accuracy = saved["test_accuracy"], entry["test_accuracy"]
            score = (
                f"test accuracy {mine:.2%} (this seed); {accuracy['mean']:.2%} ± "
                f"{accuracy.get('std') or 0:.2%} over {n} seeds"
            )
            what = f"classifier, case {case}: {entry['label']}, with a Dense({NUM_CLASSES}) head"
            row = ("classifier", what, IMAGES, outputs, score, seed, transfer, ("accuracy", mine))
            found[Path(name.split()[0]).name] = row
    return found


def identity(path: Path) -> str | None:
    """SHA-256 of what a `.keras` file holds, not when it was saved: its configuration and
    weights (two saves of one model differ only in `metadata.json`); None if unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            held = archive.read("config.json") + archive.read("model.weights.h5")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    return hashlib.sha256(held).hexdigest()


def parameters(path: Path) -> int:
    """The model's weights (its layers', not its optimizer's), counted in its archive."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    sizes = []
    weights["layers"].visititems(lambda _, item: sizes.append(getattr(item, "size", 0)))
    return int(sum(sizes))


def metadata(models: list[tuple]) -> list[str]:
    """The card's YAML header, in the Hugging Face convention: library, license, dataset, and
    each model's test score as a model-index entry."""
    out = ["---", "library_name: keras", "license: mit", "datasets:", "- fashion_mnist"]
    out += ["tags:", "- keras", "- fashion-mnist", "- autoencoder", "- transfer-learning"]
    scored = [(names, kind, metric) for names, (kind, *_, metric) in models if metric]
    out += ["model-index:"] if scored else []  # an encoder's codes have no test score
    for names, kind, (name, value) in scored:
        task = "image-classification" if kind == "classifier" else "image-to-image"
        out += [
            f"- name: {names[0].removesuffix('.keras')}",
            "  results:",
            f"  - task: {{type: {task}}}",
            "    dataset: {name: Fashion-MNIST, type: fashion_mnist, split: test}",
            f"    metrics: [{{type: {name}, value: {value:.4f}}}]",
        ]
    return out + ["---", ""]


def render(folder: Path) -> str | None:
    """The card for `folder`/models, or None when that folder holds no `.keras` file."""
    models = folder / "models"
    files = sorted(models.glob("*.keras")) if models.is_dir() else []
    if not files:
        return None
    stages = [folder / name for name in (layout.SWEEP, layout.GRID)]
    known = describe(*(read_json(path) if path.exists() else None for path in stages))
    same = {}  # one model saved under several names: one entry
    for path in files:
        same.setdefault(identity(path) or path.name, []).append(path)
    described = [
        ([p.name for p in paths], known[paths[0].name])
        for paths in same.values()
        if paths[0].name in known
    ]
    out = [
        *metadata(described),
        "# Models",
        "",
        "Generated by `python -m kfashion.report` from the JSON files of the folder above; do "
        "not edit by hand. Each file is a Keras 3 `.keras` archive that loads with "
        "`keras.saving.load_model` without kfashion, on the TensorFlow, JAX or PyTorch backend.",
        "",
        "- Input: grayscale images of 28 x 28 pixels, float32 in [0, 1] (the bytes of "
        "Fashion-MNIST divided by 255), shape (n, 28, 28, 1).",
        "- The classifiers output logits, one per class; `keras.ops.softmax` of them gives "
        "probabilities. The classes:",
        "",
        *table("label | class", [[k, name] for k, name in enumerate(CLASS_NAMES)]),
        "",
        "- Intended use: teaching and research on what pretraining gives a small convolutional "
        "network, on Fashion-MNIST (the study in the folder above).",
        "- Limitations: trained on 50,000 Fashion-MNIST training images only, centred and "
        "upright 28 x 28 product photos on a black ground; other images (photographs, other "
        "sizes, colour) are outside what these models saw. The scores are on Fashion-MNIST's "
        "test split, which chose nothing; one seed's number differs from another's (the "
        "spread beside it).",
        "",
    ]
    for paths in same.values():
        names = " = ".join(f"`{p.name}`" for p in paths)
        out += [f"## {names}", ""]
        if len(paths) > 1:
            out += ["One model saved under these names.", ""]
        if paths[0].name not in known:
            out += ["Not described by this folder's JSON files.", ""]
            continue
        kind, what, inputs, outputs, score, seed, stage, _ = known[paths[0].name]
        out += [
            f"- What: {what}.",
            f"- Input {inputs}, output {outputs}; {parameters(paths[0]):,} parameters.",
            f"- Test score: {score}.",
            f"- Seed: {seed}, its best epoch's weights.",
            f"- Made by {made_by(stage)}.",
            *(f"- SHA-256 of `{p.name}`: `{file_digest(p)}`." for p in paths),
            "",
            "```python",
            "import keras",
            "",
            f'model = keras.saving.load_model("{paths[0].name}")',
            USE[kind].format(inputs=inputs, outputs=outputs),
            "```",
            "",
        ]
    return "\n".join(out)
