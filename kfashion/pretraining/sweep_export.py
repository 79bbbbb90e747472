"""A finished sweep's results files: sweep.json, its figures and the selected models.

Everything here is read from the tuner's project folder (each seed's record and best-epoch
weights, as `kfashion.pretraining.sweep` wrote them), so exporting again gives the same files.
"""

import json
from pathlib import Path

import numpy as np

from kfashion import config, pretext
from kfashion.core import layout
from kfashion.core.errors import UserError
from kfashion.core.files import json_text, read_json, save_model, write_text
from kfashion.core.provenance import provenance


def trial_records(tuner, points, seeds) -> list[dict]:
    """One record per design point: its trial's status and every finished seed's record."""
    # a trial's id is its index in the design as KerasTuner writes it (zero-padded)
    trials = {int(trial.trial_id): trial for trial in tuner.oracle.trials.values()}
    records = []
    for index, point in enumerate(points):
        trial = trials.get(index)
        runs = []
        if trial is not None:
            folder = tuner.get_trial_dir(trial.trial_id)
            paths = [layout.seed_record(folder, seed) for seed in seeds]
            runs = [read_json(path) for path in paths if path.exists()]
        done = trial is not None and trial.status == "COMPLETED"
        message = trial.message.strip().splitlines()[-1] if trial and trial.message else None
        test_loss = [run["test_loss"] for run in runs]
        test_mse = [run["test_mse"] for run in runs]
        ranks = [run["code_rank"] for run in runs]
        probes = [run["probe_accuracy"] for run in runs]
        records.append(
            {
                "trial_id": trial.trial_id if trial else None,
                "factor": point.factor,
                "value": point.value,
                "config": point.config,
                "status": trial.status if trial else "NOT_RUN",
                "message": message,
                # the trial's KerasTuner score: the mean over seeds of each best val_loss
                "best_val_loss": trial.score if done else None,
                "test_loss": float(np.mean(test_loss)) if done else None,
                "test_mse": float(np.mean(test_mse)) if done and None not in test_mse else None,
                # the mean effective rank of the seeds' codes
                "code_rank": float(np.mean(ranks)) if done and None not in ranks else None,
                # the mean test accuracy of a linear probe on the seeds' codes; chooses nothing
                "probe_accuracy": float(np.mean(probes)) if done and None not in probes else None,
                "parameters": runs[0]["parameters"] if runs else None,
                "seconds": sum(run["seconds"] for run in runs),
                "seeds": runs,
            }
        )
    return records


def select(records, how: str) -> dict:
    """The study's choice, the point with the lowest mean best validation loss, or the one
    whose codes have the highest mean effective rank (ties: the first in the design)."""
    done = [r for r in records if r["status"] == "COMPLETED"]
    if how in ("best", "rank") and not done:
        raise UserError("no point of the sweep completed, so there is no model to save")
    if how == "best":
        return min(done, key=lambda r: r["best_val_loss"])
    if how == "rank":
        return max(done, key=lambda r: r["code_rank"])
    chosen = [r for r in done if r["config"] == config.REFERENCE_CHOICE]
    if not chosen:
        raise UserError("the reference configuration's trial did not complete; see sweep.json")
    return chosen[0]


def load_seed_model(tuner, record: dict, seed: int):
    """The autoencoder of one seed of a finished trial, with its best epoch's weights."""
    trial = tuner.oracle.get_trial(record["trial_id"])
    model = tuner.hypermodel.build(trial.hyperparameters, seed)
    # the file holds the optimizer's state too: build its variables first, to take it in
    model.optimizer.build(model.trainable_variables)
    model.load_weights(layout.seed_model(tuner.get_trial_dir(trial.trial_id), seed))
    return model


def pca_baseline(dataset, latent_dims) -> dict:
    """Test MSE of PCA reconstructions with as many components as each latent size."""
    from sklearn.decomposition import PCA

    train = dataset.x_train[: config.PCA_FIT_SIZE].reshape(-1, 784)
    test = dataset.x_test.reshape(len(dataset.x_test), 784)
    pca = PCA(n_components=min(max(latent_dims), *train.shape), random_state=0).fit(train)
    codes = pca.transform(test)
    results = {}
    for n in latent_dims:
        n_used = min(n, pca.n_components_)
        recon = codes[:, :n_used] @ pca.components_[:n_used] + pca.mean_
        results[str(n)] = float(((recon - test) ** 2).mean())
    return results


def probed(records) -> list[dict]:
    """The points with a mean test MSE and a mean probe accuracy."""
    return [r for r in records if r["test_mse"] is not None and r.get("probe_accuracy")]


def reconstruction_against_features(records) -> dict | None:
    """Spearman's correlation of the points' test MSE and probe accuracy, with its interval
    (`stats.rank_correlation`); None under 3 such points. Reconstruction quality that tells
    feature quality would correlate negatively."""
    from kfashion.analysis import stats

    points = probed(records)
    if len(points) < 3:
        return None
    mse, accuracy = [r["test_mse"] for r in points], [r["probe_accuracy"] for r in points]
    return stats.rank_correlation(mse, accuracy)


def best_losses(record) -> list[float]:
    """A point's best validation loss of each seed that has one (a diverged seed has none)."""
    return [run["best_val_loss"] for run in record["seeds"] if run["best_val_loss"] is not None]


def write_figures(
    records, selected_model, dataset, pca, results_dir: Path, pretext_name, correlation
) -> dict:
    """The sweep's figures, one a factor (a pretext's knobs too); the reconstructions where
    `selected_model` (None for a pretext without a decoder) reconstructs; test MSE against
    probe accuracy where there is a `correlation` (`reconstruction_against_features`)."""
    from kfashion.rendering import plots

    paths, effects = {}, {}
    base = [r for r in records if r["factor"] == "base"]
    implied = config.implied(pretext_name)
    for factor in config.levels(pretext_name):
        trials = [{**r, "is_base": False} for r in records if r["factor"] == factor]
        if not trials:
            continue
        others = "the base case"
        if factor in config.AROUND:  # swept around another point, which is among its own
            moved = [f"{k}={v}" for k, v in config.AROUND[factor].items() if config.BASE[k] != v]
            others = f"the base case, but {', '.join(moved)}"
        else:
            trials += [
                {**r, "value": {**implied, **r["config"]}[factor], "is_base": True} for r in base
            ]
        trials.sort(key=lambda r: r["value"])
        paths[factor] = layout.figure(results_dir, f"sweep_{factor}")
        plots.plot_factor(factor, trials, paths[factor], others)
        effects[factor] = [
            {"label": plots.level(t["value"]), "is_base": t["is_base"], "values": best_losses(t)}
            for t in trials
        ]
    if len(effects) > 1:  # one factor's figure says it all already
        paths["main_effects"] = layout.figure(results_dir, "sweep_main_effects")
        what = "Autoencoder" if pretext_name == config.PRETEXT else f"Encoder ({pretext_name})"
        plots.plot_main_effects(effects, paths["main_effects"], f"{what}: each factor's levels")
    if selected_model is not None:
        first = [int((dataset.y_test == c).argmax()) for c in range(config.NUM_CLASSES)]
        images = dataset.x_test[first]
        paths["reconstructions"] = layout.figure(results_dir, "reconstructions")
        plots.plot_reconstructions(
            images,
            selected_model.predict(images, verbose=0),
            config.CLASS_NAMES,
            paths["reconstructions"],
            "Test images (top) and their reconstructions by the exported autoencoder (bottom)",
        )
    by_size = {
        r["config"]["latent_dim"]: [run["test_mse"] for run in r["seeds"]]
        for r in records
        if r["factor"] in ("base", "latent_dim") and r["test_mse"] is not None
    }
    if correlation is not None:
        points = probed(records)
        labelled = [{"label": config.describe(r["factor"], r["value"]), **r} for r in points]
        paths["mse_vs_probe"] = layout.figure(results_dir, "mse_vs_probe")
        plots.plot_mse_vs_probe(labelled, correlation, paths["mse_vs_probe"])
    sizes = sorted(by_size)
    if len(sizes) > 1:  # a curve needs the latent_dim factor; one point says nothing
        paths["mse_vs_pca"] = layout.figure(results_dir, "mse_vs_pca")
        plots.plot_mse_vs_pca(
            sizes, [by_size[n] for n in sizes], [pca[str(n)] for n in sizes], paths["mse_vs_pca"]
        )
    return {name: str(path.relative_to(results_dir)) for name, path in paths.items()}


def print_point(record, total: int) -> None:
    what = config.describe(record["factor"], record["value"])
    if record["status"] == "COMPLETED":
        outcome = (
            f"mean best val_loss {record['best_val_loss']:.5f}, mean test loss "
            f"{record['test_loss']:.5f} over {len(record['seeds'])} seeds"
        )
    else:
        outcome = record["message"] or ""
    print(
        f"trial {record['trial_id']}/{total} {what}: {record['status']} {outcome} "
        f"({record['seconds']:.0f} s)"
    )


def export(args, argv, tuner, points, dataset, settings, search_seconds) -> None:
    """Write sweep.json, the figures and the selected models from the finished search."""
    records = trial_records(tuner, points, settings["seeds"])
    for record in records:
        print_point(record, len(points))
    chosen = select(records, args.select)
    seed = settings["seeds"][0]  # a fixed rule, not a choice: the point's first seed
    exported = next(run for run in chosen["seeds"] if run["seed"] == seed)
    pretrained = load_seed_model(tuner, chosen, seed)
    results_dir = Path(args.results)
    # the networks the pretraining model holds, and the autoencoder they make; a pretext
    # without a decoder leaves its head (a projection, a classifier) behind
    autoencoder = None
    models = {"encoder": pretrained.get_layer("encoder")}
    if pretext.load(settings["pretext"]).DECODER:
        autoencoder = pretrained
        models = {"autoencoder": pretrained, **models, "decoder": pretrained.get_layer("decoder")}
    for name, model in models.items():
        save_model(model, layout.model(results_dir, name))
    # every pretraining seed's encoder of the point (a completed one: no seed diverged): the
    # transfer grid starts from each
    encoders = {}
    for run in chosen["seeds"]:
        path = layout.encoder_seed(layout.model(results_dir, "encoder").parent, run["seed"])
        save_model(load_seed_model(tuner, chosen, run["seed"]).get_layer("encoder"), path)
        encoders[str(run["seed"])] = str(path.relative_to(results_dir))
    latent_dims = sorted({r["config"]["latent_dim"] for r in records})
    pca = pca_baseline(dataset, latent_dims)
    correlation = reconstruction_against_features(records)
    figures = write_figures(
        records, autoencoder, dataset, pca, results_dir, settings["pretext"], correlation
    )
    selection = {
        "reference": "the reference study's choice",
        "best": "the lowest mean over seeds of each seed's best validation loss",
        "rank": "the highest mean over seeds of the effective rank of its codes of the "
        "validation images",
    }[args.select]
    summary = {
        "provenance": provenance("kfashion.tune", argv, dataset),
        "settings": {
            **{k: v for k, v in settings.items() if k != "design"},
            "select": args.select,
            "sizes": dataset.sizes(),
            "objective": "val_loss (min); a point's score is its mean over seeds of each "
            "seed's best epoch",
            "saved_weights": "each seed's best epoch by validation loss",
        },
        "search_seconds_this_run": search_seconds,
        "workers": args.workers,
        "trials": records,
        "selected": {
            "trial_id": chosen["trial_id"],
            "how": args.select,
            "rule": selection,
            "config": chosen["config"],
            "mean_best_val_loss": chosen["best_val_loss"],
            "seed": seed,
            "best_epoch": exported["best_epoch"],
            "test_loss": exported["test_loss"],
            "test_mse": exported["test_mse"],
            "models": {name: str(layout.model(".", name)) for name in models},
            "encoder_seeds": encoders,
        },
        "pca_test_mse": pca,
        "pca_fit_images": min(config.PCA_FIT_SIZE, len(dataset.x_train)),
        "reconstruction_vs_features": correlation,
        "probe_fit_images": min(config.SWEEP_PROBE_IMAGES, len(dataset.x_train)),
        "figures": figures,
    }
    text = json_text(summary)
    path = results_dir / layout.SWEEP
    if holds_already(path, json.loads(text)):
        wrote = f"wrote the figures and models ({path} holds this sweep already: kept as it was)"
    else:
        write_text(path, text)
        wrote = f"wrote {path}, the figures and models"
    mse = ""
    if exported["test_mse"] not in (None, exported["test_loss"]):
        n = chosen["config"]["latent_dim"]
        mse = f", test MSE {exported['test_mse']:.5f} (PCA-{n}: {pca[str(n)]:.5f})"
    print(
        f"exported point {chosen['trial_id']} ({args.select}: {chosen['config']}), seed {seed}: "
        f"test loss {exported['test_loss']:.5f}{mse}; {wrote}"
    )


def holds_already(path, summary: dict) -> bool:
    """Whether `path` holds `summary` (as read back from its JSON) but for when it was written
    and the seconds the search took this time: a rerun that trained nothing leaves a finished
    sweep's file as it was."""
    if not path.exists():
        return False

    def aside(found: dict) -> dict:
        when = {k: v for k, v in found.get("provenance", {}).items() if k != "date"}
        return {**found, "provenance": when, "search_seconds_this_run": None}

    return aside(read_json(path)) == aside(summary)
