"""PREDICT on real speech: speakers are found again, noise lowers the SNR and MOS estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError
from sauti.core import audio
from sauti.stages.predict import agreement, cluster_speakers, estimate_mos, estimate_snr
from sauti.workflow.plan import plan_experiment

#: Five real speakers of the demo corpus (telephone prompts, digits): 6 clips each.
SPEAKERS = ["allison", "july", "june", "menardi", "carlo"]


def add_noise(signal: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """White noise at `snr_db` relative to the clip's mean power."""
    noise = np.random.default_rng(seed).normal(size=signal.shape).astype(np.float32)
    return signal + noise * np.sqrt((signal**2).mean() / 10 ** (snr_db / 10))


@pytest.fixture(scope="module")
def clips(demo_table):
    rows = demo_table[demo_table["speaker"].isin(SPEAKERS)].groupby("speaker").head(6)
    return rows.reset_index(drop=True), [audio.read(f) for f in rows["file"]]


def test_speaker_clusters_match_the_real_speakers(clips):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from sauti.ml.deep.speaker_embeddings import embed_resemblyzer

    rows, signals = clips
    embeddings = embed_resemblyzer(signals)
    truth = rows["speaker"].to_numpy()
    found, info = cluster_speakers(embeddings, len(SPEAKERS), 10)
    scores = agreement(truth, found)
    assert info["n_speakers"] == 5 and scores["true_speakers"] == 5
    assert scores["purity"] >= 0.75 and scores["nmi"] >= 0.7, scores
    estimated, info = cluster_speakers(embeddings, None, 10)  # the count by silhouette
    assert 2 <= info["n_speakers"] <= 10 and set(info["silhouette"]) == {
        str(k) for k in range(2, 11)
    }
    assert agreement(truth, estimated)["nmi"] >= 0.5


def test_snr_is_higher_for_clean_than_noisy_clips(clips):
    _, signals = clips
    clean = np.array([estimate_snr(s) for s in signals[:10]])
    noisy = np.array([estimate_snr(add_noise(s, 5, i)) for i, s in enumerate(signals[:10])])
    assert np.median(clean) > np.median(noisy) + 5
    assert np.mean(clean > noisy) >= 0.8
    assert abs(np.median(noisy) - 5) < 4  # near the SNR the noise was added at


def test_mos_is_lower_for_noisy_clips(clips):
    pytest.importorskip("speechmos")
    _, signals = clips
    for i, signal in enumerate(signals[:2]):
        clean, noisy = estimate_mos(signal), estimate_mos(add_noise(signal, 5, i))
        assert 1 <= noisy < clean - 0.5 <= 5, (clean, noisy)


def base_config(**predict) -> dict:
    return {
        "EXP": {"name": "p"},
        "DATA": {"databases": ["d"], "d": "data/demo/demo.csv", "target": "gender"},
        "PREDICT": predict,
    }


def test_plan_keys_and_errors():
    assert plan_experiment(resolve(base_config())).predict is None
    plan = plan_experiment(resolve(base_config(targets=["snr"])))
    assert plan.predict.upstream == (plan.split,) and plan.explore.upstream[0] == plan.predict
    other = plan_experiment(resolve(base_config(targets=["snr", "mos"])))
    assert other.predict.key != plan.predict.key and other.train.key == plan.train.key
    with pytest.raises(ConfigError, match=r"'age' needs a model: set PREDICT.model"):
        plan_experiment(resolve(base_config(targets=["age"])))
    with pytest.raises(ConfigError, match="PREDICT.device"):
        plan_experiment(resolve(base_config(targets=["speaker"], device="tpu")))


def test_agreement_of_a_perfect_and_a_random_clustering():
    truth = np.repeat(["a", "b", "c"], 4)
    assert agreement(truth, np.repeat(["x", "y", "z"], 4)) == {
        "true_speakers": 3,
        "purity": 1.0,
        "nmi": 1.0,
        "ari": 1.0,
    }
    shuffled = np.random.default_rng(0).permutation(pd.Series(truth).map(str.upper).to_numpy())
    assert agreement(truth, shuffled)["ari"] < 0.3
