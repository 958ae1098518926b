"""The features stage: one feature type extracted from one table (a database, segments, ...).

Keyed by the type, the FEATS keys that change what it extracts (FEATURE_OPTIONS), the type's own
code version (FEATURE_VERSIONS) and the library versions; options that change only where and how
fast it runs (FEATURE_RUN_OPTIONS: device, batch size) stay out of the key. Large tables are
extracted in shards (rule features_shard) and merged.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from sauti.core.digests import folder_digest
from sauti.core.errors import SautiError
from sauti.core.fileio import read_table, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.ml.data import ID
from sauti.ml.deep.device import check_device
from sauti.ml.features import extract
from sauti.ml.scaling import balanced_rows
from sauti.stages.base import StageSpec
from sauti.stages.ssl import encoder_stage

log = logging.getLogger("sauti")

FEATURES = Keyed(
    "features",
    1,
    "features.parquet",
    (
        "ml/features/",
        "config/sections/spectra.py",  # the spectra options' defaults and checks
        "core/audio.py",
        "ml/deep/speaker_embeddings.py",
    ),
)


#: FEATS keys that change what each feature type extracts.
FEATURE_OPTIONS = {
    "os": ("set", "level"),
    "praat": ("praat.definitions",),
    "mfcc": ("n_mfcc",),
    "import": ("import_file",),
    "spectra": ("fft_win_dur", "fft_hop_dur", "fft_nbands", "max_duration"),
    # pretrained embeddings (sauti.ml.features.embeddings): which model, which layer, how pooled
    **{
        k: (f"{k}.model", f"{k}.layer", f"{k}.pooling")
        for k in ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap")
    },
    "spkrec": ("spkrec.model",),
    "spkrec_ssl": (),  # the trained SSL encoder is an upstream stage, so its key is in the key
}
#: A feature type's own code version, in its options: bumping it re-keys that type's caches only
#: (FEATURES.version would re-key every type, e.g. hours of embeddings).
FEATURE_VERSIONS = {"praat": 4}  # 2: Nkululeko's 51; 3: its settings, 47; 4: its f0 std, formants
#: FEATS keys that change where and how fast a type is extracted, not its values: kept out of
#: the features key (a GPU run reuses CPU results) and given to the shard jobs by the registry.
FEATURE_RUN_OPTIONS = {
    k: (f"{k}.device", f"{k}.batch_size")
    for k in ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap", "spkrec")
}


def feature_options(kind: str, feats: dict) -> dict:
    """The FEATS keys that change what feature type `kind` extracts (paths made absolute)."""
    options = {k: feats[k] for k in FEATURE_OPTIONS[kind]}
    if kind in FEATURE_VERSIONS:
        options["version"] = FEATURE_VERSIONS[kind]
    if kind == "import" and options.get("import_file"):
        options["import_file"] = os.path.abspath(options["import_file"])
    model = options.get(f"{kind}.model")
    if model and os.path.isdir(os.path.expanduser(model)):  # a local model folder, not a hub name
        options[f"{kind}.model"] = os.path.abspath(os.path.expanduser(model))
    return options


def feature_stage(kind: str, cfg: dict, source: Stage) -> Stage:
    """The features stage of `kind` for the table of `source` (a database, segments, an
    augmented or a test table). spkrec_ssl also depends on the experiment's last SSL stage
    (Stage I or the last round): its encoder computes the features, so retraining it re-keys
    them."""
    upstream = (source,)
    if kind == "spkrec_ssl":
        upstream = (source, encoder_stage(cfg))
    options = feature_options(kind, cfg["FEATS"])
    model = options.get(f"{kind}.model")
    content = None
    if model and os.path.isdir(model):  # a local model folder: its files' digests are in the key
        content = {"model": folder_digest(cfg["EXP"]["root"], model)}
    return make_stage(FEATURES, {"type": kind, **options}, upstream, content)


def feature_run_options(kind: str, feats: dict) -> dict:
    """FEATURE_RUN_OPTIONS of `kind` from a resolved FEATS section, the device word normalised
    (sauti.config.sections.feats checked it)."""
    options = {k: feats.get(k) for k in FEATURE_RUN_OPTIONS.get(kind, ())}
    device = f"{kind}.device"
    if options.get(device) is not None:
        options[device] = check_device(options[device], f"FEATS.{device}")
    return options


def shard_rows(n_rows: int, shard: int, n_shards: int) -> slice:
    """Contiguous, near-equal chunks: shard i of n covers rows [i*n_rows//n, (i+1)*n_rows//n)."""
    return slice(shard * n_rows // n_shards, (shard + 1) * n_rows // n_shards)


def features_shard_stage(
    samples_path: str,
    params: dict,
    shard: int,
    n_shards: int,
    out_path: str,
    device: str | None = None,
    batch_size: int | None = None,
    workers: int = 1,
    encoders: str | None = None,
) -> None:
    """Extract one feature type for one shard of a database's samples. `device` and
    `batch_size` are the options outside the key of embedding types (sauti.workflow.plan
    FEATURE_RUN_OPTIONS); None or 0 leaves the type's default. `workers`: the job's threads
    (used by sauti.workflow.plan.THREADED_KINDS). `encoders`: the SSL encoder file of spkrec_ssl."""

    samples = read_table(samples_path)
    rows = (  # equal seconds of audio per shard where the table knows them (sauti.ml.scaling)
        balanced_rows(samples["duration"], shard, n_shards)
        if "duration" in samples.columns
        else shard_rows(len(samples), shard, n_shards)
    )
    part = samples.iloc[rows].reset_index(drop=True)
    options = {k: v for k, v in params.items() if k != "type"}
    kind = params["type"]
    if kind in FEATURE_RUN_OPTIONS:
        options.update({f"{kind}.device": device or None, f"{kind}.batch_size": batch_size or None})
    if encoders:
        options["encoders"] = encoders
    log.info("features %s, shard %d/%d: %d samples", params["type"], shard + 1, n_shards, len(part))
    if len(part):
        values = extract(params["type"], part[ID], options, workers=workers)
    else:
        values = pd.DataFrame()
    write_table(out_path, pd.concat([part[ID], values], axis=1))


def features_stage(
    samples_path: str,
    shard_paths: list[str],
    params: dict,
    out_path: str,
    device: str | None = None,
    batch_size: int | None = None,
    workers: int = 1,
    encoders: str | None = None,
) -> None:
    """A database's feature table: the merge of its shards, or with no shards (one-shard
    databases) the extraction itself, which saves a job start and a copy on the common path."""
    if shard_paths:
        features_merge_stage(shard_paths, samples_path, out_path)
    else:
        features_shard_stage(
            samples_path, params, 0, 1, out_path, device, batch_size, workers, encoders
        )


def features_merge_stage(shard_paths: list[str], samples_path: str, out_path: str) -> None:
    """Concatenate shards in sample order; the result equals a single-shard extraction."""
    merged = pd.concat([read_table(p) for p in shard_paths], ignore_index=True)
    samples = read_table(samples_path)[ID]
    if len(merged) != len(samples):
        raise SautiError(
            f"feature shards hold {len(merged)} rows but the database has {len(samples)}"
        )
    write_table(out_path, samples.merge(merged, on=ID, how="left", validate="one_to_one"))


def feature_matrix(data: pd.DataFrame, feature_paths: list[str], types: list[str]) -> pd.DataFrame:
    """Columns of all feature types joined to `data` rows by sample id; error if any is missing."""
    per_type: dict[str, list[pd.DataFrame]] = {}
    for path in feature_paths:
        table = read_table(path)
        kind = next((t for t in types if any(c.startswith(f"{t}_") for c in table.columns)), None)
        per_type.setdefault(kind, []).append(table)
    matrix = data[ID]
    for kind in types:
        if kind not in per_type:
            raise SautiError(f"no features of type {kind!r} were produced")
        block = pd.concat(per_type[kind], ignore_index=True).drop_duplicates(ID)
        matrix = matrix.merge(block, on=ID, how="left")
    values = matrix.drop(columns=ID)
    if values.isna().any(axis=1).any():
        bad = matrix.loc[values.isna().any(axis=1), "file"].iloc[0]
        raise SautiError(f"features are missing for some samples, e.g. {bad}")
    return values


SPEC = StageSpec("features", (FEATURES,))
