"""Render the blocks of the project's Markdown from the committed reference run: the answer, the
four cases and the findings in README.md, the speed in docs/speed.md. After re-rendering the
reference's own report (`python -m kfashion.report --results results/reference`), run
`python docs/render.py` from the repository's root. It rewrites only the text between each
block's two markers; the tests check that the committed text is what the JSON renders.
"""

import sys
from pathlib import Path

from kfashion.core import layout
from kfashion.core.files import read_json, write_text
from kfashion.rendering import grid_sections, sections, speed
from kfashion.report import load

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "results/reference"  # as the Markdown links it, from the root
HEADLINE = ("<!-- results:start -->", "<!-- results:end -->")
FINDINGS = ("<!-- findings:start -->", "<!-- findings:end -->")
SPEED = ("<!-- speed:start -->", "<!-- speed:end -->")
ANSWER = ("<!-- answer:start -->", "<!-- answer:end -->")
MARKERS = (HEADLINE, FINDINGS, SPEED, ANSWER)
DOCUMENTS = ("README.md", "docs/speed.md")  # the files with blocks


def findings_summary(findings: dict, link: str) -> list[str]:
    """One row a finding: its verdict and its intervals."""
    rows = []
    for found in findings["claims"]:
        numbers = "; ".join(
            f"{c['name']}: {sections.interval(c)}"
            + (f"; {sections.p_values(c)}" if c["p_value"] is not None else "")
            for c in found["comparisons"]
        )
        rows.append([found["claim"], f"**{found['verdict']}**", numbers])
    out = sections.table(["finding", "here", "mean [95% interval] over seeds; p-values"], rows)
    out += ["", sections.families(findings)]
    return out + ["", f"Measures, per-seed values and rules: [the report]({link}/README.md)."]


def headline(results: Path, link: str) -> str:
    """The four cases on all labels, the baselines and the key figure."""
    transfer = read_json(results / layout.TRANSFER)
    rows = [
        [case, entry["label"], sections.spread(entry["test_accuracy"])]
        for case, entry in sorted(transfer["cases"].items(), key=lambda kv: int(kv[0]))
    ]
    if baseline := load(results, layout.BASELINE):
        lr = baseline["logistic_regression"]["test_accuracy"]
        rows.append(["-", "logistic regression on raw pixels (baseline)", f"{lr:.2%}"])
        for key, name in (
            ("logistic_regression_tuned", "the same, C chosen on validation"),
            ("pca_logistic_regression", "PCA-64 codes + logistic regression"),
        ):
            if key in baseline:
                rows.append(["-", name, f"{baseline[key]['test_accuracy']:.2%}"])
    settings = transfer["settings"]
    encoder = (
        f"the {settings['network']} encoder of pretraining seed {settings['encoder_seed']} for "
        "the pretrained cases, each case at the learning rate validation chose, "
        if "encoder_seed" in settings
        else ""
    )
    lines = [
        f"The four cases on all labels: test accuracy on the {settings['sizes']['test']:,} test "
        f"images, {encoder}mean ± std over {len(settings['seeds'])} seeds "
        f"([full report]({link}/README.md)):",
        "",
    ]
    lines += sections.table(["case", "classifier", "test accuracy"], rows)
    return "\n".join(lines + ["", f"![transfer curves]({link}/{transfer['figures']['curves']})"])


def replace_block(text: str, markers: tuple[str, str], block: str) -> str:
    """`text` with what lies between the two markers replaced by `block`."""
    start, end = markers
    if start not in text:
        return text
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{block}\n{end}{after}"


def rendered(text: str, results: Path, link: str) -> str:
    """`text` with each of its blocks rendered from the JSON under `results` (linked from the
    text as `link`); a text without a block's markers is left as it is there."""
    text = replace_block(text, HEADLINE, headline(results, link))
    if findings := load(results, layout.FINDINGS):
        text = replace_block(text, FINDINGS, "\n".join(findings_summary(findings, link)))
    if grid := load(results, layout.GRID):
        lines = grid_sections.answer_lines(grid["answer"], grid.get("answer_figure"), link)
        text = replace_block(text, ANSWER, "\n".join(lines))
    if bench := load(results, layout.BENCH):
        text = replace_block(text, SPEED, "\n".join(speed.speed_section(bench)))
    return text


def link_from(document: str) -> str:
    """The reference folder as a link from `document` (a path from the root)."""
    return "../" * document.count("/") + REFERENCE


def main() -> None:
    results = ROOT / REFERENCE
    if not (results / layout.TRANSFER).exists():
        print(f"{REFERENCE}/{layout.TRANSFER}: missing; nothing to render", file=sys.stderr)
        raise SystemExit(2)
    # everything is rendered before anything is written: a bad file changes nothing
    outputs = {}
    for document in DOCUMENTS:
        path = ROOT / document
        outputs[path] = rendered(path.read_text(), results, link_from(document))
    for path, text in outputs.items():
        write_text(path, text)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
