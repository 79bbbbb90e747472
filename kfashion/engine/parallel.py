"""Parallel trials on KerasTuner's distributed mode: a chief oracle and local worker processes.

KerasTuner reads three environment variables: `KERASTUNER_TUNER_ID` ("chief", or a worker's name
such as "tuner0"), `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`. The chief serves the
oracle over gRPC and hands one trial to each worker that asks; `python -m kfashion.tune` or
`kfashion.transfer` with `--workers N` makes this process the chief on loopback and starts N
workers, each with its share of the cores. Workers on other machines join the same way
(docs/speed.md).

A worker that dies (killed, out of memory) is started again under the same name, and the chief
hands it back the trial it was running, which continues from its first unfinished seed.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from kfashion import config
from kfashion.core import cli
from kfashion.core.errors import REFUSAL, REFUSED, UserError, stop_if_interrupted

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
CHIEF_PID = "KFASHION_CHIEF_PID"  # set for a local worker: the process whose end ends it


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux's MemAvailable), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def most_workers() -> int:
    """The most local workers this machine holds: one core each, and the memory of each plus
    the chief's."""
    cores = os.cpu_count() or 1
    memory = available_memory()
    by_memory = cores if memory is None else memory // config.WORKER_MEMORY - 1  # the chief is one
    return max(1, min(cores, by_memory))


def default_workers() -> int:
    """config.WORKERS, or as many as this machine holds where that is fewer."""
    return min(config.WORKERS, most_workers())


def check_workers(count: int) -> None:
    """Refuse a worker count the machine cannot hold, before any process starts."""
    most = most_workers()
    if count > most:
        memory = available_memory()
        free = f" and {memory / 2**30:.1f} GiB of memory free" if memory is not None else ""
        raise UserError(
            f"--workers {count}: this machine has {os.cpu_count()} cores{free}, room for at "
            f"most {most} workers (each takes a core and about {config.WORKER_MEMORY / 2**30:.1f} "
            f"GiB); pass --workers {most} or fewer"
        )


def add_workers_flag(parser, what: str) -> None:
    """--workers of a search that runs its `what` (trials, cells) over local processes."""
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help=f"run {what} in this many local worker processes (KerasTuner's distributed mode); "
        f"1 runs them in this process (default: {config.WORKERS}, or as many as the machine "
        "holds)",
    )


def check_workers_flag(count: int) -> None:
    """--workers: at least 1, and no more than the machine holds."""
    cli.at_least(count, 1, "--workers")
    if role() == "single":  # a worker is not told --workers: the chief checked it
        check_workers(count)


def role() -> str:
    """ "single" (no distributed mode), "chief" or "worker", from KerasTuner's variables."""
    if ORACLE_IP not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get(TUNER_ID, "") else "worker"


def threads_environment(threads: int) -> dict:
    """Environment variables that limit TensorFlow, XLA (JAX) and BLAS to `threads` threads."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        # after the user's own XLA flags, which would otherwise be lost
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}".strip(),
    }  # (GPU memory: quiet_keras keeps each process from taking it all up front)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def chief_on_loopback():
    """Within the block, this process's tuner serves the oracle on loopback as the chief."""
    chief = {TUNER_ID: "chief", ORACLE_IP: "127.0.0.1", ORACLE_PORT: str(_free_port())}
    saved = {name: os.environ.get(name) for name in chief}
    os.environ.update(chief)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_as_chief(search, workers: int, worker_args: list[str], module: str):
    """`search()` in this process as the chief of `workers` local processes running `python -m
    MODULE WORKER_ARGS`; a worker that cannot be kept alive ends it with a UserError."""
    with chief_on_loopback(), LocalWorkers(workers, worker_args, module) as local:
        try:
            return search()
        except KeyboardInterrupt:  # LocalWorkers interrupts the main thread when a worker
            # keeps failing or refuses; without a failure it was Ctrl-C
            if local.failure:
                raise UserError(local.failure) from None
            raise


def search(make_tuner, workers: int, worker_args, module: str, *fit_args, tuner=None, **fit_kwargs):
    """Run (or resume) a KerasTuner search and return its tuner, whose oracle has every trial:
    in this process, as one of the workers of a chief, or as the chief of `workers` local
    processes running `python -m MODULE WORKER_ARGS` (see `run_as_chief`).

    The search runs with `tuner`, or a tuner `make_tuner()` makes: a chief's must be made once
    KerasTuner's variables say it is the chief. `fit_args` and `fit_kwargs` go to
    `tuner.search`.
    """

    def run(tuner=None):
        tuner = tuner or make_tuner()
        tuner.oracle.verbose = 0  # the tuners' own lines per trial replace KerasTuner's table
        if role() == "chief":  # it trains nothing: it hands out trials until all are done
            serve_oracle(tuner)
            return tuner
        tuner.search(*fit_args, **fit_kwargs)
        if role() == "single":
            # KerasTuner saves the oracle's state before it lets go of the trial that ends, so
            # the last trial would read as running, and a later run of the search would run it
            # again
            tuner.oracle.save()
        return tuner

    if workers == 1 or role() != "single":
        return run(tuner)
    return run_as_chief(run, workers, worker_args, module)  # no `tuner`: see above


def serve_oracle(tuner) -> None:
    """Serve the tuner's oracle to the workers until every trial has ended and every worker
    has been told to stop: `tuner.search` on the chief, with a shorter wait.

    KerasTuner's own chief loop (`oracle_chief.start_server`, which `tuner.search` runs on the
    chief) cannot be used as it is: it checks every second until a first worker is told to
    stop, then every 20 s until the others are done, so most sweeps would end up to 20 s after
    their last trial; and it never stops its server nor saves the oracle after the last trial
    ends. This is the same loop, polling every second, then both.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(tuner.oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_insecure_port(f"{os.environ[ORACLE_IP]}:{os.environ[ORACLE_PORT]}")
    server.start()
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(tuner.oracle)):
            time.sleep(1)
            stop_if_interrupted()  # a worker's failure (LocalWorkers), should its interrupt
            # have been dropped on the way
    finally:
        server.stop(grace=None)
    tuner.oracle.save()  # see `search`


def end_with_chief() -> None:
    """In a local worker: end, as SIGTERM would end it, once the chief that started it is gone,
    even by kill -9, which leaves the chief no time to stop its workers. A thread asks every
    second: a parent-death signal would have to be set between fork and exec (`preexec_fn`),
    which Python's documentation says is not safe in a process with threads, as the chief is."""
    chief = os.environ.get(CHIEF_PID)
    if chief is None:  # not started by `LocalWorkers` (a worker on another machine, say)
        return

    def watch():
        while os.getppid() == int(chief):
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


class LocalWorkers:
    """N worker processes running `python -m MODULE ARGS` (a sweep's or a grid's), watched
    from a thread.

    Each worker's output is passed through line by line behind its name. A worker that exits
    with an error is started again (up to `config.WORKER_RESTARTS` times); if one cannot be kept
    alive, or refuses as a command does (a full disk, say), the main thread is interrupted so the
    search stops, with the worker's line, instead of waiting for it forever.
    """

    def __init__(self, count: int, args: list[str], module: str):
        self.count = count
        self.args = args
        self.module = module
        self.threads = max(1, (os.cpu_count() or 1) // count)
        self.processes = {}
        self.relays = {}  # the threads passing each worker's output through
        self.refusals = {}  # each worker's last REFUSAL line
        self.restarts = dict.fromkeys(self.names(), 0)
        self.failure = None
        self._stop = threading.Event()

    def names(self) -> list[str]:
        return [f"tuner{i}" for i in range(self.count)]

    def _start(self, name: str) -> None:
        env = {
            **os.environ,
            **threads_environment(self.threads),
            TUNER_ID: name,
            CHIEF_PID: str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        print(f"started worker {name} (process {process.pid})", flush=True)
        self.processes[name] = process
        relay = threading.Thread(target=self._relay, args=(name, process), daemon=True)
        relay.start()
        self.relays[name] = relay

    def _relay(self, name, process) -> None:
        for line in process.stdout:
            if line.startswith(REFUSAL):
                self.refusals[name] = line.removeprefix(REFUSAL).strip()
            print(f"[{name}] {line}", end="", flush=True)

    def _watch(self) -> None:
        import _thread

        while not self._stop.wait(1.0):
            for name, process in list(self.processes.items()):
                code = process.poll()
                if code is None or code == 0 or self._stop.is_set():  # (stopping: ended by us)
                    continue
                if code == REFUSED:  # as a command refuses: started again, it would again
                    self.relays[name].join(timeout=5)  # its last line read
                    self.failure = f"worker {name}: {self.refusals.get(name, 'refused')}"
                    _thread.interrupt_main()
                    return
                if self.restarts[name] >= config.WORKER_RESTARTS:
                    self.failure = (
                        f"worker {name} keeps failing (exit code {code}); its output is above"
                    )
                    _thread.interrupt_main()
                    return
                self.restarts[name] += 1
                print(f"[{name}] exited with code {code}; starting it again", flush=True)
                self._start(name)

    def __enter__(self):
        print(f"starting {self.count} workers with {self.threads} thread(s) each", flush=True)
        for name in self.names():
            self._start(name)
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._watcher.join()  # it restarts and interrupts nothing from now on
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        for relay in self.relays.values():  # a worker's last lines, out before the chief ends
            relay.join(timeout=5)
        return False
