"""SEPARATE: a voice/background separation front end trained by noisy self-training.

The method of "Semi-supervised singing voice separation with noisy self-training" (Wang et al.,
ICASSP 2021), for speech under music and noise:

1. round 0, the **teacher**: a small U-Net mask separator (sauti.ml.deep.separator) trained on the
   labelled pairs of SEPARATE.corpus (the `train` rows: clean voice + clean background, summed
   as recorded);
2. the teacher separates every `unlabelled` mixture of the corpus (mixtures only: their clean
   tracks are never read);
3. a **VAD filter** keeps a pseudo-labelled clip when silero's speech activity (sauti.ml.vad: the
   share of 32 ms chunks called speech) of the teacher's voice estimate lies within
   [min_activity, max_activity] -- too little means the voice was removed, too much that the
   background passed as voice -- and differs from the mixture's own activity by at most
   `max_difference` -- the voice estimate must be speech where the mixture has speech;
4. the **student**, a larger U-Net (`student` size), is trained from scratch on labelled + kept
   pseudo-labelled pairs (teacher's voice estimate, mixture minus it) with **noise**: every
   batch remixes random voices with random backgrounds at random gains and time shifts;
5. the student is the next round's teacher. Every round is a keyed stage holding the previous
   round's key and not `rounds`, so raising `rounds` trains only the new rounds.

Every round is scored on the corpus's `test` mixtures (speakers and background pieces none of
the rounds trained on): BSS-eval SDR and SI-SDR of the voice estimate (fast_bss_eval), with the
mixture's own SDR as the floor. The stage `separate` applies the last round to the recordings
of SEPARATE.databases and writes their voice tracks as 16 kHz wav files and a table with the
split table's columns, which every later stage reads in place of the split table (like SEGMENT's
segments), so features, training, explore and report run on separated audio unchanged.
`pretrained` replaces the rounds by a published separator (sauti.ml.deep.pretrained_separator).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.device import wants_gpu
from sauti.config.sections.separate import selected_databases
from sauti.core.audio import SAMPLE_RATE, read
from sauti.core.digests import MISSING, hash_file
from sauti.core.errors import SautiError
from sauti.core.fileio import (
    atomic_path,
    read_json,
    read_table,
    write_json,
    write_round_table,
    write_table,
)
from sauti.core.keys import Keyed, make_stage, rekey
from sauti.core.paths import corpus_build_command
from sauti.ml.deep import separator as S
from sauti.ml.deep.pretrained_separator import load_pretrained
from sauti.ml.vad import speech_ratio
from sauti.stages.base import StageSpec
from sauti.stages.selftrain import headline

log = logging.getLogger("sauti.stages.separate")

_SEPARATE_SOURCES = (
    "stages/separate.py",
    "ml/deep/separator.py",
    "ml/deep/pretrained_separator.py",
)
SEPARATE_TRAIN = Keyed("separate_train", 1, "round.json", _SEPARATE_SOURCES)
SEPARATE = Keyed("separate", 1, "separated.parquet", _SEPARATE_SOURCES)


#: Columns a separation corpus CSV needs (resources/demo/build_separation_corpus.sh writes them).
CORPUS_COLUMNS = ("file", "voice", "background", "split")
#: Provenance columns of the separated table: the recording a voice track was separated from.
PROVENANCE = ["separated_from", "separated_from_start", "separated_from_end"]
#: SEPARATE keys in round 0's key (the teacher); student rounds add ROUND_KEYS.
TEACHER_KEYS = ("teacher", "steps", "batch_size", "learning_rate", "segment", "device")
ROUND_KEYS = ("student", "remix", "vad_filter", "min_activity", "max_activity", "max_difference")
#: Frame-level silero threshold behind the activity (the filter's bounds are on the share).
VAD_THRESHOLD = 0.5


# --------------------------------------------------------------------------- planning


@dataclass
class SeparatePlan:
    rounds: list  # separate_train Stage per round, round 0 = the teacher (empty: pretrained)
    separate: object  # the separated data table's Stage, or None without SEPARATE.databases
    # the experiment's train and evaluate stages without separation (for the report's comparison)
    baseline: tuple = ()

    def stages(self) -> list:
        recordings = [u for u in self.baseline[0].upstream[1:]] if self.baseline else []
        return [*self.rounds, *([self.separate] if self.separate else []), *recordings, *self.baseline]  # fmt: skip


def plan_separate(cfg: dict, split) -> SeparatePlan | None:
    """The rounds (from SEPARATE.corpus) and the separate stage of SEPARATE.databases; None
    when SEPARATE names neither a corpus nor a pretrained model."""
    section, exp = cfg["SEPARATE"], cfg["EXP"]
    if not (section["corpus"] or section["pretrained"]):
        return None
    rounds = []
    if section["corpus"]:
        seed = exp["random_seed"] if section["seed"] is None else section["seed"]
        teacher = {
            **{k: section[k] for k in TEACHER_KEYS},
            "corpus": os.path.abspath(os.path.expanduser(section["corpus"])),
            "seed": seed,
        }  # fmt: skip
        rounds.append(make_stage(SEPARATE_TRAIN, {**teacher, "round": 0}, content=_corpus_content(teacher["corpus"])))  # fmt: skip
        student = {**teacher, **{k: section[k] for k in ROUND_KEYS}}
        for r in range(1, int(section["rounds"]) + 1):
            rounds.append(make_stage(SEPARATE_TRAIN, {**student, "round": r}, (rounds[-1],)))
    databases = selected_databases(cfg)
    separate = None
    if databases:
        pretrained = section["pretrained"]
        if pretrained and os.path.isdir(os.path.expanduser(pretrained)):
            pretrained = os.path.abspath(os.path.expanduser(pretrained))
        params = {
            "databases": databases, "shards": section["shards"], "pretrained": pretrained,
            "device": section["device"],
        }  # fmt: skip
        separate = make_stage(SEPARATE, params, (split, *rounds[-1:]))
    return SeparatePlan(rounds, separate)


def _corpus_content(path: str) -> dict:
    """The corpus CSV's digest, in round 0's key (and so in every round's): a rebuilt corpus
    retrains instead of reusing rounds trained on the old one."""
    return {"corpus": hash_file(path) if os.path.isfile(path) else MISSING}


def plan_baseline(train, evaluate, split, recordings: list) -> tuple:
    """The experiment's train and evaluate stages on the recordings themselves (same settings),
    for the report's with/without comparison; () when the model does not read the separated
    table directly (a fine-tuned model, or SEGMENT after SEPARATE)."""
    if train.stage != "train" or train.upstream[0].stage != "separate":
        return ()
    baseline = rekey(train, (split, *recordings))
    return (baseline, rekey(evaluate, (baseline,)))


class Rules:
    """Input functions of workflow/rules/separate.smk (the rule file stays declarative)."""

    def __init__(self, registry):
        self.registry = registry

    def previous(self, w) -> list[str]:
        stage = self.registry.stage("separate_train", w.key)
        return [self.registry.path("separate_train", u.key) for u in stage.upstream]

    def shard_inputs(self, w) -> dict:
        reg = self.registry
        stage = reg.stage("separate", w.key)
        split = stage.upstream[0]
        out = {"split": reg.path(split.stage, split.key)}
        if len(stage.upstream) > 1:
            out["model"] = reg.path("separate_train", stage.upstream[1].key, "model.pt")
        return out

    def shards(self, w) -> list[str]:
        n = int(self.registry.stage("separate", w.key).params["shards"])
        return [self.registry.path("separate", w.key, f"shard-{i}-of-{n}.parquet") for i in range(n)]  # fmt: skip

    def gpu(self, stage: str):
        def gpu(w):
            return int(wants_gpu(self.registry.stage(stage, w.key).params["device"]))

        return gpu

    def results(self, w) -> list[str]:
        plan = self.registry.plan(w.name).separation
        return [self.registry.path("separate_train", s.key) for s in plan.rounds]


def report_inputs(registry, plan) -> dict:
    """The report rule's SEPARATE inputs: the rounds' summary (rule separate_results), the
    separated table's manifest and the evaluation without separation, as far as planned."""
    separation = plan.separation
    if not separation:
        return {}
    out = {}
    if separation.rounds:
        out["separation"] = f"{registry.root}/{plan.name}/separate/separation.json"
    if separation.separate:
        out["separate_manifest"] = registry.path("separate", separation.separate.key, "separate.json")  # fmt: skip
    if separation.baseline:
        out["separate_without"] = registry.path("evaluate", separation.baseline[1].key)
    return out


# --------------------------------------------------------------------------- corpus


def load_corpus(path: str) -> dict[str, pd.DataFrame]:
    """The corpus CSV's train / unlabelled / test rows, paths made absolute; one-line errors.
    A missing corpus is a run-time error, like a missing DATA CSV: shipped examples name
    corpora that `make` builds on the user's machine."""
    if not Path(path).is_file():
        raise SautiError(
            f"SEPARATE.corpus {path} does not exist",
            hint=f"build it with: {corpus_build_command(path) or 'resources/demo/build_separation_corpus.sh OUTDIR'}",
        )
    try:
        table = pd.read_csv(path, dtype={"voice": str, "background": str}, keep_default_na=False)
    except Exception as exc:
        raise SautiError(f"SEPARATE.corpus {path}: cannot read the CSV ({exc})") from exc
    missing = [c for c in CORPUS_COLUMNS if c not in table]
    if missing:
        raise SautiError(
            f"SEPARATE.corpus {path}: column {missing[0]!r} is missing",
            hint=f"a separation corpus has the columns {', '.join(CORPUS_COLUMNS)} "
            "(resources/demo/build_separation_corpus.sh)",
        )
    base = Path(path).parent
    for column in ("file", "voice", "background"):
        table[column] = [str(base / f) if f else "" for f in table[column]]
    parts = {s: table[table["split"] == s].reset_index(drop=True) for s in ("train", "unlabelled", "test")}  # fmt: skip
    for split in ("train", "test"):
        if parts[split].empty:
            raise SautiError(f"SEPARATE.corpus {path}: no {split} rows", hint="split: train, unlabelled, test")  # fmt: skip
        if (parts[split][["voice", "background"]] == "").any().any():
            raise SautiError(
                f"SEPARATE.corpus {path}: a {split} row has no voice or background file",
                hint="train and test rows need both clean tracks",
            )
    return parts


def read_all(files) -> list[np.ndarray]:
    return [read(f) for f in files]


# --------------------------------------------------------------------------- filter and metrics


def keep_mask(estimate: np.ndarray, mixture: np.ndarray, params: dict) -> np.ndarray:
    """The VAD filter (module docstring, step 3) on speech activities in [0, 1]."""
    estimate, mixture = np.asarray(estimate, float), np.asarray(mixture, float)
    inside = (estimate >= params["min_activity"]) & (estimate <= params["max_activity"])
    return inside & (np.abs(estimate - mixture) <= params["max_difference"])


def sdr(reference: np.ndarray, estimate: np.ndarray) -> tuple[float, float]:
    """(SDR, SI-SDR) in dB of one estimate: BSS-eval v4's SDR (a 512-tap distortion filter
    allowed) and the scale-invariant SDR, both from fast_bss_eval."""
    import fast_bss_eval

    ref = np.asarray(reference, dtype=np.float64)[None]
    est = np.asarray(estimate, dtype=np.float64)[None]
    n = min(ref.shape[1], est.shape[1])
    ref, est = ref[:, :n], est[:, :n]
    return float(fast_bss_eval.sdr(ref, est)[0]), float(fast_bss_eval.si_sdr(ref, est)[0])


def evaluate(separator, test: pd.DataFrame) -> dict:
    """Mean SDR / SI-SDR of `separator` (signal -> voice) on the test mixtures, the mixtures'
    own SDR (the floor) and the real-time factor of separating them."""
    rows, seconds, audio_seconds = [], 0.0, 0.0
    for row in test.itertuples(index=False):
        mixture, voice = read(row.file), read(row.voice)
        started = time.perf_counter()
        estimate = separator(mixture)
        seconds += time.perf_counter() - started
        audio_seconds += len(mixture) / 16000
        s, si = sdr(voice, estimate)
        floor, floor_si = _floor(row.file, row.voice)
        rows.append({"file": row.file, "sdr": s, "si_sdr": si, "mixture_sdr": floor, "mixture_si_sdr": floor_si})  # fmt: skip
    table = pd.DataFrame(rows)
    return {
        **{k: float(table[k].mean()) for k in ("sdr", "si_sdr", "mixture_sdr", "mixture_si_sdr")},
        "n_test": int(len(table)),
        "rtf": seconds / max(audio_seconds, 1e-9),
    }


@lru_cache(maxsize=4096)
def _floor(mixture_file: str, voice_file: str) -> tuple[float, float]:
    """(SDR, SI-SDR) of the mixture itself: the same in every round (cached per process)."""
    return sdr(read(voice_file), read(mixture_file))


@lru_cache(maxsize=4096)
def _mixture_activity(file: str) -> float:
    return speech_ratio(read(file), VAD_THRESHOLD)


def activities(signals) -> np.ndarray:
    return np.array([speech_ratio(s, VAD_THRESHOLD) for s in signals])


# --------------------------------------------------------------------------- a round


def run_round(corpus: dict, params: dict, previous_model=None) -> dict:
    """Train one round (module docstring) and score it; returns {net, state, pseudo}."""
    r = int(params["round"])
    train = corpus["train"]
    voices, backgrounds = read_all(train["voice"]), read_all(train["background"])
    state: dict = {"round": r, "n_labelled": int(len(train))}
    pseudo = pd.DataFrame(columns=["file", "activity", "mixture_activity", "kept"])
    size = params["teacher"]
    if r:
        size = params["student"]
        pool = corpus["unlabelled"]
        mixtures = read_all(pool["file"])
        estimates = [S.separate(previous_model, m) for m in mixtures]
        est_act = activities(estimates)
        mix_act = np.array([_mixture_activity(f) for f in pool["file"]])
        kept = keep_mask(est_act, mix_act, params) if params["vad_filter"] else np.ones(len(pool), bool)  # fmt: skip
        pseudo = pd.DataFrame({"file": pool["file"], "activity": est_act, "mixture_activity": mix_act, "kept": kept})  # fmt: skip
        voices += [e for e, k in zip(estimates, kept, strict=True) if k]
        backgrounds += [m - e for m, e, k in zip(mixtures, estimates, kept, strict=True) if k]
        state.update(n_pool=int(len(pool)), n_kept=int(kept.sum()))
        log.info("round %d: VAD filter kept %d of %d pseudo-labelled clips", r, kept.sum(), len(pool))  # fmt: skip
    settings = S.TrainSettings(
        steps=int(params["steps"]), batch_size=int(params["batch_size"]),
        learning_rate=float(params["learning_rate"]), segment=float(params["segment"]),
        remix=bool(r and params["remix"]), device=params["device"], seed=int(params["seed"]) + r,
    )  # fmt: skip
    net, history = S.train(voices, backgrounds, size, settings)
    scores = evaluate(lambda m: S.separate(net, m), corpus["test"])
    state.update(
        model="teacher" if r == 0 else "student", size=dict(size), steps=settings.steps,
        steps_per_s=history["steps_per_s"], final_loss=float(np.mean(history["loss"][-10:])),
        parameters=int(sum(p.numel() for p in net.parameters())), **scores,
    )  # fmt: skip
    log.info("round %d: test SDR %.2f dB (mixture %.2f dB), SI-SDR %.2f dB", r, scores["sdr"], scores["mixture_sdr"], scores["si_sdr"])  # fmt: skip
    return {"net": net, "state": state, "pseudo": pseudo}


def round_stage(previous: list[str], params: dict, out_dir: str) -> None:
    """The `separate_train` rule: model.pt, pseudo.parquet and round.json (written last)."""
    out = Path(out_dir)
    corpus = load_corpus(params["corpus"])
    model = S.load(Path(previous[0]).parent / "model.pt") if previous else None
    if previous:
        read_json(previous[0])  # the previous round finished (its round.json is its last write)
    result = run_round(corpus, params, model)
    size = params["student"] if params["round"] else params["teacher"]
    S.save(result["net"], size, out / "model.pt")
    write_table(out / "pseudo.parquet", result["pseudo"])
    write_json(out / "round.json", result["state"])


# --------------------------------------------------------------------------- the separate stage


def load_separator(params: dict, model_path: str | None):
    """signal -> voice: the last round's U-Net, or SEPARATE.pretrained's separator."""
    if params.get("pretrained"):
        return load_pretrained(params["pretrained"], params["device"])
    net = S.load(model_path)
    return lambda signal: S.separate(net, signal, params["device"])


def shard_rows(data: pd.DataFrame, databases: list[str], shard: int, n: int) -> np.ndarray:
    """Row positions of the rows to separate that shard `shard` of `n` handles (every n-th)."""
    chosen = np.flatnonzero(data["db"].isin(databases).to_numpy()) if "db" in data else np.arange(len(data))  # fmt: skip
    return chosen[shard::n]


def separate_shard(split_path: str, model_path, params: dict, shard: int, n: int, out_path: str) -> None:  # fmt: skip
    """Separate this shard's recordings: wav files under <key>/wav/, one table row each."""
    import soundfile as sf
    from tqdm import tqdm

    data = read_table(split_path)
    rows = shard_rows(data, params["databases"], shard, n)
    separator = load_separator(params, model_path)
    wav_dir = Path(out_path).parent / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for position in tqdm(rows, desc=f"separate {shard + 1}/{n}", mininterval=2):
        row = data.iloc[position]
        voice = np.clip(separator(read(row["file"], row["start"], row["end"])), -1, 1)
        target = (wav_dir / f"{position:07d}.wav").resolve()
        with atomic_path(target) as tmp:
            sf.write(tmp, voice, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        records.append({"position": int(position), "file": str(target), "end": len(voice) / SAMPLE_RATE})  # fmt: skip
    write_table(out_path, pd.DataFrame(records, columns=["position", "file", "end"]))


def merge_shards(split_path: str, shard_paths: list[str], params: dict, out_dir: str) -> None:
    """separated.parquet: the split table with the separated rows pointing at their voice
    tracks (start 0, end = duration; provenance in separated_from*), the rest unchanged."""
    data = read_table(split_path)
    table = data.copy()
    table[PROVENANCE[0]], table[PROVENANCE[1]], table[PROVENANCE[2]] = data["file"], data["start"], data["end"]  # fmt: skip
    done = pd.concat([read_table(p) for p in shard_paths], ignore_index=True)
    position = done["position"].to_numpy()
    table.loc[position, "file"] = done["file"].to_numpy()
    table.loc[position, "start"] = 0.0
    table.loc[position, "end"] = done["end"].to_numpy()
    if "duration" in table:
        table["duration"] = table["end"] - table["start"]
    manifest = {
        "databases": params["databases"], "separated": int(len(done)), "rows": int(len(table)),
        "separator": params.get("pretrained") or "SEPARATE rounds (last round)",
    }  # fmt: skip
    write_json(Path(out_dir) / "separate.json", manifest)
    write_table(Path(out_dir) / "separated.parquet", table)  # last: the rule's main output
    log.info("separated %d of %d recordings", len(done), len(table))


# --------------------------------------------------------------------------- results


def round_rows(states: list[dict]) -> pd.DataFrame:
    """One row per round: the model, what the filter kept, SDR / SI-SDR and the floor."""
    rows = [
        {
            "round": s["round"],
            "model": s["model"],
            "parameters": s["parameters"],
            "n_labelled": s["n_labelled"],
            "n_pool": s.get("n_pool"),
            "n_kept": s.get("n_kept"),
            "sdr": s["sdr"],
            "si_sdr": s["si_sdr"],
            "mixture_sdr": s["mixture_sdr"],
            "steps_per_s": s["steps_per_s"],
            "rtf": s["rtf"],
        }  # fmt: skip
        for s in states
    ]
    table = pd.DataFrame(rows)
    for column in ("n_pool", "n_kept"):
        table[column] = table[column].astype("Int64")
    return table


def publish_rounds(round_paths: list[str], out_dir: str) -> dict:
    """separation.json, rounds.csv, rounds.md and sdr.png in `out_dir` (not cached)."""
    states = sorted((read_json(p) for p in round_paths), key=lambda s: s["round"])
    out = Path(out_dir)
    table = round_rows(states)
    write_round_table(out, table, "sdr.png", plot_rounds)
    result = {
        "rounds": [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in table.astype(object).to_dict("records")],  # fmt: skip
        "teacher_sdr": states[0]["sdr"], "last_sdr": states[-1]["sdr"],
        "mixture_sdr": states[0]["mixture_sdr"],
    }  # fmt: skip
    write_json(out / "separation.json", result)
    return result


def plot_rounds(table: pd.DataFrame, path) -> None:
    """SDR and SI-SDR per round against the mixture's SDR (dashed), kept clips as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    bars = ax.twinx()
    bars.bar(table["round"], table["n_kept"].fillna(0).astype(float), color="#cfd8e3", width=0.5)
    bars.set_ylabel("kept pseudo-labelled clips")
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(table["round"], table["sdr"], "o-", label="SDR")
    ax.plot(table["round"], table["si_sdr"], "s-", label="SI-SDR")
    ax.axhline(float(table["mixture_sdr"].iloc[0]), color="grey", ls="--", label="mixture SDR (floor)")  # fmt: skip
    ax.set_xlabel("round (0 = teacher)")
    ax.set_xticks(list(table["round"]))
    ax.set_ylabel("dB on the test mixtures")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Voice separation per round")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def report_section(summary_path: str | None, manifest_path: str | None, compare: dict | None) -> dict:  # fmt: skip
    """The report's Separation section: SDR per round, what was separated, and the
    experiment's headline result with and without separation."""
    note, table, images = [], None, []
    if summary_path:
        result = read_json(summary_path)
        names = {
            "n_labelled": "labelled", "n_pool": "unlabelled", "n_kept": "kept (VAD)",
            "sdr": "SDR (dB)", "si_sdr": "SI-SDR (dB)", "mixture_sdr": "mixture SDR (dB)",
            "steps_per_s": "steps/s", "rtf": "real-time factor",
        }  # fmt: skip
        columns = [c for c in result["rounds"][0] if c != "parameters"]
        table = {
            "caption": "Per round on the corpus's test mixtures (unseen speakers and backgrounds)",
            "header": [names.get(c, c) for c in columns],
            "rows": [
                ["–" if row[c] is None else row[c] for c in columns] for row in result["rounds"]
            ],
        }
        note.append(
            f"Test SDR {result['mixture_sdr']:.2f} dB (mixture) -> {result['teacher_sdr']:.2f} dB "
            f"(teacher) -> {result['last_sdr']:.2f} dB (last round)."
        )
        images.append({"path": str(Path(summary_path).parent / "sdr.png"), "caption": "SDR per round"})  # fmt: skip
    if manifest_path:
        manifest = read_json(manifest_path)
        note.append(
            f"Separated {manifest['separated']} of {manifest['rows']} recordings of "
            f"{', '.join(manifest['databases'])} with {manifest['separator']}; the experiment's "
            "features and model use the separated voice tracks."
        )
    if compare:
        note.append(
            f"Test {compare['metric'].upper()}: {compare['without']:.3f} without separation, "
            f"{compare['with']:.3f} with separation."
        )
    return {"id": "separate", "title": "Voice/background separation", "note": " ".join(note), "table": table, "images": images}  # fmt: skip


def headline_comparison(with_path: str, without_path: str) -> dict | None:
    """The experiment's headline test metric with and without separation (evaluate outputs)."""
    with_m, without_m = read_json(with_path), read_json(without_path)
    metric = headline(with_m["type"])
    try:
        return {"metric": metric, "with": _test_value(with_m, metric), "without": _test_value(without_m, metric)}  # fmt: skip
    except (KeyError, TypeError):
        return None


def _test_value(metrics: dict, metric: str) -> float:
    value = metrics["test"][metric]
    return float(value["mean"] if isinstance(value, dict) else value)


SPEC = StageSpec("separate", (SEPARATE_TRAIN, SEPARATE), rules=Rules)
