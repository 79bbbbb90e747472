"""The quick look (README.md) and the bench (docs/speed.md), as a newcomer runs them, in a fresh
clone of their own (they need nothing the pages' other commands make; tests/test_readme.py
runs those)."""

import pytest
from helpers import docs_render
from test_readme import (
    assert_every_command_ran_and_nothing_committed_changed,
    results,
    run_in_fresh_clone,
    shown,
)


@pytest.fixture(scope="session")
def quick_clone(tmp_path_factory, debian_data_dir):
    return run_in_fresh_clone(shown(separate=True), tmp_path_factory.mktemp("quick"))


def test_the_quick_look_and_the_bench_run_and_no_committed_file_changes(quick_clone):
    assert_every_command_ran_and_nothing_committed_changed(quick_clone, separate=True)


def test_the_quick_look_runs_at_its_own_sizes(quick_clone):
    quick = results(quick_clone, "sweep.json", "results/quick")
    assert quick["settings"]["subset"] == 300 and quick["settings"]["seeds"] == [0]
    classic = results(quick_clone, "grid.json", "results/quick")["classic"]
    assert classic["settings"]["seeds"] == [0, 1]


def test_findings_and_report_of_the_quick_look(quick_clone):
    quick = results(quick_clone, "findings.json", "results/quick")  # transfer: 2 seeds
    verdicts = {found["claim"]: found["verdict"] for found in quick["claims"]}
    assert {"Loss falls as n grows", "Case 1 has the highest accuracy"} <= set(verdicts)
    for found in quick["claims"]:
        for comparison in found["comparisons"]:
            if comparison.get("reason"):  # a measure these tiny runs cannot give, and why
                assert comparison["per_seed"] == [] and found["verdict"] == "not resolved"
            elif found["claim"].startswith(("Case", "Confusion")):  # the transfer's: 2 seeds
                assert len(comparison["per_seed"]) == 2
                if comparison["ci95"] is None:  # both seeds alike: no spread, no test
                    first, second = comparison["per_seed"]
                    assert first == pytest.approx(second, abs=1e-12)
                    assert comparison["verdict"] == "not resolved"
                else:
                    assert len(comparison["ci95"]) == 2
            else:  # the sweep's, one seed a point: no interval, nothing resolved
                assert len(comparison["per_seed"]) == 1 and comparison["ci95"] is None
                assert found["verdict"] == "not resolved"
    report = (quick_clone["path"] / "results" / "quick" / "README.md").read_text()
    assert "## What this run is" in report and "Not resolved with one seed" in report
    alike = [  # claims whose seeds all agree: named apart from one seed's, with their reason
        found
        for found in quick["claims"]
        if all(c["ci95"] is None and len(c["per_seed"]) > 1 for c in found["comparisons"])
    ]
    assert ("Not resolved: every seed gave the same number" in report) == bool(alike)
    # the pretext test_readme.QUICK adds beside reconstruction: its cost, knob, frozen and tuned
    pretexts = report.split("## Pretext tasks")[1].split("\n## ")[0]
    assert "| reconstruction | - | " in pretexts and "| denoising | noise=" in pretexts
    assert "#### denoising: noise" in pretexts and "| course_denoising, fine-tuned | " in pretexts
    assert (
        "| course_denoising, linear probe | " in pretexts
        and "| pixels, linear probe | " in pretexts
    )


def test_the_bench_records_what_its_speed_table_shows(quick_clone):
    (entry,) = results(quick_clone, "bench.json").values()
    runs = entry["runs"]
    assert {"sweep_seed", "grid_all_joint", "grid_100_frozen", "classifier_plain_fit"} <= set(runs)
    for run in runs.values():
        (seconds,) = run["seconds"]  # --repeats 1
        assert run["images_per_second_median"] == pytest.approx(run["images"] / seconds)
    assert runs["sweep_seed"]["images"] == entry["epochs"] * 500  # the training split
    rate = {name: run["images_per_second_median"] for name, run in runs.items()}
    ratio = rate["grid_all_joint"] / rate["classifier_plain_fit"]
    assert entry["ratios"]["grid_all_joint_over_plain_fit"] == pytest.approx(ratio)
    shown = "\n".join(docs_render().speed_section({"this machine": entry}))  # docs/speed.md's block
    median = runs["sweep_seed"]["seconds_median"]
    assert (
        f"| `sweep_seed` | a sweep seed (base point), alone in this process | {median:.1f}" in shown
    )
