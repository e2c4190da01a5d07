"""The errors every command reports as one sentence and exit code 2, whatever raises them.

Loaders (consortium.yaml, day-sizes.yaml, reporting rules, report.json, deployment records) raise an
InputFileError naming the file and the line or field; a command that cannot work on the chain at
hand (nothing answers at the URL, the recorded deployment is not on that chain, a report anchored
elsewhere) raises a CommandError saying what differs and what to do. `consortium <command>` prints
either and exits 2, so people get a sentence instead of a traceback, and no transaction is sent.
"""


class CommandError(ValueError):
    """A command cannot do its work here; `str()` says why and what to do."""


class InputFileError(CommandError):
    """A file a command reads is missing or malformed; `str()` names the file and where."""
