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
            print("kfashion: interrupted; run the same command again to continue", file=sys.stderr)
            sys.exit(INTERRUPTED)

    return wrapper
