"""Embedding feature kinds (sauti.ml.features.embeddings) on real demo audio.

No weights can be downloaded here, so every transformers kind is tested with a tiny randomly
initialised model built from a config and saved with save_pretrained: the real
`from_pretrained(folder)` path runs, and so do the feature extractor, batching, masking and
pooling. The numbers mean nothing, but their shapes, determinism and batch-invariance do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from sauti.core.errors import SautiError  # noqa: E402
from sauti.ml.features import extract  # noqa: E402

torch.set_num_threads(1)

SSL_ENCODER = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(32, 32),
    conv_stride=(5, 4),
    conv_kernel=(10, 8),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)


def _save(model, extractor, folder: Path) -> str:
    torch.manual_seed(0)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return str(folder)


def tiny_model(kind: str, folder: Path, mask: bool = False) -> str:
    """A randomly initialised model of `kind`'s architecture with 2 small layers, on disk."""
    torch.manual_seed(0)
    T = transformers
    if kind in ("wav2vec2", "hubert", "wavlm"):
        config_cls, model_cls = {
            "wav2vec2": (T.Wav2Vec2Config, T.Wav2Vec2Model),
            "hubert": (T.HubertConfig, T.HubertModel),
            "wavlm": (T.WavLMConfig, T.WavLMModel),
        }[kind]
        extra = {"feat_extract_norm": "layer", "do_stable_layer_norm": True} if mask else {}
        model = model_cls(config_cls(**SSL_ENCODER, **extra))
        extractor = T.Wav2Vec2FeatureExtractor(return_attention_mask=mask, do_normalize=True)
    elif kind == "whisper":
        config = T.WhisperConfig(
            d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
            max_source_positions=200, max_target_positions=16, vocab_size=64, pad_token_id=0,
            bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        )  # fmt: skip
        model = T.WhisperModel(config)
        extractor = T.WhisperFeatureExtractor(chunk_length=4)  # 400 frames = 2 * 200 positions
    elif kind == "ast":
        model = T.ASTModel(
            T.ASTConfig(
                hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                max_length=128, num_mel_bins=64,
            )
        )  # fmt: skip
        extractor = T.ASTFeatureExtractor(max_length=128, num_mel_bins=64)
    elif kind == "clap":
        model = T.ClapModel(
            T.ClapConfig(
                text_config=dict(
                    hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, vocab_size=64,
                ),
                audio_config=dict(
                    hidden_size=32, patch_embeds_hidden_size=16, depths=[1, 1],
                    num_attention_heads=[2, 2], window_size=8, projection_dim=16,
                ),
                projection_dim=16,
            )
        )  # fmt: skip
        extractor = T.ClapFeatureExtractor(max_length_s=2, truncation="rand_trunc")
    else:
        raise ValueError(kind)
    return _save(model.eval(), extractor, folder)


TRANSFORMER_KINDS = ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap")
HIDDEN = {"wav2vec2": 32, "hubert": 32, "wavlm": 32, "whisper": 32, "ast": 32, "clap": 32}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tiny_models")
    built = {kind: tiny_model(kind, root / kind) for kind in TRANSFORMER_KINDS}
    built["wav2vec2_mask"] = tiny_model("wav2vec2", root / "wav2vec2_mask", mask=True)
    return built


@pytest.fixture(scope="module")
def clips(small_samples):
    """5 real clips of different lengths (different speakers) from the demo corpus."""
    return small_samples.iloc[[0, 3, 6, 12, 18]][["file", "start", "end"]].reset_index(drop=True)


def _params(kind: str, model: str, **options) -> dict:
    return {f"{kind}.model": model, **{f"{kind}.{k}": v for k, v in options.items()}}


@pytest.mark.parametrize("kind", TRANSFORMER_KINDS)
def test_transformer_kind_shapes_layers_batching(kind, models, clips):
    lengths = {round(float(e - s), 3) for s, e in zip(clips["start"], clips["end"], strict=True)}
    assert len(lengths) > 1  # padding really happens in a batch
    batched = extract(kind, clips, _params(kind, models[kind], batch_size=4), progress=False)
    dim = HIDDEN[kind]
    assert list(batched.columns) == [f"{kind}_mean_{i}" for i in range(dim)]
    assert len(batched) == len(clips) and np.isfinite(batched.to_numpy()).all()
    assert batched.to_numpy().std(axis=0).max() > 0  # clips differ
    single = extract(kind, clips, _params(kind, models[kind], batch_size=1), progress=False)
    np.testing.assert_allclose(batched.to_numpy(), single.to_numpy(), rtol=1e-4, atol=1e-4)
    again = extract(kind, clips, _params(kind, models[kind], batch_size=4), progress=False)
    np.testing.assert_array_equal(batched.to_numpy(), again.to_numpy())
    first = extract(kind, clips, _params(kind, models[kind], layer=1), progress=False)
    assert not np.allclose(first.to_numpy(), batched.to_numpy())
    with_std = extract(kind, clips[:2], _params(kind, models[kind], pooling="mean_std"), False)
    assert list(with_std.columns[dim:]) == [f"{kind}_std_{i}" for i in range(dim)]
    np.testing.assert_allclose(
        with_std.iloc[:, :dim].to_numpy(), single.iloc[:2].to_numpy(), rtol=1e-4, atol=1e-4
    )
    assert (with_std.iloc[:, dim:].to_numpy() >= 0).all()


def test_attention_mask_model_batches_padded_clips(models, clips):
    """A model trained with attention masks gets padded batches; results match one by one."""
    from sauti.ml.features.embeddings import _batches

    signals = {i: np.zeros(n) for i, n in enumerate([100, 200, 100, 300])}
    assert _batches(signals, 4, equal_lengths=False) == [[3, 1, 0, 2]]
    assert _batches(signals, 4, equal_lengths=True) == [[3], [1], [0, 2]]
    path = models["wav2vec2_mask"]
    batched = extract("wav2vec2", clips, _params("wav2vec2", path, batch_size=5), progress=False)
    single = extract("wav2vec2", clips, _params("wav2vec2", path, batch_size=1), progress=False)
    np.testing.assert_allclose(batched.to_numpy(), single.to_numpy(), rtol=1e-4, atol=1e-4)


def test_bad_layer_and_missing_model_are_one_line(models, clips, tmp_path):
    with pytest.raises(SautiError, match=r"FEATS\.wav2vec2\.layer = 7: .* 3 hidden states"):
        extract("wav2vec2", clips[:1], _params("wav2vec2", models["wav2vec2"], layer=7), False)
    missing = tmp_path / "no_such_model"
    with pytest.raises(SautiError) as err:
        extract("hubert", clips[:1], _params("hubert", str(missing)), progress=False)
    assert "FEATS.hubert.model" in str(err.value) and "no_such_model" in str(err.value)
    assert "\n" not in str(err.value).strip()


def test_offline_hub_name_is_one_line(clips, monkeypatch):
    import huggingface_hub.constants

    # the constant is read when huggingface_hub is imported, so the env alone can be too late;
    # without it the hub lookup waits for network timeouts (~45 s) before failing the same way
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SautiError) as err:
        # a bare Nkululeko-style name gets the type's organisation: facebook/<name>
        extract("wavlm", clips[:1], _params("wavlm", "wavlm-base-plus-sauti-test"), False)
    message = str(err.value)
    assert "FEATS.wavlm.model" in message and "microsoft/wavlm-base-plus-sauti-test" in message
    assert "\n" not in message.strip()


def test_bad_options_are_one_line(models, clips):
    with pytest.raises(SautiError, match=r"FEATS\.ast\.pooling = 'max'"):
        extract("ast", clips[:1], _params("ast", models["ast"], pooling="max"), False)
    with pytest.raises(SautiError, match=r"FEATS\.ast\.device = 'tpu'"):
        extract("ast", clips[:1], _params("ast", models["ast"], device="tpu"), False)


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_spkrec_resemblyzer_same_speaker_closer(demo_table):
    """Real speakers: clips of one speaker are closer to each other than to another speaker's."""
    speakers = ["allison", "carlo", "gcin_f", "gcin_m"]
    rows = demo_table[demo_table["speaker"].isin(speakers)].groupby("speaker").head(3)
    rows = rows.reset_index(drop=True)
    table = extract("spkrec", rows[["file", "start", "end"]], {}, progress=False)
    assert list(table.columns) == [f"spkrec_{i}" for i in range(256)]
    vectors = table.to_numpy()
    same, other = [], []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            close = _cosine(vectors[i], vectors[j])
            (same if rows["speaker"][i] == rows["speaker"][j] else other).append(close)
    assert np.mean(same) > np.mean(other) + 0.05
    # per speaker: its own clips are on average closer than any other speaker's
    for speaker in speakers:
        mine = np.flatnonzero(rows["speaker"] == speaker)
        centroid = vectors[mine].mean(axis=0)
        others = {
            s: _cosine(centroid, vectors[rows["speaker"] == s].mean(axis=0))
            for s in speakers
            if s != speaker
        }
        own = np.mean([_cosine(vectors[i], vectors[j]) for i in mine for j in mine if i < j])
        assert own > max(others.values()) - 0.05, (speaker, own, others)


def test_spkrec_speechbrain_missing_folder_is_one_line(clips, tmp_path):
    folder = tmp_path / "ecapa"
    folder.mkdir()  # a folder without hyperparams.yaml
    with pytest.raises(SautiError) as err:
        extract("spkrec", clips[:1], {"spkrec.model": str(folder)}, progress=False)
    message = str(err.value)
    assert "FEATS.spkrec.model" in message and "local folder" in message
    assert "\n" not in message.strip()


# -- plan, registry and workflow ------------------------------------------------------------------


def _experiment(corpus: Path, name: str = "emb", **feats) -> dict:
    return {
        "EXP": {"name": name, "shards": 2},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["wav2vec2"], **feats},
        "MODEL": {"type": "svm"},
        "EXPL": {"bias": False},
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, demo_dir) -> Path:
    from workflow_support import small_table, write_csv

    return write_csv(tmp_path_factory.mktemp("corpus"), small_table(demo_dir))


def _registry(tmp_path: Path, cfg: dict, name: str):
    from workflow_support import write

    from sauti.workflow.registry import registry_from_files

    return registry_from_files([str(write(tmp_path, cfg, name))])


def test_device_and_batch_size_stay_out_of_the_key(tmp_path, corpus, models):
    from types import SimpleNamespace

    from sauti.config.schema import ConfigError

    base = {"wav2vec2.model": models["wav2vec2"]}
    cpu = _registry(tmp_path, _experiment(corpus, **base), "cpu.yaml")
    gpu = _registry(
        tmp_path,
        _experiment(corpus, **base, **{"wav2vec2.device": "cuda:0", "wav2vec2.batch_size": 2}),
        "gpu.yaml",
    )
    layer = _registry(tmp_path, _experiment(corpus, **base, **{"wav2vec2.layer": 1}), "l1.yaml")
    keys = [r.plans[0].features[0].key for r in (cpu, gpu, layer)]
    assert keys[0] == keys[1] != keys[2]
    w = SimpleNamespace(key=keys[0], shard="0", n="2")  # a shard job (EXP.shards 2)
    assert cpu.features_gpu(w) == 0 and gpu.features_gpu(w) == 1
    assert gpu.features_gpu(SimpleNamespace(key=keys[0])) == 0  # the merge job needs no GPU
    assert gpu.features_run(w) == {"wav2vec2.device": "cuda:0", "wav2vec2.batch_size": 2}
    assert cpu.plans[0].features[0].params["wav2vec2.model"] == models["wav2vec2"]
    with pytest.raises(ConfigError, match=r"FEATS\.wav2vec2\.device = 'tpu' is not a device"):
        _registry(tmp_path, _experiment(corpus, **{"wav2vec2.device": "tpu"}), "bad.yaml")


@pytest.mark.workflow
def test_workflow_wav2vec2_svm_end_to_end(tmp_path, corpus, models):
    """snakemake with a tiny local wav2vec2 + svm; a new classifier reuses the embeddings."""
    import json

    import pandas as pd
    from workflow_support import planned_jobs, run_ok, write

    local = {"wav2vec2.model": models["wav2vec2_mask"], "wav2vec2.batch_size": 4}
    configfile = write(tmp_path, _experiment(corpus, **local))
    run_ok(tmp_path, configfile)
    metrics = json.loads((tmp_path / "results/emb/metrics.json").read_text())
    assert metrics["test"]["n"] > 0 and 0 <= metrics["test"]["uar"] <= 1
    features = list((tmp_path / "results/cache/features").glob("*/features.parquet"))
    assert len(features) == 1
    table = pd.read_parquet(features[0])
    assert [c for c in table.columns if c.startswith("wav2vec2_")] == [
        f"wav2vec2_mean_{i}" for i in range(32)
    ]
    knn = _experiment(corpus, **local)
    knn["MODEL"] = {"type": "knn"}
    assert set(planned_jobs(tmp_path, write(tmp_path, knn, "knn.yaml"))) == {
        "train",
        "evaluate",
        "report",
        "all",
    }
    faster = _experiment(corpus, **{**local, "wav2vec2.batch_size": 1})
    assert not {"features", "features_shard"} & set(
        planned_jobs(tmp_path, write(tmp_path, faster, "b1.yaml"))
    )
    deeper = _experiment(corpus, **{**local, "wav2vec2.layer": 1})
    jobs = planned_jobs(tmp_path, write(tmp_path, deeper, "layer1.yaml"))
    assert jobs["features_shard"] == 2 and jobs["features"] == 1 and "samples" not in jobs
