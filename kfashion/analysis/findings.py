"""The reference study's findings, judged from the results' JSON: `findings.json`. Each claim's
comparisons are tested over seeds and judged by the rule of `kfashion.analysis.claims` (RULE,
BAND_RULE), in two families, the findings' and the label efficiency's, each Holm-adjusted so
that the chance of any false verdict in it is at most 5%. A claim whose words make two claims
is judged as two. The report only renders what is written here; nothing here is typed by hand.
"""

from kfashion.analysis.claims import BAND_RULE, INTERVALS, RULE, combine, settle
from kfashion.analysis.sweep_claims import sweep_claims
from kfashion.analysis.transfer_claims import (
    ahead,
    label_comparisons,
    per_class_recall,
    transfer_claims,
)
from kfashion.config import CASES, CLASSIC_CASES
from kfashion.core import layout
from kfashion.core.files import file_digest, read_json


def grid_claims(grid: dict) -> tuple[list, list]:
    """The claims about the grid's classic four cases on all labels, and the comparisons of
    those cases at every label count (none where the grid holds no such cases or counts)."""
    transfer, efficiency = grid["classic"], grid["label_efficiency"]
    return (
        transfer_claims(transfer) if transfer else [],
        label_comparisons(efficiency) if efficiency else [],
    )


def judge(results) -> dict:
    """Every finding the JSON files under `results` support, each family Holm-adjusted."""
    stages = (layout.SWEEP, layout.GRID)
    read = {name: read_json(results / name) for name in stages if (results / name).exists()}
    sweep, grid = read.get(layout.SWEEP), read.get(layout.GRID)
    claims, labels = grid_claims(grid) if grid else ([], [])
    claims = (sweep_claims(sweep) if sweep is not None else []) + claims
    families = {
        "findings": settle([c for found in claims for c in found["comparisons"]]),
        "label_efficiency": settle(labels),
    }
    # a comparison that serves two parts of a claim (case 1 - case 4 of the confusion) is
    # counted in each: Holm is then a little stricter than it need be
    families["findings"]["members"] = [
        f"{found['claim']}: {c['name']}"
        for found in claims
        for c in found["comparisons"]
        if c["p_value"] is not None
    ]
    families["label_efficiency"]["members"] = [
        f"{row['name']}, {row['labels']} labels" for row in labels if row["p_value"] is not None
    ]
    for found in claims:
        found["verdict"] = combine([c["verdict"] for c in found["comparisons"]])
    for row in labels:
        row["outcome"] = ahead(row)
    return {
        "rule": RULE,
        "band_rule": BAND_RULE,
        "test": "two-sided one-sample Student t test over seeds of the per-seed measure against "
        "0 (scipy.stats.ttest_1samp; for two cases or points the measure is their paired "
        "difference), Holm-adjusted over the family (statsmodels multipletests, method holm)",
        "intervals": INTERVALS,
        "families": families,
        "sources": {name: file_digest(results / name) for name in read},
        "claims": claims,
        "label_efficiency": labels,
        "cases": {c: CASES[int(c)].label for c in CLASSIC_CASES.split(",")},  # judged
        "per_class_recall": per_class_recall(grid["classic"]) if grid and grid["classic"] else None,
    }
