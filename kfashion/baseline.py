"""`python -m kfashion.baseline`: linear classifiers on the same split, the floors to beat.

The frozen transfer cases are linear probes (a Dense(10) on fixed codes), so their fair
counterparts are linear too, all fitted with scikit-learn on the same 50,000-image training
split the stages use (pixels in [0, 1], flattened):

- `logistic_regression`: logistic regression on raw pixels at scikit-learn's default C=1 (the
  Fashion-MNIST paper reports about 84% for it); kept under this name for its readers.
- `logistic_regression_tuned`: the same on raw pixels with its L2 strength C chosen on the
  validation split from `config.C_GRID`; every C's validation accuracy is recorded.
- `pca_logistic_regression`: PCA with `config.PCA_COMPONENTS` components, fitted on the
  training split, then logistic regression on those codes, C chosen the same way: the linear
  counterpart of case 2 (a frozen 64-number code and a linear head).

Each model's test accuracy is read once, at the end, from the model its validation choice
made; nothing is chosen by it. Writes `baseline.json` under `--results`; run again with the
same settings, it keeps the file it wrote (`--overwrite` fits anew).
"""

import sys
import time
import warnings

from kfashion import config
from kfashion.core import cli, layout
from kfashion.core.errors import exit_on_user_error
from kfashion.core.files import read_json, read_record, reading, write_json
from kfashion.core.provenance import provenance


def flat(x):
    return x.reshape(len(x), -1)


def fit_logistic(x, y, c: float, max_iter: int):
    """A fitted LogisticRegression (lbfgs) and what its fit took."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    model = LogisticRegression(C=c, max_iter=max_iter)
    start = time.perf_counter()
    # One BLAS thread: these narrow products (images x 784 by 784 x 10) run faster on one
    # thread than on two, as measured when this was chosen (its commit has the figures).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    return model, {
        "iterations": int(model.n_iter_.max()),
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "seconds": time.perf_counter() - start,
    }


def choose_c(splits, max_iter: int, grid=config.C_GRID) -> tuple[dict, dict]:
    """Fit one model per C on the training split; the chosen C is the one of highest
    validation accuracy (the smaller C on a tie). `splits` is (x_train, y_train, x_val, y_val).
    Returns the record (every C's validation accuracy, the chosen C) and C -> fitted model."""
    x_train, y_train, x_val, y_val = splits
    rows, fitted = [], {}
    for c in grid:
        fitted[c], info = fit_logistic(x_train, y_train, c, max_iter)
        rows.append({"C": c, "validation_accuracy": float(fitted[c].score(x_val, y_val)), **info})
    best = max(rows, key=lambda row: (row["validation_accuracy"], -row["C"]))
    return {"grid": rows, "chosen_C": best["C"]}, fitted


def fit_and_score(dataset, max_iter: int = config.MAX_ITER, grid=config.C_GRID) -> dict:
    """Every baseline, fitted on the training split, chosen on validation, then scored once on
    the test split. The grid holds C=1, the entry other readers know."""
    from sklearn.decomposition import PCA

    if config.REGULARISATION_C not in grid:
        raise ValueError(f"the grid of C must hold {config.REGULARISATION_C}")
    x_train, x_val, x_test = flat(dataset.x_train), flat(dataset.x_val), flat(dataset.x_test)
    y_train, y_val, y_test = dataset.y_train, dataset.y_val, dataset.y_test
    pixels, by_c = choose_c((x_train, y_train, x_val, y_val), max_iter, grid)
    start = time.perf_counter()
    pca = PCA(config.PCA_COMPONENTS, random_state=0).fit(x_train)
    pca_seconds = time.perf_counter() - start
    codes = [pca.transform(x) for x in (x_train, x_val, x_test)]
    coded, coded_by_c = choose_c((codes[0], y_train, codes[1], y_val), max_iter, grid)
    default = next(row for row in pixels["grid"] if row["C"] == config.REGULARISATION_C)
    # the test split, read once per model, after every choice was made
    return {
        "logistic_regression": {
            "model": f"LogisticRegression(C={config.REGULARISATION_C}, solver=lbfgs, "
            f"max_iter={max_iter})",
            "features": "raw pixels in [0, 1], 784 per image",
            **{k: default[k] for k in ("iterations", "converged", "validation_accuracy")},
            "test_accuracy": float(by_c[config.REGULARISATION_C].score(x_test, y_test)),
            "seconds": default["seconds"],
        },
        "logistic_regression_tuned": {
            "model": f"LogisticRegression(solver=lbfgs, max_iter={max_iter}), C chosen on the "
            "validation split",
            "features": "raw pixels in [0, 1], 784 per image",
            **pixels,
            "test_accuracy": float(by_c[pixels["chosen_C"]].score(x_test, y_test)),
        },
        "pca_logistic_regression": {
            "model": f"PCA({config.PCA_COMPONENTS}) fitted on the training split, then "
            f"LogisticRegression(solver=lbfgs, max_iter={max_iter}), C chosen on the "
            "validation split",
            "features": f"the {config.PCA_COMPONENTS} principal-component scores of the raw pixels",
            "explained_variance": float(pca.explained_variance_ratio_.sum()),
            "pca_seconds": pca_seconds,
            **coded,
            "test_accuracy": float(coded_by_c[coded["chosen_C"]].score(codes[2], y_test)),
        },
    }


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = cli.parser(
        "kfashion.baseline", "Linear baselines on the same split.", "--results results/quick"
    )
    parser.add_argument("--max-iter", type=int, default=config.MAX_ITER, help="lbfgs iterations")
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=config.RESULTS, help="where baseline.json is written")
    parser.add_argument("--overwrite", action="store_true", help="fit again even if done")
    args = parser.parse_args(argv)
    cli.at_least(args.max_iter, 1, "--max-iter")
    cli.check_data_flags(args)
    path = cli.writable_folder(args.results, "--results") / layout.BASELINE
    settings = {"subset": args.subset, "max_iter": args.max_iter}
    kept = False
    if not args.overwrite and read_record(path) is not None:
        with reading(path):
            kept = read_json(path)["settings"].get("run") == settings
    if kept:
        print(f"{path} holds this baseline already (pass --overwrite to fit it again)")
        return
    from kfashion import data
    from kfashion.core.quiet_keras import load_keras

    load_keras()  # for the provenance: which backend the other stages ran on
    dataset = data.load(args.data_dir, subset=args.subset)
    print(f"data: {dataset.describe()}", flush=True)
    scores = fit_and_score(dataset, args.max_iter)
    settings_out = {"run": settings, "sizes": dataset.sizes(), "C_grid": list(config.C_GRID)}
    write_json(
        path,
        {"provenance": provenance("kfashion.baseline", argv, dataset), "settings": settings_out}
        | scores,
    )
    for name, entry in scores.items():
        chosen = f", C={entry['chosen_C']} chosen on validation" if "chosen_C" in entry else ""
        print(f"{name}: test accuracy {entry['test_accuracy']:.4f}{chosen}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
