"""User-facing errors.

Every problem a user can fix (a bad flag, a missing data folder, a corrupt
file, a run directory that already exists) is raised as `LadError`. The CLI
prints its message on one line and exits with code 2, without a traceback.
The message names the problem and the fix.
"""


class LadError(Exception):
    """A problem with the user's input that they can fix; exit code 2."""

    exit_code = 2
