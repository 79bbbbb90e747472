"""`python -m kfashion.tune`: the one-factor-at-a-time autoencoder sweep on KerasTuner.

Runs the 14 trials of the design in `kfashion.sweep` on the real data (50,000 train / 10,000
validation; the test set only for the final numbers), then writes to `--results`:

- `sweep.json`: every trial's factor, value, config, per-epoch losses, best epoch, best
  validation loss, test MSE of its best-epoch weights, parameters, seconds and status;
- `figures/sweep_<factor>.png`, `figures/reconstructions.png`, `figures/mse_vs_pca.png`
  (when latent sizes are swept);
- `models/autoencoder.keras`, `encoder.keras`, `decoder.keras`: the selected trial's
  best-epoch weights.

Each trial's test MSE is measured by the process that trained it, right after training, on
the weights of its best epoch; nothing is chosen by it.

Stop it at any time and run the same command again: finished trials are kept, the
interrupted one is re-run from scratch. Full run: 14 trials x 10 epochs.
"""

import argparse
import dataclasses
import shutil
import sys
import time
import warnings
from pathlib import Path

from kfashion import data, parallel
from kfashion.errors import UserError, exit_on_user_error
from kfashion.records import (
    changed_settings,
    hold_lock,
    provenance,
    read_json,
    save_model,
    write_json,
)

# Defaults of the reference run (the study used 10 epochs per trial).
EPOCHS = 10
SEED = 0
# Two worker processes with one thread each ran the sweep's trials 1.3 times as fast as one
# process with two threads on a 2-core machine (README, "Speed").
WORKERS = 2
PROJECT = "sweep"  # KerasTuner's project folder inside --directory
SETTINGS_FILE = "kfashion_settings.json"  # what the trials in the project were made with
PCA_FIT_SIZE = 20_000  # training images PCA is fitted on: enough for a stable baseline


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m kfashion.tune",
        description="Run the one-factor-at-a-time autoencoder sweep (resumable).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs per trial")
    parser.add_argument(
        "--factors",
        default=",".join(_factor_names()),
        help="comma-separated factors to sweep around the base case; also: architecture "
        "(the course network and the linear_code variant, both at dropout 0.0)",
    )
    parser.add_argument(
        "--subset", type=int, help="use a stratified subset of this many training images"
    )
    parser.add_argument("--data-dir", help="folder with the four IDX .gz files")
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="compute in bfloat16 with float32 weights (for GPUs; slower on most CPUs); the "
        "saved encoder keeps the policy, so transfer runs in it too",
    )
    parser.add_argument("--directory", default="tuning", help="KerasTuner's working folder")
    parser.add_argument("--results", default="results", help="where results are written")
    parser.add_argument("--seed", type=int, default=SEED, help="seed for every trial's start")
    parser.add_argument(
        "--select",
        choices=("reference", "best"),
        default="reference",
        help="model to save: the study's choice (n=64, p=0.1, batch 100, lr 1e-3, Adam) "
        "or the lowest validation loss",
    )
    parser.add_argument("--tensorboard", help="also write TensorBoard logs to this folder")
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help="run trials in this many local worker processes (KerasTuner's distributed mode); "
        "1 runs them in this process",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="discard the trials already in --directory"
    )
    return parser.parse_args(argv)


def _factor_names():
    from kfashion.sweep import REFERENCE_FACTORS

    return list(REFERENCE_FACTORS)


def check_settings(project_dir: Path, settings: dict, overwrite: bool) -> None:
    """Refuse to mix trials made with other settings into an existing project."""
    path = project_dir / SETTINGS_FILE
    if overwrite:
        shutil.rmtree(project_dir, ignore_errors=True)
    elif path.exists():
        changed = changed_settings(path, settings)
        if changed:
            raise UserError(
                f"{project_dir} holds a sweep made with other {', '.join(changed)}; rerun with "
                "the same settings to resume it, pass --overwrite to discard it, or choose "
                "another --directory"
            )
    elif project_dir.exists() and any(project_dir.iterdir()):
        raise UserError(
            f"{project_dir} holds files kfashion did not write; pass --overwrite to discard "
            "them or choose another --directory"
        )
    project_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)


def trial_records(tuner, design, dataset) -> list[dict]:
    """One record per trial: its design point, curves, best epoch, test MSE and status."""
    from kfashion.sweep import HISTORY_FILE
    from kfashion.training import EVAL_BATCH_SIZE

    records = []
    for index, point in enumerate(design):
        trial = tuner.oracle.trials.get(f"{index:0{len(str(len(design)))}d}")
        status = trial.status if trial else "NOT_RUN"
        saved = {}
        if trial is not None:
            history_path = Path(tuner.get_trial_dir(trial.trial_id)) / HISTORY_FILE
            saved = read_json(history_path) if history_path.exists() else {}
        record = {
            "trial_id": trial.trial_id if trial else None,
            "factor": point.factor,
            "value": point.value,
            "config": point.config,
            "status": status,
            "message": _last_line(trial.message) if trial and trial.message else None,
            "history": saved.get("history", {}),
            "seconds": saved.get("seconds"),
            "best_epoch": None,
            "best_val_loss": None,
            "test_mse": None,
            "parameters": None,
        }
        if status == "COMPLETED":
            record["best_epoch"] = trial.best_step + 1
            record["best_val_loss"] = trial.score
            if saved.get("test_mse") is None:  # a trial run before workers measured it
                model = load_best_model(tuner, trial)
                record["parameters"] = model.count_params()
                record["test_mse"] = model.evaluate(
                    dataset.x_test, dataset.x_test, batch_size=EVAL_BATCH_SIZE, verbose=0
                )
            else:
                record["parameters"] = saved["parameters"]
                record["test_mse"] = saved["test_mse"]
        records.append(record)
    return records


def load_best_model(tuner, trial):
    """The trial's model with its best epoch's weights (the optimizer state is not needed)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return tuner.load_model(trial)


def _last_line(message: str) -> str:
    return message.strip().splitlines()[-1]


def pca_baseline(dataset, latent_dims) -> dict:
    """Test MSE of PCA reconstructions with as many components as each latent size."""
    from sklearn.decomposition import PCA

    train = dataset.x_train[:PCA_FIT_SIZE].reshape(-1, 784)
    test = dataset.x_test.reshape(len(dataset.x_test), 784)
    pca = PCA(n_components=min(max(latent_dims), *train.shape), random_state=0).fit(train)
    codes = pca.transform(test)
    results = {}
    for n in latent_dims:
        n_used = min(n, pca.n_components_)
        recon = codes[:, :n_used] @ pca.components_[:n_used] + pca.mean_
        results[str(n)] = float(((recon - test) ** 2).mean())
    return results


def select(records, how: str) -> dict:
    from kfashion.sweep import REFERENCE_CHOICE

    done = [r for r in records if r["status"] == "COMPLETED"]
    if how == "best":
        if not done:
            raise UserError("no trial completed, so there is no model to save")
        return min(done, key=lambda r: r["best_val_loss"])
    chosen = [r for r in done if r["config"] == REFERENCE_CHOICE]
    if not chosen:
        raise UserError("the reference configuration's trial did not complete; see sweep.json")
    return chosen[0]


def write_figures(records, selected_model, dataset, pca, results_dir: Path) -> dict:
    from kfashion import plots
    from kfashion.sweep import AROUND, BASE, FACTORS, setting

    figures = results_dir / "figures"
    paths = {}
    base = [r for r in records if r["factor"] == "base"]
    for factor in FACTORS:
        trials = [r for r in records if r["factor"] == factor]
        if not trials:
            continue
        lines = [{**r, "is_base": False} for r in trials]
        others = "the base case"
        if factor in AROUND:  # swept around another point, which is among its own trials
            moved = [f"{k}={v}" for k, v in AROUND[factor].items() if BASE[k] != v]
            others = f"the base case, but {', '.join(moved)}"
        else:
            lines += [{**r, "value": setting(r["config"], factor), "is_base": True} for r in base]
        lines.sort(key=lambda r: r["value"])
        paths[factor] = figures / f"sweep_{factor}.png"
        plots.plot_factor(factor, lines, paths[factor], others)
    first_of_class = [int((dataset.y_test == c).argmax()) for c in range(data.NUM_CLASSES)]
    images = dataset.x_test[first_of_class]
    paths["reconstructions"] = figures / "reconstructions.png"
    plots.plot_reconstructions(
        images,
        selected_model.predict(images, verbose=0),
        data.CLASS_NAMES,
        paths["reconstructions"],
        "Test images (top) and their reconstructions by the selected autoencoder (bottom)",
    )
    by_size = {
        r["config"]["latent_dim"]: r["test_mse"]
        for r in records
        if r["factor"] in ("base", "latent_dim") and r["test_mse"] is not None
    }
    sizes = sorted(by_size)
    if len(sizes) > 1:  # a curve needs the latent_dim factor; one point says nothing
        paths["mse_vs_pca"] = figures / "mse_vs_pca.png"
        plots.plot_mse_vs_pca(
            sizes, [by_size[n] for n in sizes], [pca[str(n)] for n in sizes], paths["mse_vs_pca"]
        )
    return {name: str(path.relative_to(results_dir)) for name, path in paths.items()}


def print_trial_line(record, total: int) -> None:
    from kfashion.sweep import describe

    what = describe(record["factor"], record["value"])
    if record["status"] == "COMPLETED":
        outcome = (
            f"best val_loss {record['best_val_loss']:.5f} at epoch {record['best_epoch']}, "
            f"test MSE {record['test_mse']:.5f}"
        )
    else:
        outcome = record["message"] or ""
    seconds = f"{record['seconds']:.0f} s" if record["seconds"] is not None else "-"
    print(f"trial {record['trial_id']}/{total} {what}: {record['status']} {outcome} ({seconds})")


def run_search(args, design, dataset, project_dir: Path):
    """Run (or resume) the KerasTuner search and return the tuner."""
    from kfashion.sweep import AutoencoderHyperModel, DesignOracle, SweepTuner, keras

    class LoudTuner(SweepTuner):
        """Announces each trial on one line as it starts and ends."""

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self._started = time.perf_counter()
            point = design[int(trial.trial_id)]
            print(
                f"trial {trial.trial_id}/{len(design)} started: {point.label} {point.config}",
                flush=True,
            )

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            seconds = time.perf_counter() - self._started
            ended = self.oracle.get_trial(trial.trial_id)
            score = f"best val_loss {ended.score:.5f}" if ended.score is not None else ""
            print(
                f"trial {trial.trial_id}/{len(design)} ended: {ended.status} {score} "
                f"in {seconds:.0f} s",
                flush=True,
            )

    verbose = 1 if sys.stdout.isatty() else 2
    tuner = LoudTuner(
        oracle=DesignOracle(design, seed=args.seed),
        hypermodel=AutoencoderHyperModel(
            seed=args.seed, verbose=verbose, test_images=dataset.x_test
        ),
        directory=str(project_dir.parent),
        project_name=project_dir.name,
    )
    tuner.oracle.verbose = 0  # our one line per trial replaces KerasTuner's table
    callbacks = [keras.callbacks.TensorBoard(args.tensorboard)] if args.tensorboard else []
    tuner.search(
        dataset.x_train,
        dataset.x_train,
        validation_data=(dataset.x_val, dataset.x_val),
        epochs=args.epochs,
        callbacks=callbacks,
    )
    return tuner


def design_from_args(args):
    """The design the arguments ask for, or a UserError saying what is wrong with them."""
    from kfashion.sweep import REFERENCE_CHOICE, make_design

    if args.epochs < 1:
        raise UserError(f"--epochs {args.epochs}: must be at least 1")
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1")
    try:
        design = make_design([f for f in args.factors.split(",") if f])
    except ValueError as error:
        raise UserError(f"--factors: {error}") from None
    if args.select == "reference" and not any(p.config == REFERENCE_CHOICE for p in design):
        raise UserError(
            "--select reference needs the dropout factor (the study chose p=0.1); "
            "add it to --factors or use --select best"
        )
    return design


def worker_args(args) -> list[str]:
    """The arguments a worker needs to run trials exactly as the chief's design says."""
    worker = ["--epochs", str(args.epochs), "--factors", args.factors, "--seed", str(args.seed),
              "--directory", args.directory, "--select", args.select]  # fmt: skip
    for flag, value in (("--subset", args.subset), ("--data-dir", args.data_dir),
                        ("--tensorboard", args.tensorboard)):  # fmt: skip
        if value is not None:
            worker += [flag, str(value)]
    return worker + (["--mixed-precision"] if args.mixed_precision else [])


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    design = design_from_args(args)
    project_dir = Path(args.directory) / PROJECT
    from kfashion import training

    training.use_mixed_precision(args.mixed_precision)
    if parallel.role() == "worker":  # trials only: the chief checks, locks and exports
        run_search(args, design, data.load(args.data_dir, subset=args.subset), project_dir)
        return
    local_workers = args.workers > 1 and parallel.role() == "single"
    lock = hold_lock(Path(args.directory) / ".kfashion.lock", f"{args.directory}")
    settings = {
        "design": [dataclasses.asdict(point) for point in design],
        "epochs": args.epochs,
        "subset": args.subset,
        "seed": args.seed,
        "mixed_precision": args.mixed_precision,
    }
    dataset = data.load(args.data_dir, subset=args.subset)
    check_settings(project_dir, settings, args.overwrite)
    print(
        f"data: {dataset.source}; {dataset.sizes()}; {len(design)} trials x {args.epochs} epochs",
        flush=True,
    )
    start = time.perf_counter()
    if local_workers:
        with (
            parallel.chief_on_loopback(),
            parallel.LocalWorkers(args.workers, worker_args(args)) as workers,
        ):
            try:
                tuner = run_search(args, design, dataset, project_dir)
            except KeyboardInterrupt:
                if workers.failure:
                    raise UserError(f"{workers.failure}; its output is above") from None
                raise
    else:
        tuner = run_search(args, design, dataset, project_dir)
    search_seconds = time.perf_counter() - start
    export(args, argv, tuner, design, dataset, settings, search_seconds)
    lock.close()


def export(args, argv, tuner, design, dataset, settings, search_seconds) -> None:
    """Write sweep.json, the figures and the selected models from the finished search."""
    records = trial_records(tuner, design, dataset)
    for record in records:
        print_trial_line(record, len(design))
    chosen = select(records, args.select)
    autoencoder = load_best_model(tuner, tuner.oracle.get_trial(chosen["trial_id"]))
    # give the compiled optimizer its variables, so the saved file loads without a warning
    autoencoder.optimizer.build(autoencoder.trainable_variables)
    results_dir = Path(args.results)
    models_dir = results_dir / "models"
    for name, model in (
        ("autoencoder", autoencoder),
        ("encoder", autoencoder.get_layer("encoder")),
        ("decoder", autoencoder.get_layer("decoder")),
    ):
        save_model(model, models_dir / f"{name}.keras")
    latent_dims = sorted({r["config"]["latent_dim"] for r in records})
    pca = pca_baseline(dataset, latent_dims)
    figures = write_figures(records, autoencoder, dataset, pca, results_dir)
    write_json(
        results_dir / "sweep.json",
        {
            "provenance": provenance("kfashion.tune", argv),
            "settings": {
                **{k: v for k, v in settings.items() if k != "design"},
                "select": args.select,
                "data": dataset.source,
                "sizes": dataset.sizes(),
                "objective": "val_loss (min)",
                "saved_weights": "each trial's best epoch by validation loss",
            },
            "search_seconds_this_run": search_seconds,
            "workers": args.workers,
            "trials": records,
            "selected": {
                "trial_id": chosen["trial_id"],
                "how": args.select,
                "config": chosen["config"],
                "test_mse": chosen["test_mse"],
                "models": {
                    name: f"models/{name}.keras" for name in ("autoencoder", "encoder", "decoder")
                },
            },
            "pca_test_mse": pca,
            "pca_fit_images": min(PCA_FIT_SIZE, len(dataset.x_train)),
            "figures": figures,
        },
    )
    print(
        f"selected trial {chosen['trial_id']} ({args.select}): {chosen['config']}, "
        f"test MSE {chosen['test_mse']:.5f} (PCA-{chosen['config']['latent_dim']}: "
        f"{pca[str(chosen['config']['latent_dim'])]:.5f}); wrote {results_dir}/sweep.json, "
        f"figures and models"
    )


if __name__ == "__main__":
    main()
