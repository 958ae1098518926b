"""PREDICT: estimate labels the data lacks, as `est_<target>` columns of the data table.

Why a stage of its own after the split (or the segments): what it adds is information *about*
the data (who speaks, how noisy, how good), which the explore stage's bias check tests against
the target like any given column (e.g. "est_snr differs between the classes": the recordings
of one class are noisier). Training never reads it, so changing PREDICT never retrains.

Targets:
- `speaker`: resemblyzer d-vectors (sauti.ml.deep.speaker_embeddings) clustered with average-link
  agglomerative clustering on cosine distance; the count is PREDICT.n_speakers, else the count
  in 2..max_speakers with the best silhouette score. Labels are S01, S02, ... by cluster size.
- `snr`: silero VAD speech probabilities per 32 ms chunk split the clip into speech and
  non-speech; SNR (dB) = 10 log10((P_speech - P_noise) / P_noise) with the mean powers of the
  two parts. A clip without non-speech chunks uses its quietest 10 % of chunks as the noise.
- `mos`: DNSMOS P.835 overall quality (1-5) from speechmos, which ships the ONNX models.
- the target of a sauti model bundle given as PREDICT.model (e.g. gender), predicted with the
  exact training-time pipeline of sauti.ml.bundle.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.fileio import (
    atomic_path,
    publish_images,
    read_json,
    read_table,
    write_json,
    write_table,
)
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.core.progress import bar as progress_bar
from sauti.ml.bundle import load_bundle, predict
from sauti.ml.deep.device import resolve_device
from sauti.ml.deep.speaker_embeddings import embed_resemblyzer
from sauti.ml.deep.ssl.encoder import embed, load_encoders
from sauti.ml.vad import CHUNK, speech_probabilities
from sauti.stages.base import StageSpec
from sauti.stages.ssl import encoder_input, encoder_stage

log = logging.getLogger("sauti")

PREDICT = Keyed("predict", 1, "predicted.parquet", ("stages/predict.py",))


#: SNR estimates are clipped to this range (dB): digital silence would otherwise give infinity.
SNR_RANGE = (-20.0, 80.0)


# --------------------------------------------------------------------------- plan


def plan_predict(cfg: dict, data: Stage) -> Stage | None:
    """The predict stage (PREDICT slice + the data table's key), or None without targets (the
    targets and the device are checked when the config is resolved: sauti.config.sections.predict)."""
    section = cfg["PREDICT"]
    targets = list(section["targets"])
    if not targets:
        return None
    params = {**section, "targets": targets, "random_seed": cfg["EXP"]["random_seed"]}
    if section["model"]:
        params["model"] = os.path.abspath(section["model"])
    upstream = (data,)
    if "speaker" in targets and section["speaker_embedding"] == "ssl":
        upstream = (data, encoder_stage(cfg))  # its encoders.pt embeds the clips
    return make_stage(PREDICT, params, upstream)


# --------------------------------------------------------------------------- estimators


def estimate_speakers(
    signals: list[np.ndarray],
    n_speakers: int | None,
    max_speakers: int,
    device: str = "cpu",
    encoders: str | None = None,
) -> tuple[np.ndarray, dict]:
    """Speaker labels (S01.. by cluster size) for each signal, and how the count was chosen.
    Embeddings: resemblyzer, or with `encoders` (PREDICT.speaker_embedding ssl) the
    experiment's own SSL encoder file."""
    if len(signals) < 2:
        raise SautiError("PREDICT speaker: clustering needs at least 2 samples")
    torch_device = str(resolve_device(device, "PREDICT.device"))
    if encoders:
        embeddings = embed(load_encoders(encoders)[0], signals, torch_device)
    else:
        embeddings = embed_resemblyzer(signals, torch_device)
    labels, info = cluster_speakers(embeddings, n_speakers, max_speakers)
    return labels, {**info, "embedding": "ssl" if encoders else "resemblyzer"}


def cluster_speakers(
    embeddings: np.ndarray, n_speakers: int | None, max_speakers: int
) -> tuple[np.ndarray, dict]:
    """Average-link agglomerative clusters on cosine distance; the count given, or the one in
    2..max_speakers with the best silhouette."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    def cluster(k: int) -> np.ndarray:
        model = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average")
        return model.fit_predict(embeddings)

    info: dict = {}
    if n_speakers:
        labels = cluster(min(int(n_speakers), len(embeddings)))
        info["chosen_by"] = "PREDICT.n_speakers"
    else:
        scores = {}
        for k in range(2, min(int(max_speakers), len(embeddings) - 1) + 1):
            scores[k] = float(silhouette_score(embeddings, cluster(k), metric="cosine"))
        if not scores:
            raise SautiError("PREDICT speaker: too few samples to estimate the speaker count")
        best = max(scores, key=scores.get)
        labels = cluster(best)
        info.update(
            chosen_by="silhouette", silhouette={str(k): round(v, 4) for k, v in scores.items()}
        )
    order = pd.Series(labels).value_counts().index  # biggest cluster first
    names = {c: f"S{i + 1:02d}" for i, c in enumerate(order)}
    info["n_speakers"] = len(order)
    return np.array([names[c] for c in labels]), info


def estimate_snr(signal: np.ndarray) -> float:
    """SNR in dB from VAD speech vs non-speech chunk powers (see the module docstring)."""
    probs = speech_probabilities(signal)
    n = len(probs)
    padded = np.zeros(n * CHUNK, dtype=np.float64)
    padded[: len(signal)] = signal
    power = (padded.reshape(n, CHUNK) ** 2).mean(axis=1)
    if len(signal) < n * CHUNK:  # the last chunk is partly padding: use its real samples
        tail = signal[(n - 1) * CHUNK :].astype(np.float64)
        power[-1] = (tail**2).mean() if tail.size else 0.0
    speech = probs >= 0.5
    noise = probs < 0.35
    if speech.sum() == 0:
        return float(SNR_RANGE[0])
    if noise.sum() < 3:
        noise = power <= np.quantile(power, 0.1)
    p_noise = max(float(power[noise].mean()), 1e-12)
    p_speech = float(power[speech].mean())
    snr = 10 * np.log10(max(p_speech - p_noise, 1e-12) / p_noise)
    return float(np.clip(snr, *SNR_RANGE))


def estimate_mos(signal: np.ndarray) -> float:
    """DNSMOS overall quality (1-5) of a 16 kHz signal (speechmos; ONNX, offline)."""
    clipped = np.clip(np.asarray(signal, dtype=np.float32), -1.0, 1.0)
    if not clipped.any():
        return float("nan")
    return float(_dnsmos()(clipped, audio.SAMPLE_RATE, False)["ovrl_mos"])


@lru_cache(maxsize=1)
def _dnsmos():
    """speechmos' DNSMOS scorer with single-threaded onnxruntime sessions.

    Why not `speechmos.dnsmos.run`: it opens its sessions with onnxruntime's default of one
    thread per core, which on a shared machine (several jobs, -j N) oversubscribes the cores
    and was 20-50x slower here; one thread per job is what a Snakemake job is given.
    """
    try:
        import onnxruntime
        from speechmos import dnsmos
    except ImportError as exc:
        raise SautiError(
            "PREDICT mos needs the speechmos package, which is not installed",
            hint="pip install speechmos (a base dependency of sauti: reinstall with pip install -e .)",
        ) from exc
    folder = Path(dnsmos.__file__).parent / "dnsmos_models"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1

    def session(name: str):
        return onnxruntime.InferenceSession(
            str(folder / name), options, providers=["CPUExecutionProvider"]
        )

    scorer = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)  # its __init__ opens default sessions
    scorer.primary_model_path = str(folder / "sig_bak_ovr.onnx")
    scorer.onnx_sess, scorer.p808_onnx_sess = session("sig_bak_ovr.onnx"), session("model_v8.onnx")
    return scorer


def estimate_with_model(path: str, rows: pd.DataFrame) -> tuple[str, np.ndarray]:
    """(the bundle's target, its prediction for each row) with the training-time pipeline."""
    bundle = load_bundle(path)
    speakers = rows[["speaker"]] if "speaker" in rows else pd.DataFrame(index=rows.index)
    samples = pd.concat([rows[["file", "start", "end"]], speakers], axis=1)
    return str(bundle["target"]), predict(bundle, samples)["prediction"].to_numpy()


# --------------------------------------------------------------------------- the stage


def predict_table(
    data: pd.DataFrame, params: dict, encoders: str | None = None
) -> tuple[pd.DataFrame, dict]:
    """`data` with est_<target> columns (empty outside PREDICT.sample_selection), and facts."""
    selection = params["sample_selection"]
    chosen = (data["split"] == selection) if selection != "all" else pd.Series(True, data.index)
    rows = data[chosen]
    if rows.empty:
        raise SautiError(f"PREDICT.sample_selection: the {selection} split has no samples")
    targets = list(params["targets"])
    table = data.copy()
    facts: dict = {"samples": int(len(rows)), "selection": selection}
    signals = [
        audio.read(r.file, r.start, r.end)
        for r in progress_bar(rows.itertuples(), total=len(rows), desc="read audio", mininterval=2)
    ]
    for target in targets:
        if target == "speaker":
            values, info = estimate_speakers(
                signals, params["n_speakers"], params["max_speakers"], params["device"], encoders
            )
            if "speaker" in rows:
                info.update(agreement(rows["speaker"].astype(str).to_numpy(), values))
        elif target == "snr":
            values = np.array([estimate_snr(s) for s in progress_bar(signals, desc="snr")])
            info = _numeric_facts(values)
        elif target == "mos":
            values = np.array([estimate_mos(s) for s in progress_bar(signals, desc="mos")])
            info = _numeric_facts(values)
        else:
            model_target, values = estimate_with_model(params["model"], rows)
            if model_target != target:
                raise SautiError(
                    f"PREDICT.model {params['model']} predicts {model_target!r}, not {target!r}",
                    hint=f"list {model_target!r} in PREDICT.targets or give a model trained for {target!r}",
                )
            info = {"counts": pd.Series(values).astype(str).value_counts().to_dict()}
            if target in rows:
                info["accuracy_vs_given"] = float(
                    np.mean(rows[target].astype(str) == values.astype(str))
                )
        column = f"est_{target}"
        table[column] = pd.Series(values, index=rows.index)
        facts[target] = info
        log.info("predicted %s for %d samples: %s", column, len(rows), _short(info))
    return table, facts


def agreement(truth: np.ndarray, found: np.ndarray) -> dict:
    """How well found speaker clusters match the given speakers: purity, NMI, ARI."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.metrics.cluster import contingency_matrix

    table = contingency_matrix(truth, found)
    return {
        "true_speakers": int(len(set(truth))),
        "purity": round(float(table.max(axis=0).sum() / table.sum()), 4),
        "nmi": round(float(normalized_mutual_info_score(truth, found)), 4),
        "ari": round(float(adjusted_rand_score(truth, found)), 4),
    }


def _numeric_facts(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {"mean": None, "median": None}
    return {"mean": round(float(finite.mean()), 3), "median": round(float(np.median(finite)), 3)}


def _short(info: dict) -> dict:
    return {k: v for k, v in info.items() if k != "silhouette"}


def predict_stage(
    data_path: str, params: dict, out_dir: str | Path, encoders: str | None = None
) -> None:
    """The `predict` rule: data table in; predicted table, plots and manifest out.
    `encoders`: the SSL encoder file with PREDICT.speaker_embedding ssl."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table, facts = predict_table(read_table(data_path), params, encoders)
    images = []
    for target in params["targets"]:
        path = out / f"est_{target}.png"
        _plot(table[f"est_{target}"].dropna(), target, path)
        images.append({"file": path.name, "caption": _caption(target, facts[target])})
    write_json(out / "predict.json", {"targets": params["targets"], **facts, "images": images})
    write_table(out / "predicted.parquet", table)  # last: the rule's main output


def _caption(target: str, info: dict) -> str:
    if target == "speaker":
        text = f"Samples per estimated speaker ({info['n_speakers']} found, by {info['chosen_by']})"
        if "nmi" in info:
            text += f"; against the given speakers: purity {info['purity']:.2f}, NMI {info['nmi']:.2f}, ARI {info['ari']:.2f}"
        return text + "."
    if target in ("snr", "mos"):
        unit = " dB" if target == "snr" else ""
        return f"Distribution of estimated {target} (median {info['median']}{unit})."
    return f"Samples per predicted {target} (PREDICT.model)."


def _plot(values: pd.Series, target: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    numeric = pd.api.types.is_numeric_dtype(values) and target in ("snr", "mos")
    if numeric:
        ax.hist(values.astype(float), bins=30, color="#4c72b0")
        ax.set_xlabel(f"est_{target}" + (" (dB)" if target == "snr" else ""))
        ax.set_ylabel("samples")
    else:
        counts = values.astype(str).value_counts().sort_index()
        ax.bar(counts.index, counts.to_numpy(), color="#4c72b0")
        ax.set_ylabel("samples")
        ax.tick_params(axis="x", rotation=90 if len(counts) > 8 else 0)
    ax.set_title(f"est_{target}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- report / rules


def publish(manifest_path: str, table_path: str, exp_dir: Path) -> dict:
    """Write `predicted.csv` and the plots next to the report; return the report section."""
    manifest = read_json(manifest_path)
    write_table(exp_dir / "predicted.csv", read_table(table_path))
    images = publish_images(
        manifest["images"], Path(manifest_path).parent, exp_dir / "images" / "predict"
    )
    rows = []
    for target in manifest["targets"]:
        info = manifest[target]
        if target == "speaker":
            detail = f"{info['n_speakers']} speakers ({info['chosen_by']})"
            if "nmi" in info:
                detail += (
                    f"; vs given: purity {info['purity']}, NMI {info['nmi']}, ARI {info['ari']}"
                )
        elif target in ("snr", "mos"):
            detail = f"mean {info['mean']}, median {info['median']}"
        else:
            detail = ", ".join(f"{k}: {v}" for k, v in info["counts"].items())
        rows.append([f"est_{target}", detail])
    return {
        "id": "predict",
        "title": "Estimated labels",
        "note": f"Samples: {manifest['selection']} ({manifest['samples']}). Table: predicted.csv; "
        "the bias check in the exploration section tests these columns too.",
        "table": {"caption": "Estimated columns", "header": ["Column", "Result"], "rows": rows},
        "images": images,
    }


class Rules:
    """What workflow/rules/predict.smk asks about a predict stage (kept out of sauti.workflow.registry)."""

    def __init__(self, registry):
        self.registry = registry

    def __call__(self, w) -> dict:
        stage = self.registry.stage("predict", w.key)
        data = stage.upstream[0]
        model = stage.params.get("model")

        return {
            "data": self.registry.path(data.stage, data.key),
            **({"model": model} if model and os.path.isfile(model) else {}),
            **encoder_input(self.registry, stage),  # PREDICT.speaker_embedding ssl
        }


SPEC = StageSpec("predict", (PREDICT,), rules=Rules)
