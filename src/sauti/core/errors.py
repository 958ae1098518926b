"""One exception type for every user-facing problem.

Why: the brief asks that bad input (missing audio, unknown key, empty table, wrong label) ends
in ONE clear line naming the file or key with a hint, never a deep traceback. Code raises
`SautiError(message, hint=...)`; the CLI, the Snakefile and the rule shims print `str(err)` only.
"""

from __future__ import annotations


class SautiError(Exception):
    """A problem the user can fix; its text is the whole message shown to them."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} (hint: {hint})")
