"""`python docs/bench.py`: how fast kfashion trains on this machine. A benchmark, not a test,
and not part of the package: run it from the repository's root, with kfashion installed.

Times, in one run, each stage's own run exactly as its command trains it: a sweep seed (the
sweep's `SweepTuner.search` over the base point: its callbacks, validation, each seed's record
and saved model), and grid runs at all labels and at 100 labels, joint, two-phase and frozen
(the grid's `GridTuner.run_trial` on one cell: its recipe, best-epoch callback, validation,
test scores, record). Beside them a plain Keras `fit` of the same run and, with `--torch`, a
plain PyTorch loop of it (the autoencoder and the classifier): the same network, training
images, epochs and batch size, validation after every epoch, the test split scored once at the
end. Every variant runs once untimed, then `--repeats` times, the variants taken in turn so all
see the same machine; the medians and their spread are reported, with the float32 matmul peak
measured before and after. Also the wall time of `python -m kfashion.study --quick`; with
`--study`, that of the whole default study from scratch, stage by stage, with JAX's
compilation-cache hits and misses; with `--full-sweep N`, that of the default sweep alone on N
workers; with `--only-quick`, the quick look alone, into the machine's entry (its timed runs
kept). Writes `bench.json` under `--results`, one entry per machine and backend.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# this checkout's kfashion, whichever one is installed: the bench measures its own
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import kfashion
from kfashion import config, data
from kfashion.core import cli, layout
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import read_json, write_json
from kfashion.core.provenance import machine, provenance, utc_now
from kfashion.finetuning.grid import ALL

ROOT = Path(__file__).resolve().parents[1]  # the checkout, whose kfashion the commands run

EPOCHS = 2  # of every timed run
REPEATS = 3  # timed runs of each variant, after one untimed
TORCH_BAR = 1.5  # a stage's run against a plain PyTorch loop of the same run: the bar


def training_flops_per_image(model) -> int:
    """Multiply-adds x 2 of one forward pass, x 3 for forward plus backward (the usual estimate).

    Counted from the layers: Conv2D, Conv2DTranspose and Dense; activations, pooling and
    dropout are left out (they are a small share here).
    """
    import keras

    forward = 0
    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, height, width, channels = layer.input.shape
            kernel_h, kernel_w = layer.kernel_size
            forward += 2 * height * width * channels * kernel_h * kernel_w * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            kernel_h, kernel_w = layer.kernel_size
            forward += 2 * height * width * filters * kernel_h * kernel_w * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            forward += 2 * layer.input.shape[-1] * layer.units
    return 3 * forward


def _leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Best float32 matmul rate of this backend and device, in GFLOP/s."""
    import keras

    a = keras.random.normal((size, size), seed=0)
    b = keras.random.normal((size, size), seed=1)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm-up (and compilation, on JAX)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.matmul(a, b)))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def variants(dataset, epochs: int, min_steps: int, with_torch: bool) -> dict:
    """name -> (what it is, its run), in the order they are taken."""

    def grid(labels, case, recipe, rate):
        return grid_run(dataset, labels, case, recipe, rate, epochs, min_steps)

    out = {
        "sweep_seed": (
            "a sweep seed (base point), alone in this process",
            sweep_point(dataset, epochs, [0]),
        ),
        "autoencoder_plain_fit": (
            "the same autoencoder run in a plain fit",
            plain_fit(dataset, "autoencoder", epochs),
        ),
        "grid_all_joint": ("a grid run, all labels, case 1, joint", grid(ALL, 1, "joint", 1e-3)),
        "grid_all_two_phase": ("the same, two-phase", grid(ALL, 1, "two_phase", 1e-4)),
        "grid_all_frozen": ("the same, case 2, frozen", grid(ALL, 2, "frozen", 3e-3)),
        "classifier_plain_fit": (
            "the same joint run in a plain fit",
            plain_fit(dataset, "classifier", epochs),
        ),
        "grid_100_joint": (
            "a grid run, 100 labels (repeated to --min-steps steps, the last epoch kept, no "
            "validation), case 1, joint",
            grid("100", 1, "joint", 1e-3),
        ),
        "grid_100_two_phase": ("the same, two-phase", grid("100", 1, "two_phase", 1e-4)),
        "grid_100_frozen": ("the same, case 2, frozen", grid("100", 2, "frozen", 3e-3)),
    }
    if with_torch:
        for network in ("autoencoder", "classifier"):
            run = plain_torch(dataset, network, epochs)
            out[f"{network}_plain_torch"] = (f"the same {network} run in a plain PyTorch loop", run)
    return out


def timed(variants: dict, repeats: int) -> dict:
    """Each variant's run once untimed (first traces, caches), then `repeats` times, taken in
    turn: the seconds of each, and the images per second of the median."""
    images = {name: run() for name, (_, run) in variants.items()}
    seconds = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (_, run) in variants.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
            print(f"{name}: {seconds[name][-1]:.1f} s", flush=True)
    return {
        name: {
            "what": what,
            "images": images[name],
            "seconds": seconds[name],
            "seconds_median": float(np.median(seconds[name])),
            "images_per_second_median": images[name] / float(np.median(seconds[name])),
        }
        for name, (what, _) in variants.items()
    }


def verdicts(runs: dict) -> dict:
    """The ratios of images per second (medians) that the bars read."""

    def ratio(faster: str, slower: str) -> float | None:
        if faster not in runs or slower not in runs:
            return None
        rate = {name: runs[name]["images_per_second_median"] for name in (faster, slower)}
        return rate[faster] / rate[slower]

    against = {
        "sweep_seed_over_plain_fit": ratio("sweep_seed", "autoencoder_plain_fit"),
        "sweep_seed_over_plain_torch": ratio("sweep_seed", "autoencoder_plain_torch"),
        "grid_all_joint_over_plain_fit": ratio("grid_all_joint", "classifier_plain_fit"),
        "grid_all_joint_over_plain_torch": ratio("grid_all_joint", "classifier_plain_torch"),
    }
    return {
        "ratios": against,
        "torch_bar": TORCH_BAR,
        "meets_torch_bar": {
            name: value >= TORCH_BAR for name, value in against.items() if "torch" in name and value
        },
    }


def _timed_run(command: list[str], folder, env=None) -> tuple[float, dict]:
    """Wall seconds of `python -m COMMAND` in `folder`, and of each study stage it announces
    ("[study i/N] ..." lines); a UserError if it fails."""
    python_path = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    start = time.perf_counter()
    stages, current = {}, None
    with subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=folder,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *python_path]), **(env or {})},
    ) as process:
        for line in process.stdout:
            if line.startswith("[study ") and ": python -m " in line:
                now = time.perf_counter()
                if current:
                    stages[current] = now - stages[current]
                current = line.split(": python -m ", 1)[1].strip()
                stages[current] = now
    wall = time.perf_counter() - start
    if current:
        stages[current] = start + wall - stages[current]
    if process.returncode != 0:
        raise UserError(
            f"python -m {' '.join(command)} failed (exit code {process.returncode}); "
            "run it to see why"
        )
    return wall, stages


def timed_study(extra: list[str], data_dir) -> dict:
    """`python -m kfashion.study EXTRA` from scratch in a temporary folder: its wall time, each
    stage's, and (on JAX) the compilation cache's hits and misses over all its processes."""
    command = ["kfashion.study", *extra]
    command += ["--data-dir", str(Path(data_dir).resolve())] if data_dir else []
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "cache.jsonl"
        wall, stages = _timed_run(command, folder, {"KFASHION_CACHE_LOG": str(log)})
        lines = log.read_text().splitlines() if log.exists() else []
        counts = [json.loads(line) for line in lines]
    return {
        "command": " ".join(["python -m", *command]),
        "date": utc_now(),
        "kfashion": kfashion.__version__,
        "sizes": config.QUICK if "--quick" in extra else None,  # a quick look's, as it ran
        "wall_seconds": wall,
        "stage_seconds": stages,
        "compilation_cache": {key: sum(c[key] for c in counts) for key in ("hits", "misses")},
    }


def full_sweep(workers: int, data_dir: str | None) -> dict:
    """Wall time of the default sweep alone (`python -m kfashion.tune --workers N`), from
    scratch in a temporary folder."""
    command = ["kfashion.tune", "--workers", str(workers)]
    command += ["--data-dir", str(Path(data_dir).resolve())] if data_dir else []
    with tempfile.TemporaryDirectory() as folder:
        wall, _ = _timed_run(command, folder)
        summary = read_json(Path(folder) / "results" / layout.SWEEP)
    return {
        "command": " ".join(["python -m", *command]),
        "wall_seconds": wall,
        "search_seconds": summary["search_seconds_this_run"],
        "trials_completed": sum(t["status"] == "COMPLETED" for t in summary["trials"]),
    }


def _quietly(run):
    """`run` with the stage's progress lines (one per run or seed) left out of the bench's."""

    def quiet():
        with contextlib.redirect_stdout(io.StringIO()):
            return run()

    return quiet


def sweep_point(dataset, epochs: int, seeds: list[int]):
    """The base point's trial with `seeds`, as `python -m kfashion.tune` runs it."""
    from kfashion import config
    from kfashion.pretraining import sweep

    points = config.make_design([])  # the base case alone

    def run():
        with tempfile.TemporaryDirectory() as folder:
            tuner = sweep.SweepTuner(
                design=points,
                seeds=seeds,
                test_data=(dataset.x_test, dataset.x_test),
                rank_images=dataset.x_val,
                probe_data=sweep.probe_data(dataset),
                oracle=sweep.DesignOracle(points),
                hypermodel=sweep.AutoencoderHyperModel(verbose=0),
                directory=folder,
                project_name="sweep",
            )
            tuner.oracle.verbose = 0
            tuner.search(
                dataset.x_train,
                dataset.x_train,
                validation_data=(dataset.x_val, dataset.x_val),
                epochs=epochs,
            )
        return len(seeds) * epochs * len(dataset.x_train)

    return _quietly(run)


def grid_run(dataset, labels: str, case: int, recipe: str, rate: float, epochs: int, min_steps):
    """One final run of the course network's grid, as `python -m kfashion.transfer` trains it
    (`min_steps`: a few-label run's)."""
    import keras_tuner

    from kfashion.core import models
    from kfashion.finetuning import grid, grid_tuner

    encoder = models.build_encoder(64, 0.1)  # the reference choice; its weights cost no time
    pretrained = case in (1, 2)
    cell = grid.Cell("course", labels, case, recipe, 0 if pretrained else -1, (0,), False, rate)
    split = grid_tuner.split_for(cell, 0, dataset, config.TRANSFER_BATCH_SIZE, epochs, min_steps)
    hp = grid_tuner.search_space([cell])
    hp.values.update(cell.values())
    trial = keras_tuner.engine.trial.Trial(hp, trial_id="0")

    def run():
        with tempfile.TemporaryDirectory() as folder:
            tuner = grid_tuner.GridTuner(
                {"course": {0: (encoder, "")}},
                dataset,
                Path(folder),
                epochs,
                config.TRANSFER_BATCH_SIZE,
                min_steps,
                lambda cell: None,
                None,
                oracle=grid_tuner.GridOracle([cell], folder),
                directory=folder,
                project_name="grid",
            )
            tuner.run_trial(trial)
        return epochs * len(split.x_train)

    return _quietly(run)


def plain_fit(dataset, network: str, epochs: int):
    """A fresh model of `network` ("autoencoder", or "classifier": the course encoder and its
    head) in a plain `fit`: Keras's defaults, Adam at 1e-3."""
    import keras

    from kfashion.core import models

    x, x_val, x_test = dataset.x_train, dataset.x_val, dataset.x_test
    if network == "autoencoder":
        y, y_val, y_test, loss, metrics = x, x_val, x_test, "mse", []
    else:
        y, y_val, y_test = dataset.y_train, dataset.y_val, dataset.y_test
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = ["accuracy"]

    def run():
        keras.utils.set_random_seed(0)
        if network == "autoencoder":
            model = models.build_autoencoder(64, 0.2)
        else:
            model = models.build_classifier(models.build_encoder(64, 0.1))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=metrics)
        model.fit(
            x,
            y,
            batch_size=config.TRANSFER_BATCH_SIZE,
            epochs=epochs,
            validation_data=(x_val, y_val),
            verbose=0,
        )
        model.evaluate(x_test, y_test, batch_size=config.TRANSFER_BATCH_SIZE, verbose=0)
        return epochs * len(x)

    return run


def torch_network(network: str):
    """The network of `kfashion.core.models` (the course architecture) as a PyTorch module."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError("--torch needs PyTorch: python -m pip install torch") from None
    from torch import nn

    p = 0.2 if network == "autoencoder" else 0.1
    encoder = [
        nn.Conv2d(1, 16, 3),
        nn.ReLU(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3),
        nn.ReLU(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(800, 64),
        nn.ReLU(),
        nn.Dropout(p),
    ]
    if network == "classifier":
        return nn.Sequential(*encoder, nn.Linear(64, 10))
    return nn.Sequential(
        *encoder,
        nn.Linear(64, 800),
        nn.ReLU(),
        nn.Dropout(p),
        nn.Unflatten(1, (32, 5, 5)),
        nn.ConvTranspose2d(32, 16, 4, stride=2, output_padding=1),
        nn.ReLU(),
        nn.Dropout(p),
        nn.ConvTranspose2d(16, 1, 3, stride=2, output_padding=1),
        nn.Sigmoid(),
    )


def plain_torch(dataset, network: str, epochs: int):
    """A fresh `torch_network(network)` in a plain PyTorch loop: Adam at 1e-3, shuffled
    batches, the validation split scored after each epoch and the test split at the end."""
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count() or 1)

    def images(x):  # channels first, converted once, as a plain loop would
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    x, x_val, x_test = (images(d) for d in (dataset.x_train, dataset.x_val, dataset.x_test))
    if network == "autoencoder":
        y, y_val, y_test, loss_fn = x, x_val, x_test, nn.MSELoss()
    else:
        y, y_val, y_test = (
            torch.from_numpy(d.astype(np.int64))
            for d in (dataset.y_train, dataset.y_val, dataset.y_test)
        )
        loss_fn = nn.CrossEntropyLoss()

    def score(model, inputs, targets) -> float:
        model.eval()
        with torch.no_grad():
            total = sum(
                loss_fn(
                    model(inputs[i : i + config.TRANSFER_BATCH_SIZE]),
                    targets[i : i + config.TRANSFER_BATCH_SIZE],
                ).item()
                for i in range(0, len(inputs), config.TRANSFER_BATCH_SIZE)
            )
        return total

    def run():
        torch.manual_seed(0)
        model = torch_network(network)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        for _ in range(epochs):
            model.train()
            for batch in torch.randperm(len(x)).split(config.TRANSFER_BATCH_SIZE):
                optimizer.zero_grad()
                loss_fn(model(x[batch]), y[batch]).backward()
                optimizer.step()
            score(model, x_val, y_val)
        score(model, x_test, y_test)
        return epochs * len(x)

    return run


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = cli.parser("docs/bench.py", "Measure training speed on this machine.", "--torch")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs of every timed run")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed runs per variant")
    parser.add_argument(
        "--min-steps", type=int, default=config.MIN_STEPS, help="training steps of a few-label run"
    )
    parser.add_argument("--results", default=config.RESULTS, help="where bench.json is written")
    cli.add_data_flags(parser)
    parser.add_argument("--torch", action="store_true", help="also a plain PyTorch loop")
    parser.add_argument("--skip-study", action="store_true", help="skip timing study --quick")
    parser.add_argument(
        "--only-quick",
        action="store_true",
        help="time study --quick alone, into this machine's entry (its timed runs kept)",
    )
    parser.add_argument(
        "--study",
        action="store_true",
        help="also time the whole default study from scratch "
        "(about a minute on a GPU, hours on a CPU)",
    )
    parser.add_argument(
        "--full-sweep",
        type=int,
        action="append",
        default=[],
        metavar="WORKERS",
        help="also time the default sweep alone with this many workers (repeatable)",
    )
    args = parser.parse_args(argv)
    cli.at_least(args.epochs, 1, "--epochs")
    cli.at_least(args.repeats, 1, "--repeats")
    cli.at_least(args.min_steps, 1, "--min-steps")
    if any(workers < 1 for workers in args.full_sweep):
        raise UserError("--full-sweep takes a number of workers, at least 1")
    cli.check_data_flags(args)
    path = cli.writable_folder(args.results, "--results") / layout.BENCH
    previous = read_json(path) if path.exists() else {}
    from kfashion.core.quiet_keras import load_keras

    load_keras()  # before anything imports Keras: it sets the backend's memory settings
    if args.only_quick:
        key = entry_key(machine())
        quick = timed_study(["--quick"], args.data_dir)
        write_json(path, {**previous, key: {**previous.get(key, {}), "quick_study": quick}})
        print(f"{quick['command']}: {quick['wall_seconds']:.0f} s; wrote {path} (entry {key!r})")
        return
    start = time.perf_counter()
    dataset = data.load(args.data_dir, subset=args.subset)
    load_seconds = time.perf_counter() - start
    about = machine()
    peak = matmul_peak_gflops()
    print(
        f"{about['cpu']}, {about['cores']} cores, {about['backend']}, "
        f"accelerators: {about['accelerators'] or 'none'}; {dataset.describe()}",
        flush=True,
    )
    runs = timed(variants(dataset, args.epochs, args.min_steps, args.torch), args.repeats)
    entry = {
        "provenance": provenance("docs/bench.py", argv, dataset),
        "machine": about,
        "batch_size": config.TRANSFER_BATCH_SIZE,
        "epochs": args.epochs,
        "min_steps": args.min_steps,
        "timed_runs": args.repeats,
        "data_load_seconds": load_seconds,
        "matmul_peak_gflops": [peak, matmul_peak_gflops()],  # before and after the runs
        "training_flops_per_image": flops_per_image(),
        "runs": runs,
        **verdicts(runs),
        "quick_study": (
            previous.get(entry_key(about), {}).get("quick_study")  # kept: it has its own date
            if args.skip_study
            else timed_study(["--quick"], args.data_dir)
        ),
        "study": timed_study([], args.data_dir) if args.study else None,
        "full_sweeps": [full_sweep(workers, args.data_dir) for workers in args.full_sweep],
    }
    key = entry_key(about)
    write_json(path, {**previous, key: entry})
    print_table(entry)
    print(f"wrote {path} (entry {key!r})")


def entry_key(about: dict) -> str:
    """bench.json's key of a machine and backend: "AMD EPYC x2, no GPU, tensorflow"."""
    accelerators = "+".join(about["accelerators"]) or "no GPU"
    return f"{about['cpu']} x{about['cores']}, {accelerators}, {about['backend']}"


def flops_per_image() -> dict:
    from kfashion.core import models

    return {
        "autoencoder": training_flops_per_image(models.build_autoencoder(64, 0.2)),
        "classifier": training_flops_per_image(models.build_classifier(models.build_encoder(64))),
    }


def print_table(entry: dict) -> None:
    low, high = sorted(entry["matmul_peak_gflops"])
    print(
        f"\ndata load: {entry['data_load_seconds']:.1f} s; float32 matmul peak: {low:.0f}-"
        f"{high:.0f} GFLOP/s; {entry['epochs']} epochs a run, median of {entry['timed_runs']}"
    )
    print(f"{'run':<36} {'seconds (median)':>17} {'images/s':>9}  what")
    for name, run in entry["runs"].items():
        print(
            f"{name:<36} {run['seconds_median']:>17.1f} {run['images_per_second_median']:>9.0f}"
            f"  {run['what']}"
        )
    for name, ratio in entry["ratios"].items():
        if ratio is not None:
            print(f"{name}: {ratio:.2f}x")
    for name in ("quick_study", "study"):
        if run := entry[name]:
            stages = ", ".join(f"{s.split()[0]} {t:.0f} s" for s, t in run["stage_seconds"].items())
            print(f"{run['command']}: {run['wall_seconds']:.0f} s ({stages})")
    for sweep in entry["full_sweeps"]:
        print(f"{sweep['command']}: {sweep['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
