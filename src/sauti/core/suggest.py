"""The "did you mean" of every error about an unknown name (config key, section, type, value).

Why one helper: a typo gets the same kind of suggestion wherever it is made (a config key, an
augmentation type, a model name), and the rule for "close" lives in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, options: Iterable) -> str | None:
    """The option nearest to `word` (difflib ratio at least 0.6), else the option that differs
    from it only in case (`SVM` -> `svm`, too short for difflib), else None."""
    options = [str(o) for o in options]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if match:
        return match[0]
    lowered = {o.lower(): o for o in options}
    return lowered.get(word.lower())


def did_you_mean(word: str, options: Iterable) -> str:
    """` (did you mean 'x'?)` for the closest option, or "" when none is close."""
    match = closest(word, options)
    return f" (did you mean '{match}'?)" if match else ""
