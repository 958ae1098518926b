"""SSL at config time: the device word (the schema checks the other keys), and that what
embeds with the experiment's SSL encoder has one.

Why in config: FEATS.type spkrec_ssl and PREDICT.speaker_embedding ssl read the encoder of the
experiment's last SSL stage (sauti.stages.ssl.encoder_stage); without SSL.enabled there is
none, which must stop `sauti check`, not the planning of the features or predict stage.
"""

from __future__ import annotations

from sauti.config.device import check_device
from sauti.config.schema import ConfigError
from sauti.core.errors import SautiError


def check_config(cfg: dict, source: str) -> None:
    """SSL.device at config time (torch-free), so a typo stops `sauti check`, not a job; and
    SSL.enabled where the SSL encoder is used."""
    section = cfg.get("SSL") or {}
    try:
        check_device(section.get("device", "cpu"), "SSL.device")
    except SautiError as err:
        raise ConfigError(f"{source}: [SSL] {err}") from err
    if uses_encoder(cfg) and not section.get("enabled"):
        raise ConfigError(
            "FEATS.type spkrec_ssl embeds with the experiment's self-supervised speaker encoder, "
            "but SSL.enabled is false",
            hint="add an SSL section with enabled: true (docs/ssl.md)",
        )


def uses_encoder(cfg: dict) -> bool:
    """Whether a stage embeds with the SSL encoder: FEATS.type spkrec_ssl, or PREDICT's
    speaker target with speaker_embedding ssl."""
    predict = cfg.get("PREDICT") or {}
    return "spkrec_ssl" in cfg["FEATS"]["type"] or (
        "speaker" in (predict.get("targets") or []) and predict.get("speaker_embedding") == "ssl"
    )
