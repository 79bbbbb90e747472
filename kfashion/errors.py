"""One way for every command to refuse bad input: a line on stderr and exit code 2."""

import functools
import sys


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


def exit_on_user_error(main):
    """Wrap a command's `main` so a UserError becomes one stderr line and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            print(f"kfashion: error: {error}", file=sys.stderr)
            sys.exit(2)

    return wrapper
