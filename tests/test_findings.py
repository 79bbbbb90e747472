"""Findings are judged by the interval over seeds, three ways; built from synthetic JSON."""

import numpy as np
import pytest

from kfashion import design, findings, stats


def test_verdicts_are_three_way():
    assert stats.verdict([0.1, 0.3], +1) == stats.REPRODUCED
    assert stats.verdict([-0.3, -0.1], +1) == stats.CONTRADICTED
    assert stats.verdict([-0.1, 0.3], +1) == stats.NOT_RESOLVED
    assert stats.verdict([-0.3, -0.1], -1) == stats.REPRODUCED
    assert stats.verdict(None, +1) == stats.NOT_RESOLVED  # one seed: no interval
    assert findings.within([-0.01, 0.02], -0.03, 0.03) == stats.REPRODUCED
    assert findings.within([0.04, 0.06], -0.03, 0.03) == stats.CONTRADICTED
    assert findings.within([0.02, 0.05], -0.03, 0.03) == stats.NOT_RESOLVED
    assert findings.combine([stats.REPRODUCED, stats.NOT_RESOLVED]) == stats.NOT_RESOLVED
    assert findings.combine([stats.REPRODUCED, stats.CONTRADICTED]) == stats.CONTRADICTED


def test_mean_interval_matches_scipy():
    from scipy import stats as scipy_stats

    values = [0.2, 0.5, 0.3, 0.4]
    expected = scipy_stats.t.interval(0.95, 3, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert stats.mean_interval(values)["ci95"] == pytest.approx(list(expected))


def synthetic_sweep(loss, seeds=(0, 1, 2), curve=None) -> dict:
    """A sweep.json of the reference design whose best validation loss is `loss(config, seed)`
    and whose curves come from `curve(config, seed, best)` (10 epochs)."""
    curve = curve or (lambda config, seed, best: list(np.linspace(2 * best, best, 10)))
    trials = []
    for index, point in enumerate(design.make_design()):
        runs = []
        for seed in seeds:
            best = loss(point.config, seed)
            val = curve(point.config, seed, best)
            runs.append(
                {
                    "seed": seed,
                    "best_val_loss": min(val),
                    "best_epoch": 10,
                    "history": {"loss": val, "val_loss": val},
                }
            )
        trials.append(
            {
                "trial_id": f"{index:02d}",
                "factor": point.factor,
                "value": point.value,
                "config": point.config,
                "status": "COMPLETED",
                "seeds": runs,
                "best_val_loss": float(np.mean([r["best_val_loss"] for r in runs])),
            }
        )
    return {"trials": trials}


def verdicts(found: list[dict]) -> dict:
    return {f["claim"]: f["verdict"] for f in found}


def test_trends_follow_the_losses_of_every_seed():
    def loss(config, seed):  # falls with n, rises with p, a little noise per seed
        return 0.05 / np.log2(config["latent_dim"]) + 0.02 * config["dropout"] + 0.0001 * seed

    found = verdicts(findings.sweep_claims(synthetic_sweep(loss)))
    assert found["Loss falls as n grows"] == "reproduced"
    assert found["Loss rises with p"] == "reproduced"
    assert found["Final selection n=64, p=0.1, batch 100, lr 1e-3, Adam"].startswith("follows")

    def flat(config, seed):  # no trend: the seeds disagree in sign
        return 0.03 + (0.001 if seed == 1 else -0.001) * np.log2(config["latent_dim"])

    assert (
        verdicts(findings.sweep_claims(synthetic_sweep(flat)))["Loss falls as n grows"]
        == "not resolved"
    )

    def rising(config, seed):
        return 0.01 * np.log2(config["latent_dim"]) + 0.0001 * seed

    assert (
        verdicts(findings.sweep_claims(synthetic_sweep(rising)))["Loss falls as n grows"]
        == "contradicted"
    )


def test_oscillation_and_overfitting_are_read_from_each_seeds_curve():
    def curve(config, seed, best):
        if config["learning_rate"] == 1e-2:  # up and down, ending where it began
            return [best * (1.2 if epoch % 2 else 1.0) for epoch in range(10)]
        if config["batch_size"] == 50:  # falls, then climbs back
            return [*np.linspace(2 * best, best, 6), *np.linspace(best, 1.1 * best, 5)[1:]]
        return list(np.linspace(2 * best, best, 10))

    sweep = synthetic_sweep(lambda config, seed: 0.03 + 0.001 * seed, curve=curve)
    found = verdicts(findings.sweep_claims(sweep))
    assert found["lr 1e-2 oscillates"] == "reproduced"
    assert found["lr 1e-2 shows no clear descent"] == "reproduced"
    assert found["Batch 50 hints at overfitting"] == "reproduced"
    assert found["Batches 100 and 150 fall more steadily than 50"] == "reproduced"
    sweep = synthetic_sweep(lambda config, seed: 0.03 + 0.001 * seed)  # every curve falls
    found = verdicts(findings.sweep_claims(sweep))
    assert found["lr 1e-2 oscillates"] == "not resolved"  # the same every seed: no evidence
    assert found["Batch 50 hints at overfitting"] == "not resolved"


def synthetic_transfer(accuracy) -> dict:
    runs, curves = [], {}
    for case in (1, 2, 3, 4):
        for seed in range(5):
            value = accuracy[case] + 0.002 * ((seed * 7 + case) % 5 - 2)
            recall = [value] * 9 + [value - 0.3]
            runs.append({"case": case, "seed": seed, "test_accuracy": value, "recall": recall})
            curves[f"case{case}_seed{seed}"] = {"loss": [2.0 if case == 4 else 0.5]}
    return {"cases": {str(c): {} for c in (1, 2, 3, 4)}, "runs": runs, "curves": curves}


def test_case_claims_need_their_interval_not_just_their_mean():
    tie = synthetic_transfer({1: 0.911, 2: 0.81, 3: 0.912, 4: 0.70})
    found = verdicts(findings.transfer_claims(tie))
    assert found["Case 1 has the highest accuracy"] == "not resolved"  # a tie is no contradiction
    assert found["Case 2: about 80%"] == "reproduced"
    assert found["Case 3: about 88%"] == "not resolved"  # 91.2%: its interval straddles 91%
    assert found["Case 4: below 75%"] == "reproduced"
    assert found["Case 4 starts from a very high loss"] == "reproduced"
    clear = synthetic_transfer({1: 0.93, 2: 0.81, 3: 0.88, 4: 0.70})
    found = verdicts(findings.transfer_claims(clear))
    assert found["Case 1 has the highest accuracy"] == "reproduced"
    assert found["Case 3: about 88%"] == "reproduced"
    behind = synthetic_transfer({1: 0.85, 2: 0.70, 3: 0.90, 4: 0.80})
    found = verdicts(findings.transfer_claims(behind))
    assert found["Case 1 has the highest accuracy"] == "contradicted"
    assert found["Case 2: about 80%"] == "contradicted"
    assert found["Case 4: below 75%"] == "contradicted"


def test_label_comparisons_say_who_is_ahead_only_where_the_interval_does():
    efficiency = {
        "settings": {"labels": [100, "all"]},
        "test_accuracy": {
            "1": {"100": {"per_seed": [0.70, 0.71, 0.72]}, "all": {"per_seed": [0.9, 0.91, 0.92]}},
            "3": {"100": {"per_seed": [0.60, 0.61, 0.62]}, "all": {"per_seed": [0.91, 0.9, 0.92]}},
        },
    }
    rows = findings.label_comparisons(efficiency)
    outcomes = {row["labels"]: row["outcome"] for row in rows}
    assert outcomes == {100: "case 1 ahead", "all": "not resolved"}
