"""spectra features, the cnn and its training-time augmentation, on real audio from the demo corpus.

Kept small (32 bands, under 1 s images, tiny networks, few epochs, one torch thread) so the
whole module runs in about a minute on two busy cores.
"""

from __future__ import annotations

import copy
import math

import joblib
import numpy as np
import pandas as pd
import pytest

from sauti.config import resolve as C
from sauti.core.errors import SautiError
from sauti.core.fileio import read_table, write_table
from sauti.ml.features import extract
from sauti.ml.features import spectra as S

torch = pytest.importorskip("torch")

from sauti.ml.deep import cnn as CNN  # noqa: E402
from sauti.ml.deep.cnn_net import SpecAugmenter, mix_noise, noise_window  # noqa: E402

OPTIONS = {"fft_win_dur": 25, "fft_hop_dur": 10, "fft_nbands": 32, "max_duration": 0.8}
ID = ["file", "start", "end"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits(demo_table) -> pd.DataFrame:
    """Digits of the 7 real asterisk speakers and the 20 English espeak voices, with a
    speaker-independent split: 4 speakers of each gender in test, the rest in train."""
    table = demo_table[demo_table["word"].str.startswith("digit")]
    table = table[(table["source"] == "real") | (table["language"] == "en")]
    voices = table[table["source"] == "espeak"].groupby("gender")["speaker"].unique()
    test = {"allison", "carlo", *sorted(voices["female"])[:3], *sorted(voices["male"])[:3]}
    table = table.reset_index(drop=True)
    table["split"] = np.where(table["speaker"].isin(test), "test", "train")
    return table


@pytest.fixture(scope="module")
def digit_features(digits) -> pd.DataFrame:
    return extract("spectra", digits[ID], OPTIONS, progress=False)


# ------------------------------------------------------------------------- spectra features


def test_spectra_have_the_documented_shape_and_follow_fft_nbands(small_samples):
    rows = small_samples[ID].head(4)
    table = extract("spectra", rows, OPTIONS, progress=False)
    frames = 1 + int(0.8 * 16000) // 160
    assert frames == S.n_frames(0.8, 10) == 81
    assert table.shape == (4, 32 * frames)
    assert table.columns[0] == "spectra_m00_t000" and table.columns[-1] == "spectra_m31_t080"
    assert S.image_shape(table.columns) == (32, frames)
    assert np.isfinite(table.to_numpy()).all()
    # band-major: row 0 reshaped gives the log-mel image of the clip
    from sauti.core import audio

    image = S.log_mel(audio.read(rows["file"][0]), S.settings(OPTIONS))
    assert np.allclose(table.to_numpy()[0].reshape(32, frames), image)
    wider = extract("spectra", rows, {**OPTIONS, "fft_nbands": 48}, progress=False)
    assert wider.shape == (4, 48 * frames)
    assert S.image_shape(wider.columns) == (48, frames)


def test_spectra_pad_short_clips_and_crop_long_ones(demo_table):
    long = demo_table.nlargest(1, "end")[ID]  # a codec2 sentence
    short = demo_table.nsmallest(1, "end")[ID]  # a digit
    assert (long["end"] > 2).all() and (short["end"] < 0.7).all()
    for rows in (long, short):
        assert extract("spectra", rows, OPTIONS, progress=False).shape == (1, 32 * 81)
    padded = extract("spectra", short, OPTIONS, progress=False).to_numpy().reshape(32, 81)
    assert np.allclose(padded[:, -3:], math.log(S.LOG_FLOOR), atol=1e-3)  # silence at the end


def test_spectra_options_are_checked():
    with pytest.raises(SautiError, match="fft_nbands"):
        S.settings({"fft_nbands": 400})
    with pytest.raises(SautiError, match="fft_hop_dur"):
        S.settings({"fft_win_dur": 10, "fft_hop_dur": 20})
    with pytest.raises(SautiError, match="spectra features only"):
        S.image_shape(["spectra_m00_t000", "os_F0_mean"])


def test_cnn_config_needs_spectra_and_classification(demo_dir):
    raw = {
        "EXP": {"name": "x"},
        "DATA": {"databases": ["d"], "d": str(demo_dir / "demo.csv"), "target": "gender"},
        "FEATS": {"type": ["os"]},
        "MODEL": {"type": "cnn"},
    }
    with pytest.raises(C.ConfigError, match=r"FEATS.type = \['spectra'\]"):
        C.resolve(copy.deepcopy(raw), "exp.yaml")
    raw["FEATS"] = {"type": ["spectra"], "fft_nbands": 64}
    cfg = C.resolve(copy.deepcopy(raw), "exp.yaml")
    assert cfg["MODEL"]["snr_range"] == [5, 30] and cfg["FEATS"]["max_duration"] == 2.0


# ------------------------------------------------------------------------- augmentation


def _images(features: pd.DataFrame) -> torch.Tensor:
    bands, frames = S.image_shape(features.columns)
    return torch.as_tensor(
        features.to_numpy(np.float32, copy=True).reshape(len(features), bands, frames)
    )


def test_noise_mixing_hits_the_requested_snr_in_the_power_domain(digit_features, tmp_path):
    import soundfile as sf

    images = _images(digit_features.head(6))
    generated = CNN.noise_images(None, S.settings(OPTIONS), seed=1)
    # a real recording as a noise folder: a codec2 sentence stands in for babble noise
    sentence = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    sf.write(tmp_path / "babble.wav", sentence, 16000)
    from_dir = CNN.noise_images(tmp_path, S.settings(OPTIONS), seed=1)
    assert len(generated) == 2 and len(from_dir) == 1
    gen = torch.Generator().manual_seed(0)
    for noises in (generated, from_dir):
        for snr in (0.0, 7.5, 20.0):
            for image in images:
                window = noise_window(noises, image.shape[-1], gen)
                mixed = mix_noise(image.double(), window.double(), snr)
                clean = torch.exp(image.double())
                added = torch.exp(mixed) - clean
                measured = 10 * math.log10(float(clean.mean() / added.mean()))
                assert measured == pytest.approx(snr, abs=1e-3)
    # the hook mixes at an SNR drawn from snr_range (no shift: the image power is unchanged)
    hook = SpecAugmenter(generated, snr_range=(10, 10), noise_prob=1.0)
    mixed = hook(images.double(), torch.Generator().manual_seed(3))
    for clean, noisy in zip(images.double(), mixed, strict=True):
        added = torch.exp(noisy) - torch.exp(clean)
        assert 10 * math.log10(float(torch.exp(clean).mean() / added.mean())) == pytest.approx(
            10, abs=1e-3
        )


def test_augmentation_changes_each_epoch_and_never_touches_dev(digits, digit_features, monkeypatch):
    train = (digits["split"] == "train").to_numpy()
    X, y = digit_features.to_numpy(), digits["gender"].to_numpy()
    seen = []  # (epoch-ordered) batches in and out of the augment hook
    original = CNN.CNNClassifier.augmenter

    def spying(self, seed=0):
        hook = original(self, seed)

        def augment(batch, generator):
            out = hook(batch, generator)
            seen.append((batch.clone(), out.clone()))
            return out

        return augment

    monkeypatch.setattr(CNN.CNNClassifier, "augmenter", spying)
    model = CNN.CNNClassifier(
        channels=(4,), epochs=3, patience=None, batch_size=1000, spectra=OPTIONS,
        specaugment=True, shift_ms=50, progress=False,
    )  # fmt: skip
    model.fit(X[train], y[train], dev=(X[~train], y[~train]))
    assert len(seen) == 3  # one batch per epoch: all train rows
    train_rows = {row.tobytes() for row in X[train].astype(np.float32)}
    dev_rows = {row.tobytes() for row in X[~train].astype(np.float32)}
    per_epoch = []
    for inputs, outputs in seen:
        flat = inputs.reshape(len(inputs), -1).numpy()
        keys = [row.tobytes() for row in flat]
        assert all(k in train_rows for k in keys) and not any(k in dev_rows for k in keys)
        assert not torch.equal(inputs, outputs)
        per_epoch.append(dict(zip(keys, outputs, strict=True)))
    # the same training image is augmented differently in every epoch
    changed = [
        not torch.equal(per_epoch[0][k], per_epoch[e][k]) for k in per_epoch[0] for e in (1, 2)
    ]
    assert np.mean(changed) > 0.95


# ------------------------------------------------------------------------- the model


def _train_params(tmp_path) -> dict:
    """The train stage's params as the plan builds them from a resolved config."""
    from sauti.workflow.plan import plan_experiment

    cfg = C.resolve(
        {
            "EXP": {"name": "cnn_gender", "root": str(tmp_path / "results"), "epochs": 12},
            "DATA": {"databases": ["d"], "d": "unused.csv", "target": "gender"},
            "FEATS": {"type": ["spectra"], **OPTIONS},
            "MODEL": {
                "type": "cnn",
                "channels": [8, 16],
                "batch_size": 16,
                "learning_rate": 0.003,
                "patience": 4,
                "drop": 0.1,
                "snr_range": [10, 30],
            },
        },  # fmt: skip
        "cnn.yaml",
    )
    return plan_experiment(cfg).train.params


def test_cnn_learns_and_the_saved_bundle_reproduces_its_predictions(
    digits, digit_features, tmp_path
):
    from sauti.stages.train import train_stage

    params = _train_params(tmp_path)
    assert params["MODEL"]["type"] == "cnn" and params["feature_options"]["spectra"]["fft_nbands"]
    split_path, features_path = tmp_path / "split.parquet", tmp_path / "features.parquet"
    write_table(split_path, digits)
    write_table(features_path, pd.concat([digits[ID], digit_features], axis=1))
    out = tmp_path / "train"
    train_stage(str(split_path), [str(features_path)], params, str(out))
    predictions = read_table(out / "predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    recalls = [(test["prediction"] == test["truth"])[test["truth"] == g].mean() for g in ("female", "male")]  # fmt: skip
    assert np.mean(recalls) > 0.7, f"test UAR {np.mean(recalls):.3f} is not above chance"
    bundle = joblib.load(out / "model.joblib")
    model = bundle["model"]
    assert isinstance(model, CNN.CNNClassifier) and model.best_epoch_ >= 1
    assert len(model.history_) <= 12
    # FEATS.scale (standard by default) is not applied: the saved scaler passes values through
    X = digit_features.to_numpy()[(digits["split"] == "test").to_numpy()]
    assert np.array_equal(bundle["scaler"].transform(X), X)
    proba = model.predict_proba(bundle["scaler"].transform(X))
    assert np.allclose(proba, test[[f"proba_{c}" for c in bundle["labels"]]].to_numpy(), atol=1e-6)
    assert list(model.predict(X)) == list(test["prediction"])
