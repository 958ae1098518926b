"""The mixtures of the separation corpus (resources/demo/build_separation_corpus.sh calls this).

Why a Python step: a mixture at a given SNR needs the voice's and the background's energies,
and the disjointness of speakers and background pieces between train, unlabelled and test must
hold by construction (and be testable), which is simpler with numpy than with sox.

Every clip is CLIP_SECONDS long: a voice utterance (a sentence, or a speaker's short words
joined with pauses) at a random offset, over a random excerpt of one background piece of the
same split, scaled to an SNR drawn uniformly from SNR_RANGE (energy of the whole voice track
over that of the whole background track). One seed decides everything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from sauti.core.audio import SAMPLE_RATE, read

CLIP_SECONDS = 4.0
SNR_RANGE = (-5.0, 10.0)
#: Share of speakers and of background pieces in train and unlabelled; the rest is test.
SHARES = {"train": 0.5, "unlabelled": 0.25}
#: Pause between the short words joined into one utterance (seconds).
PAUSE = 0.15
NOISES = ("pink", "brown", "white")


def assign(names: list[str], rng: np.random.Generator) -> dict[str, str]:
    """Deal names to train / unlabelled / test (each gets at least one when there are 3+)."""
    order = [names[i] for i in rng.permutation(len(names))]
    n = len(order)
    n_train = max(1, int(round(SHARES["train"] * n)))
    n_unl = max(1, int(round(SHARES["unlabelled"] * n)))
    if n >= 3:
        n_train = min(n_train, n - 2)
        n_unl = min(n_unl, n - n_train - 1)
    roles = ["train"] * n_train + ["unlabelled"] * n_unl + ["test"] * (n - n_train - n_unl)
    return dict(zip(order, roles, strict=True))


def utterances(demo: Path, sentences: Path) -> pd.DataFrame:
    """One row per voice utterance: speaker, gender, language, the files it joins."""
    rows = []
    real = pd.read_csv(demo / "demo.csv")
    real = real[real["source"] == "real"]
    for speaker, clips in real.groupby("speaker", sort=True):
        files = [str(demo / f) for f in clips["file"]]
        group = 1 if clips["word"].iloc[0] == "sentence" else 4  # short words: 4 per utterance
        for i in range(0, len(files), group):
            first = clips.iloc[0]
            rows.append((speaker, first["gender"], first["language"], files[i : i + group]))
    spoken = pd.read_csv(sentences / "sentences.csv")
    for row in spoken.itertuples(index=False):
        rows.append((row.speaker, row.gender, row.language, [str(sentences / row.file)]))
    return pd.DataFrame(rows, columns=["speaker", "gender", "language", "files"])


def noise(colour: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Coloured noise: white, pink (1/f power) or brown (1/f^2), peak 0.5."""
    n = int(seconds * SAMPLE_RATE)
    white = rng.standard_normal(n)
    if colour == "white":
        out = white
    else:
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        f[0] = f[1]
        spectrum /= f ** (0.5 if colour == "pink" else 1.0)
        out = np.fft.irfft(spectrum, n)
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def _voice(files: list[str]) -> np.ndarray:
    pause = np.zeros(int(PAUSE * SAMPLE_RATE), dtype=np.float32)
    parts = []
    for f in files:
        parts += [read(f), pause]
    return np.concatenate(parts[:-1])


def _energy(x: np.ndarray) -> float:
    return float(np.sum(x.astype(np.float64) ** 2)) + 1e-12


def mix(voice: np.ndarray, background: np.ndarray, snr_db: float, rng) -> tuple:
    """(mixture, voice, background) of CLIP length: the voice at a random offset (cut when too
    long), a random excerpt of the background scaled to `snr_db`, peak-limited to 0.9 together."""
    n = int(CLIP_SECONDS * SAMPLE_RATE)
    track = np.zeros(n, dtype=np.float32)
    voice = voice[:n]
    offset = int(rng.integers(0, n - len(voice) + 1))
    track[offset : offset + len(voice)] = voice
    start = int(rng.integers(0, max(1, len(background) - n + 1)))
    bg = np.resize(background[start : start + n], n).astype(np.float32)
    bg *= np.sqrt(_energy(track) / _energy(bg) / 10 ** (snr_db / 10))
    peak = float(np.abs(track + bg).max())
    scale = min(1.0, 0.9 / peak) if peak else 1.0
    return (track + bg) * scale, track * scale, bg * scale


def build(out: Path, demo: Path, sentences: Path, music: Path, seed: int = 0) -> pd.DataFrame:
    """Write OUT/{mix,voice,background}/*.wav and OUT/separation.csv; return the table."""
    rng = np.random.default_rng(seed)
    voices = utterances(demo, sentences)
    speakers = assign(sorted(voices["speaker"].unique()), rng)
    pieces = {p.stem: read(p) for p in sorted(music.glob("*.wav"))}
    roles = assign(sorted(pieces), rng)  # music and noise dealt apart: every split has both
    noises = {f"noise_{c}_{i}": noise(c, 60.0, rng) for c in NOISES for i in (1, 2)}
    roles.update(assign(sorted(noises), rng))
    pieces.update(noises)
    for folder in ("mix", "voice", "background"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for i, row in enumerate(voices.itertuples(index=False)):
        split = speakers[row.speaker]
        piece = rng.choice(sorted(p for p, r in roles.items() if r == split))
        snr = float(rng.uniform(*SNR_RANGE))
        mixture, voice, background = mix(_voice(row.files), pieces[piece], snr, rng)
        name = f"{i:04d}_{row.speaker}"
        record = {"file": f"mix/{name}.wav", "voice": "", "background": ""}
        sf.write(out / record["file"], mixture, SAMPLE_RATE, subtype="PCM_16")
        if split != "unlabelled":  # unlabelled: the clean tracks are not part of the corpus
            for kind, signal in (("voice", voice), ("background", background)):
                record[kind] = f"{kind}/{name}.wav"
                sf.write(out / record[kind], signal, SAMPLE_RATE, subtype="PCM_16")
        rows.append(
            {
                **record,
                "speaker": row.speaker, "gender": row.gender, "language": row.language,
                "piece": piece, "snr_db": round(snr, 2), "split": split,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows)
    tmp = out / ".separation.csv"
    table.to_csv(tmp, index=False)
    tmp.replace(out / "separation.csv")
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--demo", type=Path, required=True)
    parser.add_argument("--sentences", type=Path, required=True)
    parser.add_argument("--music", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build(args.out, args.demo, args.sentences, args.music, args.seed)


if __name__ == "__main__":
    main()
