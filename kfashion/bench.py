"""`python -m kfashion.bench`: how fast kfashion trains on this machine. A benchmark, not a test.

Measures, in one run: data load time; training throughput (images/s, median of several epochs
after a warm-up) of the autoencoder and the classifier at batch 100, through the stages' own
code path and through a plain `model.fit` of the same network (and, with `--torch`, a plain
PyTorch loop of the same autoencoder), taking the variants in turn so all see the same
machine; FLOPs per training image counted from the layers and the fraction of this machine's
measured float32 matmul peak that reaches; images/s per seed trained of a sweep point's seeds
trained together as one model against one at a time (the CPU path); the wall time of
`python -m kfashion.study --quick`; with `--study`, that of the whole default study from
scratch, stage by stage, with JAX's compilation-cache hits and misses; with `--full-sweep N`,
that of the default sweep alone on N workers. Writes `bench.json` under `--results`, one entry
per machine and backend.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kfashion import cli, data, layout
from kfashion.errors import UserError, exit_on_user_error
from kfashion.files import read_json, write_json
from kfashion.provenance import machine, provenance

# Defaults, all visible here.
IMAGES = 10_000  # training images per timed epoch
REPEATS = 5  # timed epochs per variant, after one warm-up epoch
BATCH_SIZE = 100
RESULTS = "results"
SEEDS = 3  # seeds of one sweep point, trained together or one at a time


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


def _plain_autoencoder():
    """Today's plain `model.fit` of the same network: default compile, numpy arrays."""
    import keras

    from kfashion import models
    from kfashion.design import BASE

    keras.utils.set_random_seed(0)
    model = models.build_autoencoder(BASE["latent_dim"], BASE["dropout"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return lambda x: model.fit(x, x, batch_size=BATCH_SIZE, epochs=1, verbose=0), model


def _torch_autoencoder():
    """The autoencoder of `models.build_autoencoder` in a plain PyTorch loop: Adam 1e-3, MSE,
    shuffled."""
    try:
        import torch
    except ImportError:
        raise UserError("--torch needs PyTorch: pip install torch") from None
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    p = 0.2
    model = nn.Sequential(
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
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.MSELoss()
    images = {}

    def run(x):
        if id(x) not in images:  # channels first, converted once as a plain loop would
            images[id(x)] = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        batches = images[id(x)]
        model.train()
        for indices in torch.randperm(len(batches)).split(BATCH_SIZE):
            batch = batches[indices]
            optimizer.zero_grad()
            loss_fn(model(batch), batch).backward()
            optimizer.step()

    return run, model


def _stage_autoencoder():
    """The tune stage's path: the hypermodel's build and fit at the base case."""
    import keras_tuner

    from kfashion import sweep

    hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    return lambda x: hypermodel.fit(hp, model, x, x, epochs=1), model


def _seed_models(network: str, seeds):
    """Each seed's model as its stage builds it: the sweep's base-case autoencoder, or case 1's
    classifier (a fresh course encoder, p=0.1, and the head) as the grid compiles it."""
    import keras_tuner

    from kfashion import cases, models, sweep

    if network == "autoencoder":
        hypermodel = sweep.AutoencoderHyperModel(verbose=0)
        return [hypermodel.build(keras_tuner.HyperParameters(), seed) for seed in seeds]
    built = []
    for seed in seeds:
        classifier = cases.make_classifier(models.build_encoder(64, 0.1), 3, seed, True)
        cases.compile_classifier(classifier, 1e-3, steps=10_000)
        built.append(classifier)
    return built


def _seeds(network: str, together: bool, labels):
    """A stage's seeds on a CPU: as branches of one model (`kfashion.seeds_together`), or one
    model after another, each epoch in the seeds' own image orders. One run trains every seed
    one epoch; `labels` are the classifier's targets."""
    from kfashion import seeds_together

    seeds = list(range(SEEDS))
    models = _seed_models(network, seeds)
    epochs = [0]

    def ordered(x):
        epochs[0] += 1
        orders = [seeds_together.epoch_order(seed, epochs[0], len(x)) for seed in seeds]
        targets = [x[o] if network == "autoencoder" else labels[o] for o in orders]
        return [x[o] for o in orders], targets

    if together:
        # even batches, as the stages' 50,000 images in batches of 100: no loss metrics needed
        group = seeds_together.group(models, seeds, uneven=False)

        def run(x):
            inputs, targets = ordered(x)
            group.fit(inputs, targets, batch_size=BATCH_SIZE, shuffle=False, verbose=0)

        return run, group

    def run(x):
        for model, *data_ in zip(models, *ordered(x), strict=True):
            model.fit(*data_, batch_size=BATCH_SIZE, shuffle=False, verbose=0)

    return run, models[0]


# bench.json's entries of seeds trained together: the sweep's autoencoders, the grid's
# classifiers
SEEDS_TOGETHER = ("seeds_together", "classifier_seeds_together")


def measure_seeds_together(x, repeats: int, network="autoencoder", labels=None) -> dict:
    """Images/s per seed trained (each seed's images count) of `SEEDS` seeds of `network`
    together and one at a time, and the ratio."""
    variants = {
        "together": _seeds(network, True, labels),
        "one_at_a_time": _seeds(network, False, labels),
    }
    measured = throughput(variants, x, repeats)
    for entry in measured.values():
        for name in ("images_per_second_median", "images_per_second_best"):
            entry[f"seed_{name}"] = entry.pop(name) * SEEDS
        entry["seed_images_per_cpu_second_median"] = (
            entry.pop("images_per_cpu_second_median") * SEEDS
        )
    rate = {name: m["seed_images_per_second_median"] for name, m in measured.items()}
    return {
        "network": network,
        "seeds": SEEDS,
        **measured,
        "speedup": rate["together"] / rate["one_at_a_time"],
    }


def _plain_classifier(labels):
    import keras

    from kfashion import models

    keras.utils.set_random_seed(0)
    model = models.build_classifier(models.build_encoder(64, 0.1))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return lambda x: model.fit(x, labels, batch_size=BATCH_SIZE, epochs=1, verbose=0), model


def _stage_classifier(labels):
    """The transfer stage's path: case 1's classifier, compiled as transfer compiles it."""
    from kfashion import cases, models, training

    encoder = models.build_encoder(64, 0.1)
    model = cases.make_classifier(encoder, 1, 0, train_encoder=True)
    cases.compile_classifier(model, 1e-3, steps=10_000)
    fit_options = {k: v for k, v in training.fit_options().items() if "validation" not in k}
    return (
        lambda x: model.fit(x, labels, batch_size=BATCH_SIZE, epochs=1, verbose=0, **fit_options),
        model,
    )


def throughput(variants: dict, x, repeats: int) -> dict:
    """Images/s of each variant: one warm-up epoch each, then epochs taken in turn."""
    for run, _ in variants.values():
        run(x)  # traces the train function once; later epochs reuse it
    seconds = {name: [] for name in variants}
    cpu_seconds = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (run, _) in variants.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            run(x)
            seconds[name].append(time.perf_counter() - start)
            cpu_seconds[name].append(time.process_time() - cpu_start)
    # CPU time is reported beside wall time: on a shared virtual machine the wall time of an
    # epoch jumps when the host takes cores away, while the CPU time the work needs does not.
    return {
        name: {
            "images_per_second_median": len(x) / float(np.median(times)),
            "images_per_second_best": len(x) / min(times),
            "images_per_cpu_second_median": len(x) / float(np.median(cpu_seconds[name])),
            "epoch_seconds": times,
            "epoch_cpu_seconds": cpu_seconds[name],
        }
        for name, times in seconds.items()
    }


def _timed_run(command: list[str], folder, env=None) -> tuple[float, dict]:
    """Wall seconds of `python -m COMMAND` in `folder`, and of each study stage it announces
    ("[study i/N] ..." lines); a UserError if it fails."""
    start = time.perf_counter()
    stages, current = {}, None
    with subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=folder,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
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


def measure(networks: dict, x, repeats: int, peak: float) -> dict:
    """Throughput of every variant of each network, its FLOP rate, and the ratios to kfashion."""
    results = {}
    for network, variants in networks.items():
        flops = training_flops_per_image(variants["kfashion"][1])
        measured = throughput(variants, x, repeats)
        for entry in measured.values():
            rate = entry["images_per_second_median"] * flops / 1e9
            entry["gflops_per_second"] = rate
            entry["fraction_of_matmul_peak"] = rate / peak
        ours = measured["kfashion"]["images_per_second_median"]
        ratios = {
            f"kfashion_over_{name}": ours / m["images_per_second_median"]
            for name, m in measured.items()
            if name != "kfashion"
        }
        results[network] = {
            "training_flops_per_image": flops,
            **ratios,
            **measured,
            "speedup": ratios["kfashion_over_plain_fit"],
        }
        print(f"{network}: {flops / 1e6:.1f} MFLOP per training image", flush=True)
    return results


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = cli.parser("kfashion.bench", "Measure training speed on this machine.")
    parser.add_argument("--images", type=int, default=IMAGES, help="images per timed epoch")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed epochs per variant")
    parser.add_argument("--results", default=RESULTS, help="where bench.json is written")
    parser.add_argument("--data-dir", help="folder with the four IDX .gz files")
    parser.add_argument("--torch", action="store_true", help="also a plain PyTorch loop")
    parser.add_argument("--skip-study", action="store_true", help="skip timing study --quick")
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
    if not BATCH_SIZE <= args.images <= 50_000 or args.repeats < 1:
        raise UserError("--images must be 100-50000 and --repeats at least 1")
    if any(workers < 1 for workers in args.full_sweep):
        raise UserError("--full-sweep takes a number of workers, at least 1")
    cli.check_data_dir(args.data_dir)
    path = cli.writable_folder(args.results, "--results") / layout.BENCH
    from kfashion.quiet_keras import load_keras

    load_keras()
    start = time.perf_counter()
    dataset = data.load(args.data_dir)
    load_seconds = time.perf_counter() - start
    x, labels = dataset.x_train[: args.images], dataset.y_train[: args.images]
    about = machine()
    peak = matmul_peak_gflops()
    print(
        f"{about['cpu']}, {about['cores']} cores, {about['backend']}, "
        f"accelerators: {about['accelerators'] or 'none'}",
        flush=True,
    )
    autoencoders = {"plain_fit": _plain_autoencoder(), "kfashion": _stage_autoencoder()}
    if args.torch:
        autoencoders["plain_torch"] = _torch_autoencoder()
    networks = {
        "autoencoder": autoencoders,
        "classifier": {
            "plain_fit": _plain_classifier(labels),
            "kfashion": _stage_classifier(labels),
        },
    }
    results = measure(networks, x, args.repeats, peak)
    together = measure_seeds_together(x, args.repeats)
    classifiers = measure_seeds_together(x, args.repeats, "classifier", labels)
    entry = {
        "provenance": provenance("kfashion.bench", argv, dataset),
        "machine": about,
        "batch_size": BATCH_SIZE,
        "images_per_epoch": args.images,
        "timed_epochs": args.repeats,
        "data_load_seconds": load_seconds,
        "matmul_peak_gflops": peak,
        "training": results,
        "seeds_together": together,
        "classifier_seeds_together": classifiers,
        "quick_study": None if args.skip_study else timed_study(["--quick"], args.data_dir),
        "study": timed_study([], args.data_dir) if args.study else None,
        "full_sweeps": [full_sweep(workers, args.data_dir) for workers in args.full_sweep],
    }
    previous = read_json(path) if path.exists() else {}
    key = (
        f"{about['cpu']} x{about['cores']}, {'+'.join(about['accelerators']) or 'no GPU'}, "
        f"{about['backend']}"
    )
    write_json(path, {**previous, key: {**previous.get(key, {}), **entry}})
    print_table(entry)
    print(f"wrote {path} (entry {key!r})")


def print_table(entry: dict) -> None:
    print(
        f"\ndata load: {entry['data_load_seconds']:.1f} s; float32 matmul peak: "
        f"{entry['matmul_peak_gflops']:.0f} GFLOP/s"
    )
    print(
        f"{'network':<12} {'path':<12} {'images/s (median)':>18} {'per CPU-s':>10} "
        f"{'GFLOP/s':>8} {'of peak':>8}"
    )
    for network, measured in entry["training"].items():
        for name, m in measured.items():
            if isinstance(m, dict):
                print(
                    f"{network:<12} {name:<12} {m['images_per_second_median']:>18.0f} "
                    f"{m['images_per_cpu_second_median']:>10.0f} "
                    f"{m['gflops_per_second']:>8.1f} {m['fraction_of_matmul_peak']:>8.1%}"
                )
        for name, ratio in measured.items():
            if name.startswith("kfashion_over_"):
                print(
                    f"{network:<12} kfashion / {name.removeprefix('kfashion_over_')}: {ratio:.2f}x"
                )
    for together in filter(None, (entry.get(k) for k in SEEDS_TOGETHER)):
        rates = {
            name: f"{together[name]['seed_images_per_second_median']:.0f}"
            for name in ("together", "one_at_a_time")
        }
        print(
            f"{together['network']}, {together['seeds']} seeds (images/s per seed trained): "
            f"together {rates['together']}, one at a time {rates['one_at_a_time']}, "
            f"{together['speedup']:.2f}x"
        )
    for name in ("quick_study", "study"):
        if run := entry[name]:
            stages = ", ".join(f"{s.split()[0]} {t:.0f} s" for s, t in run["stage_seconds"].items())
            print(f"{run['command']}: {run['wall_seconds']:.0f} s ({stages})")
    for sweep in entry["full_sweeps"]:
        print(f"{sweep['command']}: {sweep['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
