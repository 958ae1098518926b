"""AUGMENT at config time: the augmentation types, their parameters and defaults.

Why in config: `resolve_augmentations` fills every parameter, so two configs that mean the same
augmentation give the same cache key, and a typo stops `sauti check` with a "did you mean";
the augment stage (sauti.stages.augment) builds its transforms from the resolved entries.
"""

from __future__ import annotations

import os

from sauti.config.schema import ConfigError
from sauti.core.suggest import did_you_mean

#: Noise colours (spectral slope) for the `noise` augmentation; audiomentations' names.
NOISE_COLORS = ("white", "pink", "brown", "blue", "violet")

#: Every augmentation type with its parameters and their defaults. `p` is the probability that
#: the augmentation is applied to a copy (all listed augmentations apply in order); REQUIRED
#: marks a parameter without a default. This table is the single source: the config check, the
#: builder and config/README.md (via the schema description) follow it.
REQUIRED = object()
AUGMENTATIONS: dict[str, dict] = {
    "noise": {"min_snr_db": 5.0, "max_snr_db": 20.0, "color": "white", "p": 1.0},
    "background_noise": {"noise_path": REQUIRED, "min_snr_db": 5.0, "max_snr_db": 20.0, "p": 1.0},
    "time_shift": {
        "min_shift": -0.1,
        "max_shift": 0.1,
        "unit": "fraction",
        "rollover": True,
        "p": 1.0,
    },
    "pitch_shift": {"min_semitones": -2.0, "max_semitones": 2.0, "p": 1.0},
    "tempo": {"min_rate": 0.9, "max_rate": 1.1, "p": 1.0},
    "speed": {"min_rate": 0.9, "max_rate": 1.1, "p": 1.0},
    "gain": {"min_gain_db": -6.0, "max_gain_db": 6.0, "p": 1.0},
    "crop": {"min_fraction": 0.7, "max_fraction": 0.95, "p": 1.0},
    "splice": {"min_segment": 0.1, "max_segment": 0.3, "p_reverse": 0.0, "p": 1.0},
}
_CHOICES = {"color": NOISE_COLORS, "unit": ("fraction", "seconds")}
_POSITIVE = {"min_rate", "max_rate", "min_fraction", "max_fraction", "min_segment", "max_segment"}
_AT_MOST_ONE = {"p", "p_reverse", "min_fraction", "max_fraction"}
_RANGES = [
    ("min_snr_db", "max_snr_db"),
    ("min_shift", "max_shift"),
    ("min_semitones", "max_semitones"),
    ("min_rate", "max_rate"),
    ("min_gain_db", "max_gain_db"),
    ("min_fraction", "max_fraction"),
    ("min_segment", "max_segment"),
]


def resolve_augmentations(items, source: str = "config") -> list[dict]:
    """Validate AUGMENT.augmentations and return it with every parameter filled in.

    Accepts a list of mappings `{type: noise, min_snr_db: 5, ...}` or bare type names
    (`noise`). The result always has the full mapping per entry, so two configs that mean the
    same augmentation give the same cache key. Raises ConfigError with one line such as
    `exp.yaml: [AUGMENT] augmentations[0]: unknown type 'pitchshift' (did you mean 'pitch_shift'?)`.
    """
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(
            f"{source}: [AUGMENT] augmentations: expected a list of mappings, got {items!r}"
        )
    resolved = []
    for i, item in enumerate(items):
        where = f"{source}: [AUGMENT] augmentations[{i}]"
        if isinstance(item, str):
            item = {"type": item}
        if not isinstance(item, dict) or "type" not in item:
            raise ConfigError(
                f"{where}: expected a mapping with a 'type' (one of {', '.join(AUGMENTATIONS)}), got {item!r}"
            )
        kind = item["type"]
        if kind not in AUGMENTATIONS:
            raise ConfigError(
                f"{where}: unknown type {kind!r}{did_you_mean(str(kind), AUGMENTATIONS)} "
                f"(types: {', '.join(AUGMENTATIONS)})"
            )
        spec = AUGMENTATIONS[kind]
        where = f"{where} ({kind})"
        for key in item:
            if key != "type" and key not in spec:
                raise ConfigError(
                    f"{where}: unknown parameter {key!r}{did_you_mean(str(key), spec)} "
                    f"(parameters: {', '.join(spec)})"
                )
        entry = {"type": kind}
        for key, default in spec.items():
            if key not in item:
                if default is REQUIRED:
                    raise ConfigError(f"{where}: missing required parameter {key!r}")
                entry[key] = default
                continue
            entry[key] = _check_value(where, key, item[key], default)
        for low, high in _RANGES:
            if low in entry and entry[low] > entry[high]:
                raise ConfigError(f"{where}: {low} {entry[low]} is above {high} {entry[high]}")
        resolved.append(entry)
    return resolved


def _check_value(where: str, key: str, value, default):
    if default is REQUIRED:  # noise_path: a folder or file of noise recordings
        path = os.path.abspath(str(value))
        if not os.path.exists(path):
            raise ConfigError(f"{where}: {key} {value!r} does not exist")
        return path
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be True or False, got {value!r}")
        return value
    if isinstance(default, str):
        if value not in _CHOICES[key]:
            raise ConfigError(
                f"{where}: {key} {value!r} is not one of {', '.join(_CHOICES[key])}"
                f"{did_you_mean(str(value), _CHOICES[key])}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
    value = float(value)
    if key in _POSITIVE and value <= 0:
        raise ConfigError(f"{where}: {key} must be above 0, got {value}")
    if key in _AT_MOST_ONE and not 0 <= value <= 1:
        raise ConfigError(f"{where}: {key} must be between 0 and 1, got {value}")
    return value


def check_config(cfg: dict, source: str) -> None:
    """AUGMENT.augmentations: known types and parameters (did-you-mean), every default filled."""
    section = cfg["AUGMENT"]
    section["augmentations"] = resolve_augmentations(section["augmentations"], source)
