"""SEPARATE: the separation corpus, the U-Net mask separator, the VAD filter, SDR, the plan, and
one run through Snakemake on real speech over real game music (sauti.stages.separate)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError
from sauti.core.audio import read
from sauti.core.errors import SautiError
from sauti.ml.separation_corpus import SNR_RANGE, assign
from sauti.stages.separate import keep_mask, load_corpus, sdr
from sauti.workflow.plan import plan_experiment

REPO = Path(__file__).resolve().parents[1]
SEPARATION_DIR = Path(os.environ.get("SAUTI_SEPARATION_DIR", REPO / "data" / "separation"))


@pytest.fixture(scope="session")
def separation_dir(demo_dir) -> Path:
    """The separation corpus (resources/demo/build_separation_corpus.sh), built if missing."""
    if not (SEPARATION_DIR / ".complete").exists():
        env = {**os.environ, "SAUTI_DEMO_DIR": str(demo_dir)}
        script = REPO / "resources/demo/build_separation_corpus.sh"
        subprocess.run(["bash", str(script), str(SEPARATION_DIR)], check=True, env=env)
    return SEPARATION_DIR.resolve()


@pytest.fixture(scope="session")
def corpus(separation_dir) -> pd.DataFrame:
    return pd.read_csv(separation_dir / "separation.csv", keep_default_na=False)


@pytest.fixture
def small_corpus(tmp_path, separation_dir, corpus) -> Path:
    """A few clips of each split, paths absolute (a CSV anywhere)."""
    parts = [corpus[corpus["split"] == s].groupby("speaker").head(n) for s, n in (("train", 2), ("unlabelled", 1), ("test", 1))]  # fmt: skip
    table = pd.concat(parts)
    for column in ("file", "voice", "background"):
        table[column] = [str(separation_dir / f) if f else "" for f in table[column]]
    path = tmp_path / "corpus.csv"
    table.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- corpus


def test_corpus_splits_are_disjoint_in_speakers_and_pieces(corpus):
    by_split = {s: corpus[corpus["split"] == s] for s in ("train", "unlabelled", "test")}
    assert all(len(t) >= 50 for t in by_split.values()), {s: len(t) for s, t in by_split.items()}
    for column in ("speaker", "piece"):
        sets = {s: set(t[column]) for s, t in by_split.items()}
        assert not sets["train"] & sets["unlabelled"]
        assert not sets["train"] & sets["test"]
        assert not sets["unlabelled"] & sets["test"]
    for split, table in by_split.items():  # music and noise in every split
        assert table["piece"].str.startswith("noise_").any(), split
        assert (~table["piece"].str.startswith("noise_")).any(), split
    # the unlabelled set has mixtures only: training can never read their clean tracks
    assert (by_split["unlabelled"][["voice", "background"]] == "").all().all()
    assert (by_split["train"][["voice", "background"]] != "").all().all()
    assert corpus["snr_db"].between(*SNR_RANGE).all()


def test_corpus_mixture_is_voice_plus_background_at_its_snr(corpus, separation_dir):
    for row in corpus[corpus["split"] == "test"].head(5).itertuples():
        mix, voice, background = (read(separation_dir / f) for f in (row.file, row.voice, row.background))  # fmt: skip
        assert len(mix) == len(voice) == 4 * 16000
        assert np.abs(mix - voice - background).max() < 3 / 32768  # 16-bit rounding only
        snr = 10 * np.log10(np.sum(voice**2) / np.sum(background**2))
        assert abs(snr - row.snr_db) < 0.05, (snr, row.snr_db)


def test_assign_deals_every_name_once_and_repeats():
    names = [f"s{i}" for i in range(10)]
    roles = assign(names, np.random.default_rng(3))
    assert sorted(roles) == names
    assert [list(roles.values()).count(r) for r in ("train", "unlabelled", "test")] == [5, 2, 3]
    assert roles == assign(names, np.random.default_rng(3))


def test_load_corpus_names_a_missing_column(tmp_path, small_corpus):
    table = pd.read_csv(small_corpus).drop(columns=["background"])
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SautiError, match="build_separation_corpus.sh"):
        load_corpus(str(tmp_path / "data" / "separation.csv"))
    with pytest.raises(SautiError, match="column 'background' is missing"):
        load_corpus(str(tmp_path / "bad.csv"))
    parts = load_corpus(str(small_corpus))
    assert (
        set(parts) == {"train", "unlabelled", "test"} and Path(parts["test"]["voice"][0]).exists()
    )


# --------------------------------------------------------------------------- model


def test_unet_mask_shape_and_range_and_voice_length():
    import torch

    from sauti.ml.deep import separator as S

    torch.manual_seed(0)
    for channels, depth in ((2, 1), (3, 3)):
        net = S.build_unet(channels, depth).eval()
        magnitude = torch.rand(2, 257, 37) * 5
        mask = net(magnitude)
        assert mask.shape == magnitude.shape
        assert float(mask.detach().min()) >= 0 and float(mask.detach().max()) <= 1
    signal = np.random.default_rng(0).standard_normal(16000 + 123).astype(np.float32)
    voice = S.separate(net, signal)
    assert voice.shape == signal.shape and np.isfinite(voice).all()


def test_training_lowers_the_loss_and_round_trips(tmp_path, small_corpus):
    from sauti.ml.deep import separator as S

    parts = load_corpus(str(small_corpus))
    voices = [read(f) for f in parts["train"]["voice"]]
    backgrounds = [read(f) for f in parts["train"]["background"]]
    settings = S.TrainSettings(steps=20, batch_size=4, segment=1.0, remix=True, seed=1)
    net, history = S.train(voices, backgrounds, {"channels": 2, "depth": 2}, settings)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5])
    S.save(net, {"channels": 2, "depth": 2}, tmp_path / "model.pt")
    mixture = read(parts["test"]["file"][0])
    again = S.separate(S.load(tmp_path / "model.pt"), mixture)
    assert np.allclose(again, S.separate(net, mixture), atol=1e-6)


def test_remix_pairs_gains_and_shifts_but_plain_batches_keep_the_pairs():
    from sauti.ml.deep.separator import batch

    rng = np.random.default_rng(0)
    voices = [np.full(1000, i + 1.0, dtype=np.float32) for i in range(3)]
    backgrounds = [np.full(1000, 10.0 * (i + 1), dtype=np.float32) for i in range(3)]
    mix, voice = batch(voices, backgrounds, 6, 800, False, rng)
    assert set(np.round(mix[:, 0] / voice[:, 0])) == {11.0}  # each voice with its own background
    mix, voice = batch(voices, backgrounds, 64, 800, True, rng)
    ratios = (mix[:, 0] - voice[:, 0]) / voice[:, 0]
    assert len(np.unique(np.round(ratios, 3))) > 10  # random pairing and SNR


# --------------------------------------------------------------------------- filter and SDR


def test_vad_filter_rule():
    params = {"min_activity": 0.1, "max_activity": 0.9, "max_difference": 0.3}
    estimate = np.array([0.05, 0.5, 0.95, 0.5, 0.5, 0.1])
    mixture = np.array([0.05, 0.6, 0.95, 0.9, 0.15, 0.35])
    # too little voice left; fine; background passed as voice; voice removed where the mixture
    # speaks; estimate speaks where the mixture does not... enough; at the bounds (inclusive)
    assert keep_mask(estimate, mixture, params).tolist() == [False, True, False, False, False, True]


def test_sdr_matches_the_bss_eval_definition(separation_dir, corpus):
    """estimate = target + noise orthogonal to it: SDR = 10 log10(|s|^2 / |e|^2)."""
    s = read(separation_dir / corpus[corpus["split"] == "test"]["voice"].iloc[0]).astype(float)
    n, rng = len(s), np.random.default_rng(0)
    freq = np.fft.rfftfreq(n, 1 / 16000)
    spectrum = np.fft.rfft(s)
    spectrum[freq > 3000] = 0  # the voice below 3 kHz, the noise above 5 kHz: orthogonal to
    s = np.fft.irfft(spectrum, n)  # every delayed copy of s, so the 512-tap filter cannot use it
    noise = np.fft.rfft(rng.standard_normal(n))
    noise[freq < 5000] = 0
    e = np.fft.irfft(noise, n)
    e *= 0.3 * np.linalg.norm(s) / np.linalg.norm(e)
    expected = 10 * np.log10(np.sum(s**2) / np.sum(e**2))
    value, scale_invariant = sdr(s, s + e)
    assert abs(value - expected) < 0.05 and abs(scale_invariant - expected) < 1e-6
    w = rng.standard_normal(n)  # orthogonal to s only: exact for SI-SDR
    w -= (w @ s) / (s @ s) * s
    w *= 0.5 * np.linalg.norm(s) / np.linalg.norm(w)
    assert abs(sdr(s, s + w)[1] - 10 * np.log10(4)) < 1e-6
    assert sdr(s, 2 * s + 2 * w)[1] == pytest.approx(sdr(s, s + w)[1])  # scale-invariant


# --------------------------------------------------------------------------- config and plan


def _cfg(demo_dir, small_corpus, **separate):
    return {
        "EXP": {"name": "sep"},
        "DATA": {"databases": ["demo"], "demo": str(demo_dir / "demo.csv"), "target": "gender"},
        "SEPARATE": {"corpus": str(small_corpus), "databases": ["demo"], **separate},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"databases": ["nope"]}, "'nope' is not one of DATA.databases"),
        (
            {"pretrained": "speechbrain/sepformer-wham16k-enhancement"},
            "corpus and pretrained are both set",
        ),  # fmt: skip
        ({"corpus": None}, "databases are listed but there is no separator"),
        ({"min_activity": 0.8, "max_activity": 0.5}, "min_activity 0.8 is above max_activity 0.5"),
        ({"device": "tpu"}, "SEPARATE.device = 'tpu' is not a device"),
    ],
)
def test_config_errors_are_one_line(demo_dir, small_corpus, change, message):
    with pytest.raises(ConfigError, match=message) as err:
        resolve(_cfg(demo_dir, small_corpus, **change))
    assert "\n" not in str(err.value).split("hint")[0].strip()


def test_plan_rounds_chain_and_data_table(demo_dir, small_corpus):
    one = plan_experiment(resolve(_cfg(demo_dir, small_corpus, rounds=1)))
    two = plan_experiment(resolve(_cfg(demo_dir, small_corpus, rounds=2)))
    assert [s.key for s in two.separation.rounds[:2]] == [s.key for s in one.separation.rounds]
    assert two.separation.rounds[2].upstream == (one.separation.rounds[1],)
    other = plan_experiment(resolve(_cfg(demo_dir, small_corpus, max_difference=0.5)))
    assert other.separation.rounds[0].key == one.separation.rounds[0].key  # teacher unchanged
    assert other.separation.rounds[1].key != one.separation.rounds[1].key
    # later stages read the separated table; the baseline reads the recordings
    assert one.data is one.separation.separate
    assert one.train.upstream[0] is one.separation.separate
    baseline_train, _ = one.separation.baseline
    assert baseline_train.upstream[0] is one.split and baseline_train.params == one.train.params
    with open(small_corpus, "a") as handle:  # a changed corpus retrains every round
        handle.write(open(small_corpus).read().splitlines()[-1] + "\n")
    again = plan_experiment(resolve(_cfg(demo_dir, small_corpus, rounds=1)))
    assert again.separation.rounds[0].key != one.separation.rounds[0].key
    scored_only = plan_experiment(resolve(_cfg(demo_dir, small_corpus, databases=[])))
    assert scored_only.separation.separate is None and scored_only.data is scored_only.split


# --------------------------------------------------------------------------- end to end


@pytest.mark.workflow
def test_workflow_separates_trains_on_voice_tracks_and_new_rounds_only(
    tmp_path, separation_dir, corpus, small_corpus
):
    """Teacher + 1 student on a small corpus; a gender classifier on the separated test
    mixtures (unseen speakers and music); then rounds 2 plans only the new round's training."""
    from workflow_support import planned_jobs, run_ok, write

    mixtures = corpus[corpus["split"] == "test"].copy()
    mixtures["file"] = [str(separation_dir / f) for f in mixtures["file"]]
    mixtures.to_csv(tmp_path / "mix.csv", index=False)
    cfg = {
        "EXP": {"name": "sep", "root": "results"},
        "DATA": {
            "databases": ["mix"], "target": "gender",
            "mix": {"path": str(tmp_path / "mix.csv"), "split_strategy": "speaker_split", "test_size": 30},
        },
        "FEATS": {"type": ["os"]}, "MODEL": {"type": "svm"}, "EXPL": {"bias": False},
        "SEPARATE": {
            "corpus": str(small_corpus), "databases": ["mix"], "rounds": 1, "steps": 40,
            "batch_size": 4, "teacher": {"channels": 2, "depth": 2},
            "student": {"channels": 3, "depth": 2}, "shards": 2,
        },
    }  # fmt: skip
    run_ok(tmp_path, write(tmp_path, cfg))
    exp = tmp_path / "results" / "sep"
    summary = json.loads((exp / "separate" / "separation.json").read_text())
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    assert rounds[1]["n_pool"] == 14 and 0 < rounds[1]["n_kept"] <= 14
    assert all(np.isfinite([r["sdr"], r["si_sdr"], r["mixture_sdr"]]).all() for r in rounds)
    assert (exp / "separate" / "sdr.png").stat().st_size > 1000
    # the classifier read voice tracks: 16 kHz wav files written by the separate stage
    cache = tmp_path / "results" / "cache"
    (separated,) = cache.glob("separate/*/separated.parquet")
    table = pd.read_parquet(separated)
    assert len(table) == len(mixtures) and (table["separated_from"] != table["file"]).all()
    info = sf.info(table["file"].iloc[0])
    assert info.samplerate == 16000 and info.channels == 1
    assert not np.allclose(read(table["file"].iloc[0]), read(table["separated_from"].iloc[0]))
    html = (exp / "report.html").read_text()
    assert 'id="separate"' in html and "without separation" in html

    more = copy.deepcopy(cfg)
    more["SEPARATE"]["rounds"] = 2
    jobs = planned_jobs(tmp_path, write(tmp_path, more, "more.yaml"))
    # one new round; the new last round re-separates, so the separated audio's features and
    # the model re-run; the recordings' features and the model without separation do not
    assert jobs == {
        "separate_train": 1, "separate_results": 1, "separate_shard": 2, "separate": 1,
        "features": 1, "train": 1, "evaluate": 1, "report": 1, "all": 1,
    }, jobs  # fmt: skip
    assert not planned_jobs(tmp_path, write(tmp_path, cfg))  # back to 1 round: all cached


# --------------------------------------------------------------------------- pretrained

#: A SepFormer of the published enhancement model's classes, shrunk to run in a test (the real
#: speechbrain/sepformer-wham16k-enhancement has 256 channels and 8-layer transformers).
TINY_SEPFORMER = """sample_rate: 16000
num_spks: 1
N_encoder_out: 16
kernel_size: 16
kernel_stride: 8
Encoder: !new:speechbrain.lobes.models.dual_path.Encoder
    kernel_size: !ref <kernel_size>
    out_channels: !ref <N_encoder_out>
SBtfintra: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: 1
    d_model: !ref <N_encoder_out>
    nhead: 2
    d_ffn: 32
    dropout: 0
    use_positional_encoding: True
    norm_before: True
SBtfinter: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: 1
    d_model: !ref <N_encoder_out>
    nhead: 2
    d_ffn: 32
    dropout: 0
    use_positional_encoding: True
    norm_before: True
MaskNet: !new:speechbrain.lobes.models.dual_path.Dual_Path_Model
    num_spks: !ref <num_spks>
    in_channels: !ref <N_encoder_out>
    out_channels: !ref <N_encoder_out>
    num_layers: 1
    K: 50
    intra_model: !ref <SBtfintra>
    inter_model: !ref <SBtfinter>
    norm: ln
    linear_layer_after_inter_intra: False
    skip_around_intra: True
Decoder: !new:speechbrain.lobes.models.dual_path.Decoder
    in_channels: !ref <N_encoder_out>
    out_channels: 1
    kernel_size: !ref <kernel_size>
    stride: !ref <kernel_stride>
    bias: False
modules:
    encoder: !ref <Encoder>
    decoder: !ref <Decoder>
    masknet: !ref <MaskNet>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <Encoder>
        masknet: !ref <MaskNet>
        decoder: !ref <Decoder>
"""


def _tiny_sepformer(folder: Path, sources: int = 1) -> Path:
    import torch
    from hyperpyyaml import load_hyperpyyaml

    text = TINY_SEPFORMER.replace("num_spks: 1", f"num_spks: {sources}")
    folder.mkdir(parents=True)
    (folder / "hyperparams.yaml").write_text(text)
    modules = load_hyperpyyaml(text)["modules"]
    for name in ("encoder", "masknet", "decoder"):
        torch.save(modules[name].state_dict(), folder / f"{name}.ckpt")
    return folder


def test_pretrained_sepformer_from_a_local_folder_and_one_line_errors(tmp_path, monkeypatch):
    from sauti.ml.deep.pretrained_separator import load_pretrained

    monkeypatch.setenv("SAUTI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    separate = load_pretrained(str(_tiny_sepformer(tmp_path / "tiny")))
    signal = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    voice = separate(signal)
    assert voice.shape == signal.shape and np.isfinite(voice).all()
    with pytest.raises(SautiError, match="separates 2 sources"):
        load_pretrained(str(_tiny_sepformer(tmp_path / "two", sources=2)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        SautiError, match="could not load the separator from the local folder"
    ) as err:
        load_pretrained(str(tmp_path / "empty"))
    assert "\n" not in str(err.value)
    with pytest.raises(SautiError, match="from the Hugging Face hub"):  # offline here
        load_pretrained("speechbrain/sepformer-wham16k-enhancement")


def test_separate_shards_and_merge_with_a_pretrained_separator(tmp_path, monkeypatch, corpus, separation_dir):  # fmt: skip
    """The separate stage's functions without Snakemake: two shards, then the merged table."""
    from sauti.core.fileio import write_table
    from sauti.stages.separate import merge_shards, separate_shard

    monkeypatch.setenv("SAUTI_CACHE_DIR", str(tmp_path / "cache"))
    rows = corpus[corpus["split"] == "test"].head(3)
    split = pd.DataFrame(
        {
            "file": [str(separation_dir / f) for f in rows["file"]] + [str(separation_dir / rows["file"].iloc[0])],  # fmt: skip
            "start": [0.0, 0.5, 1.0, 0.0], "end": [4.0, 3.0, 2.5, 4.0],
            "db": ["mix", "mix", "mix", "other"], "gender": list(rows["gender"]) + ["male"],
            "split": ["train", "train", "test", "test"],
        }
    )  # fmt: skip
    write_table(tmp_path / "split.parquet", split)
    params = {"databases": ["mix"], "pretrained": str(_tiny_sepformer(tmp_path / "tiny")), "device": "cpu"}  # fmt: skip
    out = tmp_path / "separate"
    shards = [str(out / f"shard-{i}-of-2.parquet") for i in range(2)]
    for i, path in enumerate(shards):
        separate_shard(str(tmp_path / "split.parquet"), None, params, i, 2, path)
    merge_shards(str(tmp_path / "split.parquet"), shards, params, str(out))
    table = pd.read_parquet(out / "separated.parquet")
    assert list(table["separated_from"]) == list(split["file"])
    assert list(table["separated_from_start"]) == [0.0, 0.5, 1.0, 0.0]
    assert (table.loc[:2, "start"] == 0).all()
    assert table.loc[:2, "end"].round(3).tolist() == [4.0, 2.5, 1.5]  # the clip's own length
    assert table.loc[3, "file"] == split.loc[3, "file"]  # another database: unchanged
    for path in table.loc[:2, "file"]:
        assert Path(path).parent == out / "wav" and sf.info(path).samplerate == 16000
    assert json.loads((out / "separate.json").read_text())["separated"] == 3


def test_segment_after_separation_reads_the_separated_table(demo_dir, small_corpus):
    from sauti.stages.segment import Rules as SegmentInputs
    from sauti.workflow.registry import Registry

    cfg = _cfg(demo_dir, small_corpus)
    cfg["SEGMENT"] = {"databases": ["demo"], "min_length": 0.5}
    plan = plan_experiment(resolve(cfg))
    assert plan.segment.upstream[0] is plan.separation.separate and plan.data is plan.segment
    assert plan.separation.baseline == ()  # the model reads segments: no like-for-like baseline
    path = SegmentInputs(Registry(plan.root, [plan])).split(type("W", (), {"key": plan.segment.key}))  # fmt: skip
    assert path.endswith(f"cache/separate/{plan.separation.separate.key}/separated.parquet")
