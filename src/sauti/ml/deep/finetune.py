"""MODEL.type finetune: fine-tune a pretrained speech transformer (wav2vec2, WavLM, HuBERT...)
end to end on the experiment's audio, as the keyed stage `finetune`.

Why a stage of its own: the model reads audio, not feature tables, so its key depends on the
samples, the split and the MODEL/EXP keys that change what it learns -- never on FEATS. It
writes what the train stage writes (predictions.parquet, info.json, a model.joblib bundle), so
evaluate, report and `sauti demo` work downstream unchanged; the bundle is a pointer to the
best checkpoint (`checkpoint/`, save_pretrained of model + feature extractor) beside it.

Training goes through the one loop every torch model in sauti uses (sauti.ml.deep.loop.fit): the
transformers model is wrapped so that model(x) returns logits, and the inputs are
`ClipBatches`, which pad or cut each batch of raw clips to one fixed length on demand. A fixed
length (the longest clip, at most MODEL.max_duration) makes a clip's prediction independent of
the other clips in its batch, so a checkpoint reloaded later reproduces the experiment's own
predictions, and short-clip corpora do not pay for max_duration seconds of padding.

Nothing here imports torch or transformers at module level: `sauti.stages.finetune.plan_finetune` runs when Snakemake
builds its DAG, where importing torch would cost seconds per start.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.model_options import resolve_loss, resolve_measure
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path, read_table, write_json, write_table
from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import INSTALL_HINT, loop, require_torch
from sauti.ml.deep.device import resolve_device, seed_everything
from sauti.ml.deep.hub import from_pretrained, is_local

log = logging.getLogger("sauti.finetune")

DEFAULT_MODEL = "facebook/wav2vec2-base"
KEY = "MODEL.pretrained_model"
CHECKPOINT = "checkpoint"
SAMPLE_RATE = 16000
#: Clips are padded to at least this many samples: wav2vec2's convolutions need ~25 ms, and one
#: second keeps the pooled output of very short clips from resting on a handful of frames.
MIN_SAMPLES = SAMPLE_RATE
#: MODEL keys that change what finetune learns; the classic models' keys (C_val, ...) are left
#: out, so changing them does not fine-tune again. hf_token is never part of the key.
MODEL_KEYS = (
    "type",
    "pretrained_model",
    "max_duration",
    "freeze_feature_encoder",
    "learning_rate",
    "batch_size",
    "patience",
    "loss",
    "measure",
    "optimizer",
    "weight_decay",
    "device",
    "validation_share",
    "push_to_hub",
    "hub_repo",
)
FINETUNE_EXP = ("type", "runs", "epochs", "random_seed")
#: Epochs when EXP.epochs is null: fine-tuning a pretrained model needs few (early stopping
#: with MODEL.patience may end it sooner).
DEFAULT_EPOCHS = 10


def resolve_model_name(name) -> str:
    """MODEL.pretrained_model: null -> the default hub model; a local folder -> absolute path
    (jobs run in the workflow's working directory, and the key must not depend on the cwd)."""
    if not name:
        return DEFAULT_MODEL
    return os.path.abspath(os.path.expanduser(name)) if is_local(name) else str(name)


# --------------------------------------------------------------------------- hub


def hub_token(params: dict) -> str:
    """The token for MODEL.push_to_hub: MODEL.hf_token, else HF_TOKEN / `huggingface-cli login`."""
    token = params.get("hf_token")
    if not token:
        try:
            from huggingface_hub import get_token

            token = get_token()
        except ImportError:  # transformers depends on huggingface_hub; be safe anyway
            token = None
    if not token:
        raise SautiError(
            "MODEL.push_to_hub = True but no Hugging Face token was found",
            hint="set the HF_TOKEN environment variable, run `huggingface-cli login`, or set "
            "MODEL.hf_token (or set push_to_hub to False)",
        )
    return token


def push_checkpoint(folder: Path, repo: str, token: str) -> str:
    """Upload the saved checkpoint folder to the hub repository `repo`; return its URL."""
    try:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        repo_id = api.create_repo(repo, exist_ok=True).repo_id
        api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, commit_message="sauti finetune checkpoint"
        )
    except Exception as exc:  # offline, bad token, no write access: all end the same way
        raise SautiError(
            f"MODEL.push_to_hub: could not push to the hub repository {repo!r} "
            f"({_first_line(exc)})",
            hint=f"check the network and the token's write access; the checkpoint is saved in {folder}",
        ) from exc
    return f"https://huggingface.co/{repo_id}"


# --------------------------------------------------------------------------- audio inputs


def read_clips(table: pd.DataFrame, max_samples: int, progress: bool = True) -> list[np.ndarray]:
    """16 kHz mono clips for the rows (file, start, end), each cut to `max_samples`."""
    clips = []
    rows = table[["file", "start", "end"]].itertuples(index=False)
    for file, start, end in progress_bar(
        rows, total=len(table), desc="audio", unit="clip", disable=not progress
    ):
        clips.append(audio.read(file, start, end)[:max_samples])
    return clips


def input_length(clips: list[np.ndarray], max_duration: float) -> int:
    """The fixed input length in samples: the longest clip, at most max_duration seconds."""
    limit = int(round(float(max_duration) * SAMPLE_RATE))
    longest = max((len(c) for c in clips), default=0)
    return min(limit, max(longest, MIN_SAMPLES))


class ClipBatches:
    """Raw clips that become model inputs one batch at a time (loop.fit indexes them).

    `clips[idx]` runs the feature extractor on those clips, padded or cut to `n_samples`, and
    gives `input_values` (+ `attention_mask` when the extractor makes one: models such as
    wav2vec2-base were trained without it and expect plain zero padding). Memory holds the
    raw clips only, never a padded copy of the whole corpus.
    """

    def __init__(self, clips: list[np.ndarray], extractor, n_samples: int):
        self.clips, self.extractor, self.n_samples = clips, extractor, int(n_samples)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, idx) -> dict:
        batch = self.extractor(
            [self.clips[int(i)] for i in idx],
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=self.n_samples,
            truncation=True,
            return_tensors="pt",
        )
        return {k: batch[k] for k in ("input_values", "attention_mask") if k in batch}


def _logits_model(model, regression: bool):
    """Wrap a transformers audio classifier so that model(x) returns logits ([n, k] or [n])."""
    torch = require_torch("MODEL.type finetune")

    class Logits(torch.nn.Module):
        def __init__(self, hf):
            super().__init__()
            self.hf = hf

        def forward(self, inputs):
            logits = self.hf(**inputs).logits
            return logits[:, 0] if regression else logits

    return Logits(model)


# --------------------------------------------------------------------------- the stage


def load_pretrained(params: dict, labels: list | None):
    """(model, feature extractor) for MODEL.pretrained_model with a new head for the labels."""
    require_torch("MODEL.type finetune")
    try:
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
    except ImportError as exc:
        raise SautiError("MODEL.type finetune needs transformers", hint=INSTALL_HINT) from exc
    name = params["MODEL"]["pretrained_model"] or DEFAULT_MODEL
    extractor = from_pretrained(AutoFeatureExtractor, name, KEY)
    if labels:
        head = {
            "num_labels": len(labels),
            "label2id": {str(label): i for i, label in enumerate(labels)},
            "id2label": {i: str(label) for i, label in enumerate(labels)},
        }
    else:
        head = {"num_labels": 1, "problem_type": "regression"}
    # ignore_mismatched_sizes: a model already fine-tuned for other labels gets a new head
    model = from_pretrained(
        AutoModelForAudioClassification, name, KEY, ignore_mismatched_sizes=True, **head
    )
    if params["MODEL"].get("freeze_feature_encoder", True):
        if hasattr(model, "freeze_feature_encoder"):
            model.freeze_feature_encoder()
        else:
            log.warning("%s has no feature encoder to freeze; training all of it", name)
    return model, extractor


def finetune_stage(split_path: str, params: dict, out_dir: str, progress: bool = True) -> dict:
    """Fine-tune for each run (seeds random_seed + r); write predictions.parquet, info.json,
    model.joblib (a pointer bundle), checkpoint/ (run 0's best epoch), curves.csv/png and
    TensorBoard logs under tensorboard/run<r>/. Returns the info dict."""
    data = read_table(split_path)
    data = data[data["split"].isin(["train", "dev", "test"])].reset_index(drop=True)
    model_cfg = params["MODEL"]
    token = hub_token(params) if model_cfg.get("push_to_hub") else None  # fail before training
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target, task = params["target"], params["type"]
    classification = task == "classification"
    is_train = (data["split"] == "train").to_numpy()
    if not is_train.any():
        raise SautiError("finetune: the split has no training samples", hint="check DATA")
    if classification:
        truth = data[target].astype(str).to_numpy()
        labels = sorted(set(truth[is_train]))
        # a dev/test label never seen in training is left out of the loss (cross_entropy -100)
        y = np.array([labels.index(t) if t in labels else -100 for t in truth])
        mean, std = 0.0, 1.0
    else:
        truth = data[target].astype(float).to_numpy()
        labels = None
        # z-scored targets: a new head starts near 0, and CCC is unchanged by the scaling
        mean, std = float(truth[is_train].mean()), float(truth[is_train].std() or 1.0)
        y = (truth - mean) / std
    max_samples = int(round(float(model_cfg["max_duration"]) * SAMPLE_RATE))
    clips = read_clips(data, max_samples, progress)
    n_samples = input_length(clips, model_cfg["max_duration"])
    log.info(
        "finetune %s: %s samples, input %.2f s",
        model_cfg["pretrained_model"],
        data["split"].value_counts().to_dict(),
        n_samples / SAMPLE_RATE,
    )
    rows, histories, best = [], [], None
    for run in range(int(params["runs"])):
        seed = int(params["random_seed"]) + run
        model, extractor, history, outputs = _fit_run(
            data, clips, y, labels, n_samples, params, seed, out / "tensorboard" / f"run{run}",
            progress,
        )  # fmt: skip
        history.insert(0, "run", run)
        histories.append(history)
        for split, output in outputs.items():
            mask = (data["split"] == split).to_numpy()
            pred, proba = _decode(output, labels, mean, std)
            rows.append(_table(data[mask], truth[mask], pred, proba, labels, run, split))
        if run == 0:
            best = int(history.loc[history["best"], "epoch"].iloc[0])
            sauti_meta = {
                "target": target, "type": task, "labels": labels, "input_samples": n_samples,
                "target_mean": mean, "target_std": std, "seed": seed,
            }  # fmt: skip
            model.config.sauti = sauti_meta  # the checkpoint describes itself (config.json)
            save_checkpoint(model, extractor, out / CHECKPOINT)
        log.info("run %d/%d (seed %d) done", run + 1, params["runs"], seed)

    curves = pd.concat(histories, ignore_index=True)
    write_table(out / "curves.csv", curves)
    loop.plot_curves(
        histories[0], str(out / "curves.png"), f"finetune {model_cfg['pretrained_model']}"
    )
    bundle = {
        "scaler": None, "model": None, "labels": labels, "feature_columns": [],
        "feature_types": [], "feature_options": {}, "target": target, "type": task,
        "seed": int(params["random_seed"]),
        "finetune": {"checkpoint": CHECKPOINT, "pretrained_model": model_cfg["pretrained_model"],
                     "input_samples": n_samples, "target_mean": mean, "target_std": std},
    }  # fmt: skip
    write_bundle(out / "model.joblib", bundle)
    info = {
        "labels": labels,
        "target": target,
        "type": task,
        "n_features": 0,
        "n": data["split"].value_counts().to_dict(),
        "cv": None,
        "finetune": {
            "pretrained_model": model_cfg["pretrained_model"],
            "best_epoch": best,
            "epochs_run": int(len(histories[0])),
            "input_seconds": n_samples / SAMPLE_RATE,
        },
    }
    if model_cfg.get("push_to_hub"):
        repo = model_cfg.get("hub_repo") or f"sauti-{params.get('name', 'finetune')}"
        info["finetune"]["hub_url"] = push_checkpoint(out / CHECKPOINT, repo, token)
        log.info("pushed the checkpoint to %s", info["finetune"]["hub_url"])
    write_table(out / "predictions.parquet", pd.concat(rows, ignore_index=True))
    write_json(out / "info.json", info)
    return info


def _fit_run(data, clips, y, labels, n_samples, params, seed, log_dir, progress):
    """One seeded fine-tuning run: (HF model with the best epoch's weights, extractor, history,
    {split: raw outputs} for dev and test)."""
    torch = require_torch("MODEL.type finetune")
    model_cfg = params["MODEL"]
    classification = labels is not None
    seed_everything(seed)  # the new head's initial weights follow the seed too
    hf_model, extractor = load_pretrained(params, labels)
    wrapped = _logits_model(hf_model, regression=not classification)
    dtype = torch.long if classification else torch.float32

    roles = _roles(data, y, model_cfg, seed, classification)

    def part(role):
        mask = roles == role
        chosen = [c for c, m in zip(clips, mask, strict=True) if m]
        return ClipBatches(chosen, extractor, n_samples), torch.as_tensor(y[mask], dtype=dtype)

    train = part("train")
    dev = (
        part("dev") if (roles == "dev").any() else part("held") if (roles == "held").any() else None
    )
    weights = loop.balanced_class_weights(train[1].numpy(), len(labels)) if classification else None
    default_loss = "weighted_cross" if classification else "ccc"
    settings = loop.FitSettings(
        epochs=int(params["epochs"] or DEFAULT_EPOCHS),
        patience=model_cfg.get("patience"),
        batch_size=int(model_cfg["batch_size"]),
        learning_rate=float(model_cfg["learning_rate"]),
        optimizer=model_cfg.get("optimizer") or "adamw",
        weight_decay=float(model_cfg.get("weight_decay") or 0.0),
        device=model_cfg.get("device") or "cpu",
        seed=seed,
        measure=resolve_measure(model_cfg.get("measure"), params["type"]),
        task=params["type"],
        progress=progress,
        desc=f"finetune (seed {seed})",
    )
    writer = _tensorboard(log_dir)
    try:
        wrapped, history = loop.fit(
            wrapped,
            loop.make_loss(
                resolve_loss(model_cfg.get("loss") or default_loss, params["type"]),
                params["type"],
                weights,
            ),
            train=train,
            dev=dev,
            settings=settings,
            on_epoch=lambda row: _log_epoch(writer, row),
        )
    finally:
        writer.close()

    device = resolve_device(settings.device)
    outputs = {}
    for split in ("dev", "test"):
        if (data["split"] == split).any():
            outputs[split] = loop.predict(wrapped, part(split)[0], settings.batch_size, device)
    return wrapped.cpu().hf, extractor, history, outputs


def _roles(data: pd.DataFrame, y, model_cfg: dict, seed: int, classification: bool):
    """Each row's role: its split, or "held" for train rows kept out of training to choose the
    best epoch when there is no dev split (MODEL.validation_share of the train speakers, whole
    speakers, as for the mlp), so that the kept epoch is never chosen on the data it saw."""
    roles = data["split"].to_numpy().astype(object)
    if (roles == "dev").any():
        return roles
    from sauti.ml.deep.mlp import validation_rows  # heavy: scikit-learn

    share = model_cfg.get("validation_share")
    train = np.flatnonzero(roles == "train")
    speakers = data["speaker"].astype(str).to_numpy() if "speaker" in data else None
    if speakers is None:
        return roles
    held = validation_rows(
        y[train], speakers[train], 0.2 if share is None else float(share), seed, classification
    )
    if held is not None:
        roles[train[held]] = "held"
    return roles


def _tensorboard(log_dir: Path):
    """A SummaryWriter into the stage's folder (old events of a re-run are removed first)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise SautiError("finetune logs need tensorboard", hint=INSTALL_HINT) from exc
    shutil.rmtree(log_dir, ignore_errors=True)
    return SummaryWriter(log_dir=str(log_dir))


def _log_epoch(writer, row: dict) -> None:
    epoch = int(row["epoch"])
    for name, value in row.items():
        if name != "epoch":
            tag = name.replace("_", "/", 1) if name.startswith(("train_", "dev_")) else name
            writer.add_scalar(tag, float(value), epoch)
    writer.flush()


def _decode(outputs: np.ndarray, labels, mean: float, std: float):
    """Raw network outputs -> (predictions, class probabilities or None)."""
    if labels is None:
        return outputs.reshape(-1) * std + mean, None
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    proba = np.exp(shifted)
    proba /= proba.sum(axis=1, keepdims=True)
    return np.asarray(labels)[proba.argmax(axis=1)], proba


def _table(rows, truth, pred, proba, labels, run, split) -> pd.DataFrame:
    from sauti.ml.training import run_predictions  # heavy: scikit-learn

    return run_predictions(rows, truth, pred, proba, labels, run, split)


def save_checkpoint(model, extractor, folder: Path) -> None:
    """save_pretrained of model and feature extractor into `folder`, atomically (a temporary
    sibling renamed into place), so a killed job never leaves half a checkpoint."""
    folder = Path(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        model.save_pretrained(str(tmp))
        extractor.save_pretrained(str(tmp))
        os.chmod(tmp, 0o755)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bundle(path: Path, bundle: dict) -> None:
    import joblib

    with atomic_path(path) as tmp:
        joblib.dump(bundle, tmp)


# --------------------------------------------------------------------------- inference


def load_checkpoint(folder: str | Path):
    """(model, feature extractor) of a saved finetune checkpoint, ready to predict."""
    require_torch("a fine-tuned model")
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    folder = str(folder)
    model = from_pretrained(AutoModelForAudioClassification, folder, "finetune checkpoint")
    extractor = from_pretrained(AutoFeatureExtractor, folder, "finetune checkpoint")
    return model.eval(), extractor


def predict_samples(bundle: dict, samples: pd.DataFrame, progress: bool = False, device="auto"):
    """(predictions, probabilities or None) of a finetune bundle for samples (file, start, end):
    the clips are cut and padded exactly as in training, so the result equals the experiment's."""
    spec = bundle["finetune"]
    folder = Path(spec["checkpoint"])
    if not folder.is_dir():
        raise SautiError(
            f"the fine-tuned checkpoint {folder} is missing",
            hint="re-run the experiment, or re-export the bundle with sauti export",
        )
    model, extractor = load_checkpoint(folder)
    n_samples = int(spec["input_samples"])
    clips = read_clips(samples, n_samples, progress)
    wrapped = _logits_model(model, regression=bundle["labels"] is None)
    outputs = loop.predict(
        wrapped, ClipBatches(clips, extractor, n_samples), 8, resolve_device(device)
    )
    return _decode(outputs, bundle["labels"], spec["target_mean"], spec["target_std"])


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
