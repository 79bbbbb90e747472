"""The provenance every results file carries: command, software, machine and data."""

import datetime
import os
import platform
import shlex
import sys
from pathlib import Path


def machine() -> dict:
    """CPU model, cores, accelerators and backend of this machine."""
    import keras

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        accelerators = [f"{d.device_kind} ({d})" for d in jax.devices() if d.platform != "cpu"]
    elif backend == "tensorflow":
        import tensorflow as tf

        accelerators = [
            tf.config.experimental.get_device_details(d).get("device_name", d.name)
            for d in tf.config.list_physical_devices("GPU")
        ]
    else:
        accelerators = []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "accelerators": accelerators,
        "backend": backend,
    }


def portable(arg: str) -> str:
    """A command-line argument without this machine's folders: an absolute path becomes
    relative to the current folder when it lies below it, else just its last two parts."""
    path = Path(arg)
    if not path.is_absolute():
        return arg
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(Path("...", *path.parts[-2:]))


def utc_now() -> str:
    """The time now, in UTC, to the second: "2026-12-05T06:40:00+00:00"."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def environment() -> dict:
    """The backend, device, machine and software a run is made with: recorded with every run,
    so a table that combines runs can say whether they were all made alike."""
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__}
    for name in ("keras_tuner", "tensorflow", "jax", "numpy", "sklearn", "scipy"):
        if name in sys.modules:
            versions[name] = getattr(sys.modules[name], "__version__", "?")
    from kfashion import __version__

    versions["kfashion"] = __version__
    about = machine()
    return {
        "backend": keras.backend.backend(),
        "device": ", ".join(about["accelerators"]) or "CPU",
        "machine": f"{about['cpu']}, {about['cores']} cores, {platform.system()}, "
        f"{', '.join(about['accelerators']) or 'no GPU'}",
        "versions": versions,
    }


def made_on(env: dict) -> str:
    """One line naming a run's backend and machine, for comparing runs."""
    return f"{env['backend']} on {env['machine']}"


def command_line(module: str, argv: list[str]) -> str:
    """The command as a results file records it: "python -m kfashion.tune --seeds 3" (or, for
    a script's path such as "docs/bench.py", "python docs/bench.py ...")."""
    program = [module] if module.endswith(".py") else ["-m", module]
    return shlex.join(["python", *program, *map(portable, argv)])


def provenance(module: str, argv: list[str], dataset=None) -> dict:
    """The command, software, machine and data behind a results file.

    Args:
        module: the command's module, e.g. "kfashion.tune".
        argv: the arguments it was given.
        dataset: the `kfashion.data.Dataset` it used, if any: recorded by the kind of its
            source and its files' SHA-256, not by this machine's folders.
    """
    record = {
        "command": command_line(module, argv),
        **environment(),
        "date": utc_now(),
    }
    if dataset is not None:
        record["data"] = dataset.provenance()
    return record
