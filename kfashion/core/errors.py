"""One way for every command to refuse bad input: a line on stderr and exit code 2."""

import contextlib
import errno
import functools
import gc
import os
import signal
import sys
import threading

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C
REFUSED = 2  # the exit code of a command that refuses, after its one line, which begins:
REFUSAL = "kfashion: error: "
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_ctrl_c = threading.Event()  # set by a Ctrl-C, even one whose KeyboardInterrupt got lost


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


def exit_on_user_error(main):
    """Wrap a command's `main`: a UserError becomes one stderr line and exit code 2, and
    Ctrl-C a line saying how to continue instead of a traceback. The process is left as it
    was (its Ctrl-C handler, hook and garbage collector), so a notebook can run one command
    after another."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        with _as_it_was():
            try:
                result = main(*args, **kwargs)
                if _ctrl_c.is_set():  # the interrupt was swallowed on the way, yet asked for
                    _interrupted()
                return result
            except UserError as error:
                _refuse(str(error))
            except KeyboardInterrupt:
                _interrupted()
            except Exception as error:
                if caused_by(error, lambda e: isinstance(e, KeyboardInterrupt)):
                    _interrupted()
                if full := disk_full(error):  # in a write of a library's (KerasTuner's state)
                    _refuse(full_disk_message(full))
                raise

    return wrapper


@contextlib.contextmanager
def _as_it_was():
    """Within the block (the outermost command's), Ctrl-C is remembered (`_on_ctrl_c`); after
    it, the handler, the hook and the memory are as they were before, and the objects frozen
    out of the garbage collector's scans for speed (`kfashion.core.quiet_keras`) are scanned
    again."""
    nested = signal.getsignal(signal.SIGINT) is _on_ctrl_c  # `study` calls other commands
    if nested or threading.current_thread() is not threading.main_thread():
        yield  # (signal handlers can be set from the main thread only)
        return
    frozen = gc.get_freeze_count()
    _ctrl_c.clear()
    handler = signal.signal(signal.SIGINT, _on_ctrl_c)
    hook, sys.unraisablehook = sys.unraisablehook, _quiet_about_ctrl_c
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        sys.unraisablehook = hook
        _ctrl_c.clear()
        if not frozen:  # (a caller that froze objects itself keeps them frozen)
            gc.unfreeze()


def _refuse(message: str):
    print(f"{REFUSAL}{message}", file=sys.stderr)
    sys.exit(REFUSED)


def _on_ctrl_c(signum, frame):
    """Python's own Ctrl-C, remembered: a KeyboardInterrupt raised inside a garbage-collector
    callback or a __del__ (JAX and TensorFlow register such) is printed and dropped, so the
    training loops also ask `stop_if_interrupted()` at every epoch's end."""
    _ctrl_c.set()
    raise KeyboardInterrupt


def _quiet_about_ctrl_c(unraisable):
    """Python prints a traceback for an exception it had to drop ("Exception ignored in");
    a dropped Ctrl-C is already remembered, so it is dropped without one."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed (and its first raise went astray)."""
    if _ctrl_c.is_set():
        raise KeyboardInterrupt


def _interrupted():
    print("kfashion: interrupted; run the same command again to continue", file=sys.stderr)
    sys.exit(INTERRUPTED)


def disk_full(error: BaseException) -> BaseException | None:
    """The full disk's error that `error` is, or was raised from (Keras wraps some), or None.
    TensorFlow's file writes, which KerasTuner's own use on that backend, raise no OSError but
    a ResourceExhaustedError in the system's words."""
    return caused_by(
        error,
        lambda e: (
            (isinstance(e, OSError) and e.errno in DISK_FULL)
            or any(os.strerror(code) in str(e) for code in DISK_FULL)
        ),
    )


def full_disk_message(error: BaseException) -> str:
    """The line for a full disk met in a library's write (`disk_full(error)`)."""
    return (
        f"a disk is full ({str(error).splitlines()[0]}); free some space and run the same "
        "command again: it continues from the finished files"
    )


def caused_by(error: BaseException, test) -> BaseException | None:
    """The first of `error` and the errors it was raised from or while handling that passes
    `test`: KerasTuner's bare `except:` around copying callbacks turns a KeyboardInterrupt
    into a FatalValueError, for one."""
    seen = set()
    while error is not None and id(error) not in seen:
        if test(error):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
