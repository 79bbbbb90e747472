"""One command of a study (`python -m kfashion.study`): its arguments, its units of work and
how many are finished, and whether its results record it as done."""

import dataclasses
from collections.abc import Callable
from pathlib import Path

from kfashion.core import layout
from kfashion.core.files import read_record

# The file that says a stage has finished, by its command (the report is always made again)
OUTPUTS = {
    "tune": layout.SWEEP,
    "transfer": layout.GRID,
    "baseline": layout.BASELINE,
    "probe": layout.PROBE,
    "latent": layout.LATENT,
}


@dataclasses.dataclass
class Stage:
    """One command of the study, and the files of its finished units of work."""

    module: str
    argv: list
    what: str
    units: int = 1  # units of work (sweep seeds, runs), for the progress line
    finished: Callable[[], list[Path]] | None = None  # the records of finished units
    networks: list = dataclasses.field(default_factory=list)  # the grid's, as it names them
    # the units finished, where records can outnumber them (a grid's choice that trained a
    # rate beyond its ladder's first ones); None: one per record of `finished`
    held: Callable[[], int] | None = None

    def units_text(self, count: int) -> str:
        """`count` units of work by name: "1 seed", "3 seeds" of a sweep, runs of the others."""
        name = "seed" if self.module == "tune" else "run"
        return f"{count} {name}" + ("" if count == 1 else "s")

    @property
    def workers(self) -> int:
        """The local worker processes its runs train in side by side: a search's --workers (or
        its default), else 1."""
        if self.module not in ("tune", "transfer"):
            return 1
        if "--workers" in self.argv:  # argparse has made it an int; 0 is refused by the stage
            return max(1, int(self.argv[self.argv.index("--workers") + 1]))
        from kfashion.engine import parallel

        return parallel.default_workers()

    def done(self) -> int:
        if self.held is not None:
            return self.held()
        return len(self.finished()) if self.finished else 0

    def made_already(self) -> bool:
        """Whether the stage's results file records this very command: a finished stage,
        skipped. (A clone of a reference run in progress holds its committed records and
        exported models, but not KerasTuner's state or each seed's weights, which a sweep
        would otherwise train again.)"""
        from kfashion.core.provenance import command_line

        name = OUTPUTS.get(self.module)
        if name is None or "--results" not in self.argv:
            return False
        made = read_record(Path(self.argv[self.argv.index("--results") + 1]) / name)
        command = (made or {}).get("provenance", {}).get("command")
        return command == command_line(f"kfashion.{self.module}", self.argv)

    def seconds_per_unit(self) -> float | None:
        """Mean seconds of this stage's finished units, from their records."""
        seconds = []
        for path in self.finished() if self.finished else []:
            try:
                seconds.append(float(read_record(path)["seconds"]))  # None: TypeError
            except (ValueError, KeyError, TypeError):
                continue
        return sum(seconds) / len(seconds) if seconds else None
