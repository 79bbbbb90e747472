"""The reference study's findings, judged from the results' JSON: `findings.json`.

Each claim gets a measure computed per seed and tested over seeds (`kfashion.analysis.stats`): the
two-sided one-sample t test of the per-seed values against 0, shown with its 95% t interval.
The comparisons are judged in families, the findings' comparisons together and the label
efficiency's together, each family's p-values Holm-adjusted so that the chance of any false
verdict in it is at most 5%. A comparison is **reproduced** where its adjusted p < 0.05 and the
mean lies on the claimed side, **contradicted** where adjusted p < 0.05 and it lies on the
other (a band or threshold claim says which side it missed on), **not resolved** otherwise. A
claim of several comparisons is reproduced when all are, contradicted when any is; a claim
whose words make two claims is judged as two. The report only renders what is written here;
nothing here is typed by hand.
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


def judge(results) -> dict:
    """Every finding the JSON files under `results` support, each family Holm-adjusted."""
    stages = (layout.SWEEP, layout.TRANSFER, layout.LABEL_EFFICIENCY)
    read = {name: read_json(results / name) for name in stages if (results / name).exists()}
    sweep, transfer = read.get(layout.SWEEP), read.get(layout.TRANSFER)
    efficiency = read.get(layout.LABEL_EFFICIENCY)
    claims = sweep_claims(sweep) if sweep is not None else []
    claims += transfer_claims(transfer) if transfer is not None else []
    labels = label_comparisons(efficiency) if efficiency is not None else []
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
        "per_class_recall": per_class_recall(transfer) if transfer is not None else None,
    }
