"""One way for every command to refuse bad input: a line on stderr and exit code 2."""

import functools
import sys

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


def exit_on_user_error(main):
    """Wrap a command's `main`: a UserError becomes one stderr line and exit code 2, and
    Ctrl-C a line saying how to continue instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
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
