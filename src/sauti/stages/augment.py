"""Data augmentation (the AUGMENT section): augmented copies of the training audio, and aug_train.

Why a separate keyed stage: augmented audio is written once into
`<root>/cache/augment/<key>/` (key = AUGMENT slice + split key + seed) and then treated like a
database's samples table, so the ordinary per-type features rules extract features for it and
changing an AUGMENT key re-runs only augment, its features and train/evaluate/report.

Why train only by default: augmenting the test set (Nkululeko defect 5, whose augmentation also
read another selection key than the rest) lets near-copies of test samples leak into what is
evaluated. `AUGMENT.sample_selection` defaults to `train`; dev and test are augmented only when
asked for explicitly, and even then aug_train trains on the augmented *train* rows only and
never evaluates on augmented rows.

The signal processing comes from audiomentations (noise at an SNR, time shift, pitch shift,
tempo, gain, noise files). It has no speed perturbation, random crop or random splice, so those
three are small transforms here, written against audiomentations' transform interface so that
they compose, take `p` and draw their parameters from the same seeded random state. The types,
their parameters and defaults are checked and filled at config time (sauti.config.sections.augment).

Reproducibility: each (sample, copy) gets its own seed derived from EXP.random_seed, the
digest of its audio file's bytes and its start and end, so the audio depends neither on the
order or number of samples processed nor on where the project or the data lie (version 1 took
the file's path: the same experiment in another folder drew other augmentations).
"""

from __future__ import annotations

import hashlib
import logging
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core import audio
from sauti.core.digests import hash_file
from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path, read_json, read_table, write_table
from sauti.core.keys import Keyed, Stage, make_stage, rekey
from sauti.stages.base import StageSpec
from sauti.stages.features import feature_stage

log = logging.getLogger("sauti.augment")

AUGMENT = Keyed("augment", 2, "samples.parquet", ("stages/augment.py", "core/audio.py"))


SAMPLE_RATE = 16000
ID = ["file", "start", "end"]
#: Columns the augment stage adds to the inherited columns of each augmented row.
PROVENANCE = ["augmented_from", "augmented_from_start", "augmented_from_end", "augmentation"]

#: Types that keep the number of samples (the others shorten or lengthen the audio).
SAME_LENGTH = ("noise", "background_noise", "time_shift", "pitch_shift", "gain", "splice")


# --------------------------------------------------------------------------- transforms


def build_pipeline(augmentations: list[dict]):
    """An audiomentations Compose applying the (resolved) augmentations in the listed order."""
    from audiomentations import Compose

    return Compose([_build(dict(entry)) for entry in augmentations], p=1.0)


def _build(entry: dict):
    import audiomentations as A

    kind, p = entry.pop("type"), entry["p"]
    if kind == "noise":
        decay = A.NOISE_COLOR_DECAYS[entry["color"]]
        return A.AddColorNoise(
            min_snr_db=entry["min_snr_db"],
            max_snr_db=entry["max_snr_db"],
            min_f_decay=decay,
            max_f_decay=decay,
            p=p,
        )
    if kind == "background_noise":
        return A.AddBackgroundNoise(
            sounds_path=entry["noise_path"],
            min_snr_db=entry["min_snr_db"],
            max_snr_db=entry["max_snr_db"],
            p=p,
        )
    if kind == "time_shift":
        return A.Shift(
            min_shift=entry["min_shift"],
            max_shift=entry["max_shift"],
            shift_unit=entry["unit"],
            rollover=entry["rollover"],
            p=p,
        )
    if kind == "pitch_shift":
        return A.PitchShift(
            min_semitones=entry["min_semitones"], max_semitones=entry["max_semitones"], p=p
        )
    if kind == "tempo":  # duration changes, pitch stays
        return A.TimeStretch(
            min_rate=entry["min_rate"],
            max_rate=entry["max_rate"],
            leave_length_unchanged=False,
            p=p,
        )
    if kind == "gain":
        return A.Gain(min_gain_db=entry["min_gain_db"], max_gain_db=entry["max_gain_db"], p=p)
    transforms = _own_transforms()
    return transforms[kind](**entry)


def _own_transforms() -> dict:
    """speed, crop and splice: absent from audiomentations, so minimal transforms of its kind.

    Defined inside a function so that importing sauti.augment (the config check does) does not
    import audiomentations and librosa.
    """
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    class Speed(BaseWaveformTransform):
        """Speed perturbation (Kaldi/sox `speed`): tempo and pitch change together, by
        resampling: the signal is read as if recorded at rate * sample_rate."""

        def __init__(self, min_rate: float, max_rate: float, p: float):
            super().__init__(p)
            self.min_rate, self.max_rate = min_rate, max_rate

        def randomize_parameters(self, samples, sample_rate):
            super().randomize_parameters(samples, sample_rate)
            self.parameters["rate"] = random.uniform(self.min_rate, self.max_rate)

        def apply(self, samples, sample_rate):
            import soxr

            rate = self.parameters["rate"]
            return soxr.resample(samples, sample_rate * rate, sample_rate).astype(np.float32)

    class Crop(BaseWaveformTransform):
        """Keep one random contiguous part holding min_fraction..max_fraction of the audio."""

        def __init__(self, min_fraction: float, max_fraction: float, p: float):
            super().__init__(p)
            self.min_fraction, self.max_fraction = min_fraction, max_fraction

        def randomize_parameters(self, samples, sample_rate):
            super().randomize_parameters(samples, sample_rate)
            self.parameters["fraction"] = random.uniform(self.min_fraction, self.max_fraction)
            self.parameters["offset"] = random.random()

        def apply(self, samples, sample_rate):
            keep = max(1, int(round(len(samples) * self.parameters["fraction"])))
            first = int(self.parameters["offset"] * (len(samples) - keep))
            return samples[first : first + keep].copy()

    class Splice(BaseWaveformTransform):
        """Random splicing (after Scherer's randomized splicing, as in Nkululeko): cut the audio
        into segments of min_segment..max_segment seconds and join them in random order (each
        reversed with p_reverse). Voice quality stays, word order and content are scrambled.
        Short raised-cosine fades at the cuts avoid clicks; the length is unchanged."""

        FADE_S = 0.005

        def __init__(self, min_segment: float, max_segment: float, p_reverse: float, p: float):
            super().__init__(p)
            self.min_segment, self.max_segment, self.p_reverse = min_segment, max_segment, p_reverse

        def randomize_parameters(self, samples, sample_rate):
            super().randomize_parameters(samples, sample_rate)
            bounds, position = [0], 0
            while True:
                position += max(
                    1, int(random.uniform(self.min_segment, self.max_segment) * sample_rate)
                )
                if position >= len(samples):
                    break
                bounds.append(position)
            bounds.append(len(samples))
            n = len(bounds) - 1
            order = list(range(n))
            random.shuffle(order)
            self.parameters["bounds"] = bounds
            self.parameters["order"] = order
            self.parameters["reverse"] = [random.random() < self.p_reverse for _ in range(n)]

        def apply(self, samples, sample_rate):
            bounds = self.parameters["bounds"]
            if bounds[-1] != len(samples):  # frozen parameters from another signal
                return samples
            fade = max(1, int(self.FADE_S * sample_rate))
            pieces = []
            for i in self.parameters["order"]:
                piece = samples[bounds[i] : bounds[i + 1]].copy()
                if self.parameters["reverse"][i]:
                    piece = piece[::-1].copy()
                n = min(fade, len(piece) // 2)
                if n:
                    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)
                    piece[:n] *= ramp
                    piece[-n:] *= ramp[::-1]
                pieces.append(piece)
            return np.concatenate(pieces).astype(np.float32)

    return {"speed": Speed, "crop": Crop, "splice": Splice}


def sample_seed(seed: int, audio_digest: str, start: float, end: float, copy: int) -> int:
    """A 32-bit seed per (sample, copy) from its audio file's content digest, not its path:
    independent of processing order, sharding and the folder the files are in."""
    text = f"{int(seed)}|{audio_digest}|{float(start):.6f}|{float(end):.6f}|{int(copy)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@contextmanager
def _seeded(seed: int):
    """audiomentations draws from `random` and `numpy.random`: seed both, restore afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def augment_signal(signal: np.ndarray, pipeline, seed: int) -> np.ndarray:
    """One augmented version of a 16 kHz mono signal; the same seed gives the same audio."""
    with _seeded(seed):
        out = pipeline(samples=np.asarray(signal, dtype=np.float32), sample_rate=SAMPLE_RATE)
    return np.ascontiguousarray(out, dtype=np.float32)


# --------------------------------------------------------------------------- the stage


def select_rows(data: pd.DataFrame, selection: str) -> pd.DataFrame:
    """The rows AUGMENT.sample_selection names: one split, or `all` of them."""
    if selection == "all":
        return data
    return data[data["split"] == selection]


def augment_table(data: pd.DataFrame, params: dict, out_dir: str | Path) -> pd.DataFrame:
    """Write `copies` augmented wavs per selected sample into `out_dir/audio/`; return their table.

    params: augmentations (resolved), copies, sample_selection, random_seed. Each row inherits
    every column of its source row (labels, speaker, db, split) except the sample id; the audio
    is a new whole file (start 0, end = its duration), and `augmented_from`,
    `augmented_from_start`, `augmented_from_end` name the source sample, `augmentation` the copy.
    """
    selection = params["sample_selection"]
    rows = select_rows(data, selection).reset_index(drop=True)
    if rows.empty:
        raise SautiError(
            f"AUGMENT.sample_selection {selection!r}: the split has no samples to augment "
            f"(splits: {dict(data['split'].value_counts())})",
            hint="augment train, or set EXP.traindevtest for a dev split",
        )
    if not params["augmentations"]:
        raise SautiError("AUGMENT.augmentations is empty: nothing to augment")
    import soundfile as sf

    pipeline = build_pipeline(params["augmentations"])
    folder = Path(out_dir).resolve() / "audio"  # absolute, like every samples table
    folder.mkdir(parents=True, exist_ok=True)
    copies, seed = int(params["copies"]), int(params["random_seed"])
    digests: dict[str, str] = {}  # a file's segments share its digest
    out = []
    for _, row in rows.iterrows():
        signal = audio.read(row["file"], row["start"], row["end"])
        if row["file"] not in digests:
            digests[row["file"]] = hash_file(row["file"])
        stem = hashlib.sha1(f"{row['file']}|{row['start']}|{row['end']}".encode()).hexdigest()
        for copy in range(copies):
            augmented = augment_signal(
                signal,
                pipeline,
                sample_seed(seed, digests[row["file"]], row["start"], row["end"], copy),
            )
            if augmented.size == 0:
                raise SautiError(f"augmenting {row['file']} gave empty audio")
            path = folder / f"{Path(row['file']).stem}-{stem[:10]}-{copy}.wav"
            with atomic_path(path) as tmp:
                sf.write(tmp, augmented, SAMPLE_RATE, format="WAV", subtype="FLOAT")
            record = row.to_dict()
            duration = len(augmented) / SAMPLE_RATE
            record.update(file=str(path), start=0.0, end=duration, duration=duration)
            record.update(
                augmented_from=row["file"],
                augmented_from_start=float(row["start"]),
                augmented_from_end=float(row["end"]),
                augmentation=copy,
            )
            out.append(record)
    table = pd.DataFrame(out, columns=list(data.columns) + PROVENANCE)
    log.info(
        "augmented %d samples (%s) x %d copies: %d new files",
        len(rows),
        selection,
        copies,
        len(table),
    )
    return table


def augment_stage(split_path: str, params: dict, out_path: str) -> None:
    """The `augment` rule: the split table in, augmented wavs and their samples table out."""
    data = read_table(split_path)
    table = augment_table(data, params, Path(out_path).parent)
    write_table(out_path, table)  # written last: a killed run leaves no table


# --------------------------------------------------------------------------- plan


@dataclass
class AugmentPlan:
    """The keyed stages aug_train adds to an experiment (see sauti.workflow.plan).

    `train`/`evaluate` are the experiment's own (with augmentation); `baseline_train` and
    `baseline_evaluate` are exactly the stages of the same experiment without AUGMENT, so the
    comparison costs nothing when that experiment was already run.
    """

    augment: Stage
    features: list
    train: Stage
    evaluate: Stage
    baseline_train: Stage
    baseline_evaluate: Stage

    def stages(self) -> list:
        return [self.augment, *self.features, self.baseline_train, self.baseline_evaluate]

    def baseline(self) -> tuple:
        return (self.baseline_train, self.baseline_evaluate)


def plan_augment(cfg: dict, split: Stage, train: Stage, evaluate: Stage) -> AugmentPlan | None:
    """augment (AUGMENT slice + split key + seed), features per type of the augmented table, and
    train/evaluate reading original + augmented features; None without augmentations."""
    section = cfg["AUGMENT"]
    if not section["augmentations"]:
        return None
    augment = make_stage(
        AUGMENT,
        {
            "augmentations": section["augmentations"],
            "copies": section["copies"],
            "sample_selection": section["sample_selection"],
            "random_seed": cfg["EXP"]["random_seed"],
        },
        (split,),
    )
    features = [feature_stage(kind, cfg, augment) for kind in cfg["FEATS"]["type"]]
    with_aug = rekey(train, (*train.upstream, augment, *features))
    evaluated = rekey(evaluate, (with_aug,))
    return AugmentPlan(augment, features, with_aug, evaluated, train, evaluate)


# --------------------------------------------------------------------------- aug_train


def training_data(data: pd.DataFrame, augmented: pd.DataFrame) -> pd.DataFrame:
    """The split table plus the augmented rows derived from *train* samples, as train rows.

    Augmented dev/test rows (only present with an explicit sample_selection) are dropped: they
    must never be evaluated on, and training on them would leak held-out speakers.
    """
    extra = augmented[augmented["split"] == "train"]
    dropped = len(augmented) - len(extra)
    if dropped:
        log.info("aug_train: %d augmented dev/test rows are not used", dropped)
    extra = extra[[c for c in data.columns if c in extra.columns]]
    log.info(
        "aug_train: %d original + %d augmented training rows",
        (data["split"] == "train").sum(),
        len(extra),
    )
    return pd.concat([data, extra], ignore_index=True)


def comparison(
    without: dict, with_: dict, data: pd.DataFrame, augmented: pd.DataFrame, aug_cfg: dict
) -> dict:
    """metrics.json's "augmentation" entry: the same experiment without and with augmentation.

    {"augmentations": [...], "copies", "sample_selection",
     "n_train": {"original": n, "augmented": m},
     "without": {"test": {...}, "dev": {...}, "runs": {mean/std}},   # dev/runs when present
     "with": {...same shape...}}
    """

    def results(metrics: dict) -> dict:
        picked = {k: metrics[k] for k in ("test", "dev", "test_per_speaker") if k in metrics}
        if "runs" in metrics:
            picked["runs"] = {k: v for k, v in metrics["runs"].items() if k != "test"}
        return picked

    return {
        "augmentations": aug_cfg["augmentations"],
        "copies": aug_cfg["copies"],
        "sample_selection": aug_cfg["sample_selection"],
        "n_train": {
            "original": int((data["split"] == "train").sum()),
            "augmented": int((augmented["split"] == "train").sum()),
        },
        "without": results(without),
        "with": results(with_),
    }


def publish_comparison(inputs: dict, config: dict, metrics: dict, exp_dir: str | Path) -> dict:
    """The report stage's part of aug_train: metrics.json gains the "augmentation" entry, and
    AUGMENT.result (when set) gets a CSV copy of the augmented samples table."""
    augmented = read_table(inputs["augment"])
    entry = comparison(
        read_json(inputs["metrics_without"]),
        metrics,
        read_table(inputs["split"]),
        augmented,
        config["AUGMENT"],
    )
    if config["AUGMENT"].get("result"):
        write_table(Path(exp_dir) / config["AUGMENT"]["result"], augmented)
    return {**metrics, "augmentation": entry}


class Rules:
    """What workflow/rules/augment.smk asks the registry (REG.spec("augment"))."""

    def __init__(self, registry):
        self.registry = registry

    def split(self, w) -> str:
        return self.registry.path_of(self.registry.data_upstream("augment", w.key))


SPEC = StageSpec("augment", (AUGMENT,), rules=Rules)
