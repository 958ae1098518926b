"""MODEL.type = finetune at config time: the parts of sauti that work on feature tables.

Why in config: a fine-tuned model reads the audio, not feature tables, so AUGMENT, DATA.tests,
OPTIM and cross-validation cannot apply to it; such a config must stop `sauti check`, not the
planning of the finetune stage (sauti.stages.finetune). MODEL.device is checked for every model
type by config.sections.model.
"""

from __future__ import annotations

from sauti.config.schema import ConfigError

#: Model keys of the cross-validation modes finetune does not support.
CROSS_VALIDATION = ("loso", "logo", "k_fold_cross")


def check_config(cfg: dict, source: str) -> None:
    """Refuse, with one line, what needs feature tables when MODEL.type is finetune."""
    model = cfg["MODEL"]
    if model["type"] != "finetune":
        return
    unsupported = [
        (bool(cfg.get("AUGMENT", {}).get("augmentations")), "AUGMENT.augmentations"),
        (bool(cfg["DATA"].get("tests")), "DATA.tests"),
        (bool(cfg.get("OPTIM", {}).get("params")), "OPTIM.params"),
        *((bool(model.get(k)), f"MODEL.{k}") for k in CROSS_VALIDATION),
    ]
    for used, key in unsupported:
        if used:
            raise ConfigError(
                f"{source}: {key} is not supported with MODEL.type finetune",
                hint="remove it, or use a feature-based model (e.g. FEATS.type wav2vec2 + mlp)",
            )
