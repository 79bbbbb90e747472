"""`python -m kfashion.probe`: frozen codes judged as features, by a linear probe.

For each label count and draw of labels (the grid's: the fine-tuning seed draws a stratified
sample of N labelled training images), logistic regression (scikit-learn, lbfgs) on:

- the raw pixels, and their `config.PCA_COMPONENTS` principal-component scores (the PCA fitted
  on the training split's images, no label read);
- the codes of each encoder given, from every pretraining seed (`--encoder-seeds`);
- the codes of a random encoder of the same network, initialised as the grid's case 4 is on
  that draw (one per architecture: networks pretrained by other pretexts share it, as the
  grid's random cases are shared).

Its L2 strength C is chosen from `config.C_GRID` by `config.FOLDS`-fold stratified
cross-validation inside the draw's N labels (with all labels, on the validation split, as the
grid's runs are; there a draw changes only the random encoder, so the other features are fitted
once), then the probe is refitted on all N and its test accuracy read once. Writes
`probe.json`: every fit, and per label count and features the mean test accuracy over draws
(and pretraining seeds) with its 95% t interval over draws.
"""

import sys

import numpy as np

from kfashion import config
from kfashion.config import train_split_size
from kfashion.core import cli, layout, saved_models
from kfashion.core.errors import exit_on_user_error
from kfashion.core.files import write_json


def parse_args(argv):
    parser = cli.parser(
        "kfashion.probe",
        "Linear probes on frozen codes, raw pixels and PCA, per label count and draw.",
        "--encoder results/models --labels 100,1000 --seeds 3",
    )
    parser.add_argument(
        "--encoder",
        action="append",
        help="a models folder holding encoder_seed{S}.keras, once per network "
        "(default: RESULTS/models)",
    )
    parser.add_argument(
        "--encoder-seeds",
        help="pretraining seeds of each network (default: every one each folder holds)",
    )
    parser.add_argument("--labels", default=config.LABELS, help="label counts, e.g. 100,all")
    parser.add_argument(
        "--seeds",
        help="draws of labels: a number for every count, or one per count, as transfer's "
        f"(default: {config.draws_text(config.DRAWS)})",
    )
    parser.add_argument("--max-iter", type=int, default=config.MAX_ITER, help="lbfgs iterations")
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=config.RESULTS, help="where probe.json is written")
    return parser.parse_args(argv)


def fit(features, labels, c_grid, max_iter: int, folds=None, validation=None) -> dict:
    """A probe: C chosen by `folds` (stratified k-fold on `features`) or on `validation`
    ((features, labels) of a held-out split, as the baseline chooses it), then the chosen C's
    model on all `features`.

    Returns:
        {"model": the fitted model, "C": the chosen C, "scores": C -> held-out accuracy,
        "converged": whether the chosen model's lbfgs converged within `max_iter`}.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from kfashion.baseline import choose_c, fit_logistic

    if validation is not None:
        record, fitted = choose_c((features, labels, *validation), max_iter, c_grid)
        rows = {row["C"]: row for row in record["grid"]}
        chosen = record["chosen_C"]
        scores = {c: row["validation_accuracy"] for c, row in rows.items()}
        return {"model": fitted[chosen], "C": chosen, "scores": scores,
                "converged": rows[chosen]["converged"]}  # fmt: skip
    with warnings.catch_warnings():  # the chosen model's convergence is recorded instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = {
            c: float(cross_val_score(LogisticRegression(C=c, max_iter=max_iter), features,
                                     labels, cv=folds).mean())
            for c in c_grid
        }  # fmt: skip
    chosen = max(c_grid, key=lambda c: (scores[c], -c))  # a tie: the stronger L2 (smaller C)
    model, info = fit_logistic(features, labels, chosen, max_iter)
    return {"model": model, "C": chosen, "scores": scores, "converged": info["converged"]}


def held_out(labels: str, draw: int, table: dict, y_val) -> dict:
    """How a probe's C is chosen: `fit`'s folds within the draw's labels, or with all labels
    the validation split."""
    from sklearn.model_selection import StratifiedKFold

    if labels == "all":
        return {"validation": (table["val"], y_val)}
    return {"folds": StratifiedKFold(config.FOLDS, shuffle=True, random_state=draw)}


def codes(encoder, dataset) -> dict:
    """An encoder's codes of the training, validation and test images."""
    from kfashion.finetuning import cases

    return {
        k: cases.codes_of(encoder, getattr(dataset, f"x_{k}")) for k in ("train", "val", "test")
    }


def summary(fits: list[dict]) -> list[dict]:
    """Per label count and features: test accuracy's mean over draws (each draw's mean over
    its pretraining seeds, if any) and the 95% t interval over draws."""
    from kfashion.analysis.stats import interval

    groups = {}
    for f in fits:
        key = (f["labels"], f["features"])
        groups.setdefault(key, {}).setdefault(f["draw"], []).append(f["test_accuracy"])
    return [
        {
            "labels": labels,
            "features": features,
            "draws": len(by_draw),
            "test_accuracy": float(np.mean([np.mean(v) for v in by_draw.values()])),
            "ci95": interval([np.mean(v) for v in by_draw.values()]),
        }
        for (labels, features), by_draw in groups.items()
    ]


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    from kfashion.finetuning import grid

    cli.at_least(args.max_iter, 1, "--max-iter")
    cli.check_data_flags(args)
    counts = grid.parse_counts(args.labels, train_split_size(args.subset))
    draws = grid.draws(counts, args.seeds)
    files = saved_models.encoder_files(args, saved_models.encoder_seeds(args))
    results = cli.writable_folder(args.results, "--results")

    from sklearn.decomposition import PCA

    from kfashion import data
    from kfashion.baseline import flat
    from kfashion.core.provenance import provenance
    from kfashion.core.quiet_keras import load_keras
    from kfashion.data import stratified_sample
    from kfashion.finetuning import cases

    load_keras()
    dataset = data.load(args.data_dir, subset=args.subset)
    print(f"data: {dataset.describe()}", flush=True)
    splits = {name: flat(getattr(dataset, f"x_{name}")) for name in ("train", "val", "test")}
    pca = PCA(config.PCA_COMPONENTS, random_state=0).fit(splits["train"])
    # features -> pretraining seed (None: none) -> split -> one row per image
    fixed = {
        "pixels": {None: splits},
        "pca": {None: {k: pca.transform(v) for k, v in splits.items()}},
    }
    templates = {}
    for network, mine in files.items():
        encoders = {seed: saved_models.load_encoder(path) for seed, path in mine.items()}
        fixed[f"{network} pretrained"] = {s: codes(e, dataset) for s, e in encoders.items()}
        templates[network] = encoders[min(encoders)]  # the random encoders' configuration

    arms = grid.random_arms(list(templates))
    fits = []
    for labels in counts:
        for draw in draws[labels]:
            picked = (
                np.arange(len(dataset.y_train))
                if labels == grid.ALL
                else stratified_sample(dataset.y_train, int(labels), draw)
            )
            # with all labels a draw changes only the random encoder: the others are fitted once
            tables = {} if labels == grid.ALL and draw else dict(fixed)
            for network, template in templates.items():  # initialised as the grid's case 4
                if arms[network] != network:
                    continue  # the same random encoder as an earlier network's
                random = cases.make_classifier(template, 4, grid.init_seed(draw, 0), False)
                tables[f"{network} random"] = {None: codes(random.get_layer("encoder"), dataset)}
            for name, by_seed in tables.items():
                for seed, table in by_seed.items():
                    y = dataset.y_train[picked]
                    choose = held_out(labels, draw, table, dataset.y_val)
                    found = fit(table["train"][picked], y, config.C_GRID, args.max_iter, **choose)
                    test = float(found["model"].score(table["test"], dataset.y_test))
                    fits.append(
                        {"labels": labels, "draw": draw, "features": name, "seed": seed,
                         "C": found["C"], "held_out_accuracy": found["scores"],
                         "converged": found["converged"], "test_accuracy": test}
                    )  # fmt: skip
            print(f"{grid.labels_text(labels)}, draw {draw}: {len(fits)} probes", flush=True)
    path, rows = results / layout.PROBE, summary(fits)
    write_json(
        path,
        {
            "provenance": provenance("kfashion.probe", argv, dataset),
            "settings": {
                "labels": counts,
                "C_grid": list(config.C_GRID),
                "folds": config.FOLDS,
                "max_iter": args.max_iter,
                "sizes": dataset.sizes(),
            },  # fmt: skip
            "summary": rows,
            "fits": fits,
        },
    )
    for row in rows:
        print(f"{grid.labels_text(row['labels'])}, {row['features']}: {row['test_accuracy']:.4f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
