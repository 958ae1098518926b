"""The finetune stage: a pretrained audio model (wav2vec2 ...) fine-tuned end to end on the audio.

Planned here (MODEL.type = finetune replaces the train stage; no feature tables are read), run by
rule finetune with the training code in sauti.ml.deep.finetune. Nothing here imports torch:
planning runs at every Snakemake start.
"""

from __future__ import annotations

import os

from sauti.core.digests import folder_digest
from sauti.core.keys import Keyed, make_stage
from sauti.ml.deep.finetune import FINETUNE_EXP, MODEL_KEYS, resolve_model_name
from sauti.stages.base import StageSpec
from sauti.stages.explore import EXPLORE_FEATURE_KEYS

FINETUNE = Keyed("finetune", 1, "predictions.parquet", ("ml/deep/finetune.py", "ml/deep/loop.py"))


def plan_finetune(cfg: dict, split, features: list) -> tuple:
    """(the keyed `finetune` stage, the feature stages the experiment still needs).

    Feature stages stay only when EXPL plots features; finetune itself never reads them. Parts
    of sauti that work on feature tables (AUGMENT, DATA.tests, OPTIM, cross-validation) are
    refused with one line when the config is resolved (sauti.config.sections.finetune), and
    MODEL.device is checked there too (sauti.config.sections.model).
    """
    model, exp = cfg["MODEL"], cfg["EXP"]
    params = {
        "MODEL": {k: model.get(k) for k in MODEL_KEYS if k in model},
        **{k: exp[k] for k in FINETUNE_EXP},
        "target": cfg["DATA"]["target"],
    }
    params["MODEL"]["pretrained_model"] = resolve_model_name(model.get("pretrained_model"))
    if model.get("push_to_hub"):
        params["name"] = exp["name"]  # the default hub repository name
    pretrained = params["MODEL"]["pretrained_model"]
    content = None
    if os.path.isdir(pretrained):  # a local model folder: its files' digests are in the key
        content = {"model": folder_digest(exp["root"], pretrained)}
    stage = make_stage(FINETUNE, params, (split,), content)
    # The token decides whether a push may go, not what is learned: it joins the rule's params
    # after the key is computed, so the cache folder does not follow it (Snakemake still re-runs
    # the job when it changes, as for any params change; HF_TOKEN avoids that).
    if model.get("push_to_hub"):
        stage.params["hf_token"] = model.get("hf_token")
    needs_features = any(cfg["EXPL"].get(k) for k in EXPLORE_FEATURE_KEYS)
    return stage, (features if needs_features else [])


class Rules:
    """What workflow/rules/finetune.smk asks the registry (REG.spec("finetune"))."""

    def __init__(self, registry):
        self.registry = registry

    def split(self, w) -> str:
        return self.registry.path_of(self.registry.data_upstream("finetune", w.key))


SPEC = StageSpec("finetune", (FINETUNE,), rules=Rules)
