"""One way for every command to refuse bad input: a line on stderr and exit code 2."""

import functools
import signal
import sys
import threading

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C
_ctrl_c = threading.Event()  # set by a Ctrl-C, even one whose KeyboardInterrupt got lost


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


def exit_on_user_error(main):
    """Wrap a command's `main`: a UserError becomes one stderr line and exit code 2, and
    Ctrl-C a line saying how to continue instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_ctrl_c)
            sys.unraisablehook = _quiet_about_ctrl_c
        try:
            result = main(*args, **kwargs)
            if _ctrl_c.is_set():  # the interrupt was swallowed on the way, yet asked for
                _interrupted()
            return result
        except UserError as error:
            print(f"kfashion: error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            _interrupted()
        except Exception as error:
            if _raised_while_interrupted(error):
                _interrupted()
            raise

    return wrapper


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


def _raised_while_interrupted(error: BaseException) -> bool:
    """Whether `error` was raised while handling a Ctrl-C: KerasTuner's bare `except:` around
    copying callbacks turns a KeyboardInterrupt into a FatalValueError."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
