"""`python -m kfashion.baseline`: logistic regression on raw pixels, the floor to beat.

The Fashion-MNIST paper reports about 84% for it. Here it is fitted with scikit-learn on the
same 50,000-image training split the stages use (pixels in [0, 1], flattened), checked on the
validation split and scored on the 10,000 test images. Writes `baseline.json` under `--results`;
run again with the same settings, it keeps the file it wrote (`--overwrite` fits anew).
"""

import sys
import time
import warnings

from kfashion import cli
from kfashion.errors import exit_on_user_error
from kfashion.files import read_json, write_json
from kfashion.provenance import provenance

MAX_ITER = 1000  # lbfgs iterations at most; the JSON says whether it converged
REGULARISATION_C = 1.0  # scikit-learn's default L2 strength
RESULTS = "results"


def fit_and_score(dataset, max_iter: int = MAX_ITER) -> dict:
    """Fit the baseline on the training split; accuracy on the validation and test splits."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    def flat(x):
        return x.reshape(len(x), -1)

    model = LogisticRegression(C=REGULARISATION_C, max_iter=max_iter)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(flat(dataset.x_train), dataset.y_train)
    seconds = time.perf_counter() - start
    return {
        "model": f"LogisticRegression(C={REGULARISATION_C}, solver=lbfgs, max_iter={max_iter})",
        "features": "raw pixels in [0, 1], 784 per image",
        "iterations": int(model.n_iter_.max()),
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "validation_accuracy": float(model.score(flat(dataset.x_val), dataset.y_val)),
        "test_accuracy": float(model.score(flat(dataset.x_test), dataset.y_test)),
        "seconds": seconds,
    }


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = cli.parser("kfashion.baseline", "Logistic regression on raw pixels, same split.")
    parser.add_argument("--max-iter", type=int, default=MAX_ITER, help="lbfgs iterations")
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=RESULTS, help="where baseline.json is written")
    parser.add_argument("--overwrite", action="store_true", help="fit again even if done")
    args = parser.parse_args(argv)
    cli.at_least(args.max_iter, 1, "--max-iter")
    cli.check_data_flags(args)
    path = cli.writable_folder(args.results, "--results") / "baseline.json"
    settings = {"subset": args.subset, "max_iter": args.max_iter}
    if path.exists() and not args.overwrite and read_json(path)["settings"].get("run") == settings:
        print(f"{path} holds this baseline already (pass --overwrite to fit it again)")
        return
    from kfashion import data
    from kfashion.quiet_keras import load_keras

    load_keras()  # for the provenance: which backend the other stages ran on
    dataset = data.load(args.data_dir, subset=args.subset)
    print(f"data: {dataset.describe()}", flush=True)
    scores = fit_and_score(dataset, args.max_iter)
    write_json(
        path,
        {
            "provenance": provenance("kfashion.baseline", argv, dataset),
            "settings": {"run": settings, "sizes": dataset.sizes()},
            "logistic_regression": scores,
        },
    )
    print(
        f"logistic regression on raw pixels: test accuracy {scores['test_accuracy']:.4f} "
        f"(validation {scores['validation_accuracy']:.4f}; {scores['iterations']} iterations, "
        f"{'converged' if scores['converged'] else 'not converged'}, {scores['seconds']:.0f} s); "
        f"wrote {path}"
    )


if __name__ == "__main__":
    main()
