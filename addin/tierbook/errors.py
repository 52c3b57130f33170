"""tierbook's errors: one hierarchy for everything a user can fix.

TierbookError is what the command line and the Excel entry points catch and show as one
line (exit code 2 on the command line): the input cannot be used (InputError), a setting
is wrong (SettingsError), mail cannot be sent (mail.MailError), a file or folder cannot
be written where asked (files.SameFileError and the output-folder rule). Any other
exception is a bug: the user gets a short message naming it and the log's path, never a
traceback. Each error carries a code (what kind of problem it is) and the values it is
about, so a caller can tell problems apart without parsing the text.
"""

from __future__ import annotations


class TierbookError(Exception):
    """A problem the user can fix, worded for them. CODE: the kind of problem (a short
    identifier, e.g. "missing_column"); VALUES: what it is about."""

    code = "tierbook"

    def __init__(self, message: str, code: str | None = None, **values: object):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.values = values


class InputError(TierbookError, ValueError):
    """The input cannot be classified at all (a missing file, sheet or required column)."""

    code = "input"


class SettingsError(TierbookError, ValueError):
    """A setting is out of its range or unknown (a share over 1, a language we do not write)."""

    code = "settings"
