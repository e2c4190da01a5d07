"""The one error every command reports for a malformed input file, whatever reads it.

Loaders (consortium.yaml, day-sizes.yaml, reporting rules, report.json, deployment records) raise a
subclass naming the file and the line or field; `consortium <command>` prints it and exits 2, so
people get a sentence saying what to fix instead of a traceback.
"""


class InputFileError(ValueError):
    """A file a command reads is missing or malformed; `str()` names the file and where."""
