"""`python -m kfashion.bench`: how fast kfashion trains on this machine. A benchmark, not a test.

Measures, in one run: data load time; training throughput (images/s, median of several epochs
after a warm-up) of the autoencoder and the classifier at batch 100, through the stages' own
code path and through a plain `model.fit` of the same network, alternating the two so both see
the same machine; FLOPs per training image counted from the layers and the fraction of this
machine's measured float32 matmul peak that reaches; the wall time of a fixed small study; and,
with `--full-sweep N`, that of the full default sweep on N workers (for GPUs). Writes
`bench.json` under `--results`, one entry per machine and backend, and prints a table.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kfashion import data
from kfashion.errors import UserError, exit_on_user_error
from kfashion.records import machine, provenance, read_json, write_json

IMAGES = 10_000  # training images per timed epoch
REPEATS = 5  # timed epochs per variant, after one warm-up epoch
BATCH_SIZE = 100
SMALL_STUDY = (  # the fixed small study whose wall time is reported
    ["kfashion.tune", "--subset", "2000", "--epochs", "2"],
    ["kfashion.transfer", "--subset", "2000", "--epochs", "2", "--seeds", "2"],
)


def training_flops_per_image(model) -> int:
    """Multiply-adds x 2 of one forward pass, x 3 for forward plus backward (the usual estimate).

    Counted from the layers: Conv2D, Conv2DTranspose and Dense; activations, pooling and
    dropout are left out (they are a small share here).
    """
    from kfashion.quiet_keras import keras

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
    from kfashion.quiet_keras import keras

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
    from kfashion import models, sweep
    from kfashion.quiet_keras import keras

    keras.utils.set_random_seed(0)
    model = models.build_autoencoder(sweep.BASE["latent_dim"], sweep.BASE["dropout"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return lambda x: model.fit(x, x, batch_size=BATCH_SIZE, epochs=1, verbose=0), model


def _stage_autoencoder():
    """The tune stage's path: the hypermodel's build and fit at the base case."""
    import keras_tuner

    from kfashion import sweep

    hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    return lambda x: hypermodel.fit(hp, model, x, x, epochs=1), model


def _plain_classifier(labels):
    from kfashion import models
    from kfashion.quiet_keras import keras

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
    from kfashion import models, training, transfer

    encoder = models.build_encoder(64, 0.1)
    model = transfer.make_classifier(encoder, transfer.CASES[1], 0, 1e-3, total_steps=10_000)
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


def _timed_run(command: list[str], folder) -> float:
    """Seconds that `python -m COMMAND` takes in `folder`; a UserError if it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *command], cwd=folder,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    if done.returncode != 0:
        raise UserError(f"python -m {' '.join(command)} failed (exit code {done.returncode}); "
                        "run it to see why")  # fmt: skip
    return time.perf_counter() - start


def small_study_seconds() -> dict:
    """Wall time of each command of the fixed small study, run in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        return {" ".join(["python -m", *command]): _timed_run(command, folder)
                for command in SMALL_STUDY}  # fmt: skip


def full_sweep(workers: int, data_dir: str | None) -> dict:
    """Wall time of the full default sweep (`python -m kfashion.tune --workers N`), from scratch
    in a temporary folder, with what its sweep.json says about the run."""
    command = ["kfashion.tune", "--workers", str(workers)]
    command += ["--data-dir", str(Path(data_dir).resolve())] if data_dir else []
    with tempfile.TemporaryDirectory() as folder:
        wall = _timed_run(command, folder)
        summary = read_json(Path(folder) / "results" / "sweep.json")
    return {
        "command": " ".join(["python -m", *command]),
        "wall_seconds": wall,
        "search_seconds": summary["search_seconds_this_run"],
        "trials_completed": sum(t["status"] == "COMPLETED" for t in summary["trials"]),
        "trial_seconds": [t["seconds"] for t in summary["trials"]],
        "selected_test_mse": summary["selected"]["test_mse"],
    }


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m kfashion.bench",
        description="Measure training speed on this machine and write bench.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--images", type=int, default=IMAGES, help="images per timed epoch")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed epochs per variant")
    parser.add_argument("--results", default="results", help="where bench.json is written")
    parser.add_argument("--data-dir", help="folder with the four IDX .gz files")
    parser.add_argument("--skip-study", action="store_true", help="skip the small study's timing")
    parser.add_argument(
        "--full-sweep",
        type=int,
        action="append",
        default=[],
        metavar="WORKERS",
        help="also time the full default sweep with this many workers (repeatable; minutes on "
        "a GPU, hours on a CPU)",
    )
    args = parser.parse_args(argv)
    if not BATCH_SIZE <= args.images <= 50_000 or args.repeats < 1:
        raise UserError("--images must be 100-50000 and --repeats at least 1")
    if any(workers < 1 for workers in args.full_sweep):
        raise UserError("--full-sweep takes a number of workers, at least 1")

    start = time.perf_counter()
    dataset = data.load(args.data_dir)
    load_seconds = time.perf_counter() - start
    x, labels = dataset.x_train[: args.images], dataset.y_train[: args.images]
    about = machine()
    peak = matmul_peak_gflops()
    print(f"{about['cpu']}, {about['cores']} cores, {about['backend']}, "
          f"accelerators: {about['accelerators'] or 'none'}", flush=True)  # fmt: skip

    results = {}
    for network, variants in (
        ("autoencoder", {"plain_fit": _plain_autoencoder(), "kfashion": _stage_autoencoder()}),
        (
            "classifier",
            {"plain_fit": _plain_classifier(labels), "kfashion": _stage_classifier(labels)},
        ),  # fmt: skip
    ):
        flops = training_flops_per_image(variants["kfashion"][1])
        measured = throughput(variants, x, args.repeats)
        for entry in measured.values():
            rate = entry["images_per_second_median"] * flops / 1e9
            entry["gflops_per_second"] = rate
            entry["fraction_of_matmul_peak"] = rate / peak
        speedup = (
            measured["kfashion"]["images_per_second_median"]
            / measured["plain_fit"]["images_per_second_median"]
        )
        results[network] = {"training_flops_per_image": flops, "speedup": speedup, **measured}
        print(f"{network}: {flops / 1e6:.1f} MFLOP per training image", flush=True)
    study = {} if args.skip_study else small_study_seconds()
    sweeps = [full_sweep(workers, args.data_dir) for workers in args.full_sweep]

    entry = {
        "provenance": provenance("kfashion.bench", argv),
        "machine": about,
        "batch_size": BATCH_SIZE,
        "images_per_epoch": args.images,
        "timed_epochs": args.repeats,
        "data_load_seconds": load_seconds,
        "matmul_peak_gflops": peak,
        "training": results,
        "small_study_seconds": study,
        "full_sweeps": sweeps,
    }
    path = Path(args.results) / "bench.json"
    previous = read_json(path) if path.exists() else {}
    key = f"{about['cpu']} x{about['cores']}, {'+'.join(about['accelerators']) or 'no GPU'}, " \
          f"{about['backend']}"  # fmt: skip
    write_json(path, {**previous, key: entry})

    print(f"\ndata load: {load_seconds:.1f} s; float32 matmul peak: {peak:.0f} GFLOP/s")
    print(f"{'network':<12} {'path':<10} {'images/s (median)':>18} {'best':>8} "
          f"{'per CPU-s':>10} {'GFLOP/s':>8} {'of peak':>8}")  # fmt: skip
    for network, measured in results.items():
        for name in ("plain_fit", "kfashion"):
            m = measured[name]
            print(f"{network:<12} {name:<10} {m['images_per_second_median']:>18.0f} "
                  f"{m['images_per_second_best']:>8.0f} "
                  f"{m['images_per_cpu_second_median']:>10.0f} {m['gflops_per_second']:>8.1f} "
                  f"{m['fraction_of_matmul_peak']:>8.1%}")  # fmt: skip
        print(f"{network:<12} speed-up of the kfashion path: {measured['speedup']:.2f}x")
    for command, seconds in study.items():
        print(f"{command}: {seconds:.0f} s")
    for sweep in sweeps:
        print(f"{sweep['command']}: {sweep['wall_seconds']:.0f} s ({sweep['search_seconds']:.0f} s "
              f"searching), {sweep['trials_completed']} trials completed")  # fmt: skip
    print(f"wrote {path} (entry {key!r})")


if __name__ == "__main__":
    main()
