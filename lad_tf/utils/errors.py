"""User-facing errors.

Every problem a user can fix (a bad flag, a missing data folder, a corrupt
file, a run directory that already exists) is raised as `LadError`. The CLI
prints its message on one line and exits with code 2, without a traceback.
The message names the problem and the fix.
"""

from __future__ import annotations

import functools
import sys
from typing import Callable


class LadError(Exception):
    """A problem with the user's input that they can fix; exit code 2."""

    exit_code = 2


def command(main: Callable[..., int]) -> Callable[..., int]:
    """Wraps a command's `main(argv=None) -> int`: a `LadError` ends it with
    its message on one `error:` line of stderr and its exit code, no traceback."""

    @functools.wraps(main)
    def wrapper(argv=None) -> int:
        try:
            return main(argv)
        except LadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code

    return wrapper
