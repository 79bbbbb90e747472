"""The speed block of docs/speed.md, from `python -m kfashion.bench`'s bench.json."""

from kfashion.rendering.sections import table


def version(entry: dict) -> str:
    return entry["provenance"]["versions"].get("kfashion", "?")


def speed_section(bench: dict) -> list[str]:
    """Each machine's timed runs (`stage_runs`), then the wall time of its whole commands."""
    out = []
    for machine, entry in bench.items():
        if "runs" in entry:  # (earlier entries timed a path no stage runs: commands only)
            out += stage_runs(machine, entry)
    for machine, entry in bench.items():
        where = f"on {machine} (kfashion {version(entry)}"
        for name in ("study", "quick_study"):
            if run := entry.get(name):
                stages = ", ".join(
                    f"{stage.split()[0]} {seconds:.0f} s"
                    for stage, seconds in run["stage_seconds"].items()
                )
                cache = run["compilation_cache"]
                hits = (
                    f"; JAX compilation cache: {cache['hits']} hits, {cache['misses']} misses"
                    if cache["hits"] or cache["misses"]
                    else ""
                )
                out.append(  # a quick look of another version may have had other sizes
                    f"\n`{run['command']}` {where}, {entry['provenance']['date'][:10]}), from "
                    f"scratch: {run['wall_seconds']:.0f} s ({stages}){hits}."
                )
        for command, seconds in entry.get("small_study_seconds", {}).items():
            out.append(f"\n`{command}` {where}): {seconds:.0f} s.")
        for run in entry.get("full_sweeps", []):
            out.append(f"\n`{run['command']}` {where}), from scratch: {run['wall_seconds']:.0f} s.")
    return out


def stage_runs(machine: str, entry: dict) -> list[str]:
    """One machine's timed runs as a table, and the ratios the bench judges by."""
    low, high = sorted(entry["matmul_peak_gflops"])
    out = [
        f"On {machine} ({entry['provenance']['date'][:10]}, kfashion {version(entry)}), "
        f"{entry['epochs']} epochs a run at batch 100 (unless its row says otherwise), "
        "validated after every epoch where the run validates and tested once, each timed "
        f"{entry['timed_runs']} times in turn after an untimed run (float32 matmul peak "
        f"{low:.0f}-{high:.0f} GFLOP/s as it ran):",
        "",
    ]
    rows = []
    for name, run in entry["runs"].items():
        seconds = f"{min(run['seconds']):.1f}-{max(run['seconds']):.1f}"
        images = f"{run['images_per_second_median']:,.0f}"
        rows.append([f"`{name}`", run["what"], f"{run['seconds_median']:.1f} ({seconds})", images])
    out += table("run | what | seconds: median (range) | images/s", rows)
    ratios = entry["ratios"]

    def against(stage: str) -> str:
        torch = ratios[f"{stage}_over_plain_torch"]
        beside = f" and {torch:.2f}x a plain PyTorch loop" if torch else ""
        return f"{ratios[f'{stage}_over_plain_fit']:.2f}x a plain fit{beside}"

    out.append(
        f"\nImages/s of the median runs: a sweep seed trains at {against('sweep_seed')} of the "
        f"same run, a grid run on all labels (joint) at {against('grid_all_joint')} "
        f"(the bar: {entry['torch_bar']}x PyTorch)."
    )
    if mechanisms := entry.get("mechanisms"):  # what the bench measured then, since decided
        judged = [
            f"{m['what']} {m['ratio']:.2f}x ({'kept' if m['keep'] else 'below the bar'})"
            for m in mechanisms.values()
        ]
        out.append(
            f"\nEach speed mechanism against the same run without it (it stays at "
            f"{entry['mechanism_bar']}x or more): {'; '.join(judged)}."
        )
    return out
