"""MODEL.type finetune: a tiny randomly initialised wav2vec2 (built here, saved with
save_pretrained, so the real from_pretrained code runs offline) fine-tuned on real demo clips.

The library runs once per task (module fixtures) and the tests check what it left behind: the
checkpoint reloads and reproduces the saved predictions, TensorBoard events exist, regression
trains with the CCC loss, and the hub/offline failures are one clear line each.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from sauti.config.resolve import resolve  # noqa: E402
from sauti.config.schema import ConfigError  # noqa: E402
from sauti.core.errors import SautiError  # noqa: E402
from sauti.ml.deep import finetune  # noqa: E402
from sauti.workflow.plan import plan_experiment  # noqa: E402

#: 2 real + 2 espeak speakers per gender: train 4, dev 2, test 2 speakers, 3 clips each.
ROLES = {
    "allison": "test",
    "carlo": "test",
    "gcin_f": "dev",
    "gcin_m": "dev",
    "espeak_en-us_f1": "train",
    "espeak_en-us_m1": "train",
    "espeak_de_f2": "train",
    "espeak_de_m2": "train",
    "june": "train",
    "menardi": "train",
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 25k-parameter wav2vec2 audio classifier and its feature extractor in a local folder."""
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForSequenceClassification,
    )

    folder = tmp_path_factory.mktemp("tiny_wav2vec2")
    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3), conv_stride=(5, 4, 4),
        num_feat_extract_layers=3, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        classifier_proj_size=16,
    )  # fmt: skip
    torch.manual_seed(0)
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def split_path(tmp_path_factory, demo_table):
    """A split table (the split stage's columns) of real demo clips, speaker-disjoint."""
    rows = demo_table[demo_table["speaker"].isin(ROLES)].groupby("speaker").head(3).copy()
    rows["split"] = rows["speaker"].map(ROLES)
    path = tmp_path_factory.mktemp("split") / "split.parquet"
    rows.reset_index(drop=True).to_parquet(path)
    return path


def params(model_folder, **model) -> dict:
    return {
        "MODEL": {
            "type": "finetune", "pretrained_model": str(model_folder), "max_duration": 2.0,
            "freeze_feature_encoder": True, "learning_rate": 1e-3, "batch_size": 4,
            "patience": None, "loss": None, "measure": None, "device": "cpu",
            "push_to_hub": False, "hub_repo": None, **model,
        },
        "type": "classification", "runs": 1, "epochs": 1, "random_seed": 7, "target": "gender",
    }  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model, split_path):
    out = tmp_path_factory.mktemp("finetune")
    info = finetune.finetune_stage(str(split_path), params(tiny_model), str(out), progress=False)
    return out, info


def test_writes_what_the_train_stage_writes(trained):
    import joblib

    out, info = trained
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert set(predictions["split"]) == {"dev", "test"}
    assert list(predictions.columns[:8]) == [
        "run", "split", "file", "start", "end", "speaker", "truth", "prediction",
    ]  # fmt: skip
    proba = predictions[["proba_female", "proba_male"]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(predictions["prediction"]) <= {"female", "male"}
    saved = json.loads((out / "info.json").read_text())
    assert saved["labels"] == ["female", "male"] and saved["type"] == "classification"
    assert saved["n"] == {"train": 18, "dev": 6, "test": 6}
    assert saved["finetune"]["best_epoch"] == 1
    # the longest clip is under the 2 s limit: inputs are padded to it, not to max_duration
    assert 1.0 <= saved["finetune"]["input_seconds"] < 2.0
    bundle = joblib.load(out / "model.joblib")
    assert bundle["finetune"]["checkpoint"] == "checkpoint" and bundle["feature_types"] == []
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["run", "epoch", "train_loss", "dev_loss", "dev_uar", "best"]
    assert (out / "curves.png").stat().st_size > 1000


def test_checkpoint_reloads_and_reproduces_the_test_predictions(trained):
    from transformers import AutoModelForAudioClassification

    from sauti.ml.bundle import load_bundle, predict

    out, _ = trained
    model = AutoModelForAudioClassification.from_pretrained(out / "checkpoint")
    assert model.config.id2label == {0: "female", 1: "male"}
    assert model.config.sauti["target"] == "gender"
    saved = pd.read_parquet(out / "predictions.parquet")
    test = saved[saved["split"] == "test"].reset_index(drop=True)
    again = predict(load_bundle(out), test[["file", "start", "end"]])  # the `sauti demo` path
    assert (again["prediction"] == test["prediction"]).all()
    assert np.allclose(again["proba_male"], test["proba_male"], atol=1e-5)


def test_tensorboard_events_are_written(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = trained
    events = list((out / "tensorboard" / "run0").glob("events.out.tfevents.*"))
    assert events
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert {"train/loss", "dev/loss", "dev/uar"} <= set(accumulator.Tags()["scalars"])


def test_regression_uses_the_ccc_loss(tiny_model, demo_table, tmp_path, monkeypatch):
    from sauti.ml.deep import loop

    chosen = []
    real_make_loss = loop.make_loss
    monkeypatch.setattr(
        loop, "make_loss", lambda name, *a: chosen.append(name) or real_make_loss(name, *a)
    )
    espeak = demo_table[demo_table["source"] == "espeak"]
    speakers = sorted(espeak["speaker"].unique())[:4]
    rows = espeak[espeak["speaker"].isin(speakers)].groupby("speaker").head(3).copy()
    rows["split"] = np.where(rows["speaker"] == speakers[0], "test", "train")
    rows.reset_index(drop=True).to_parquet(tmp_path / "split.parquet")
    config = {**params(tiny_model), "type": "regression", "target": "rate"}
    info = finetune.finetune_stage(
        str(tmp_path / "split.parquet"), config, str(tmp_path / "out"), progress=False
    )
    assert chosen == ["ccc"] and info["labels"] is None
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert "proba_" not in "".join(predictions.columns)
    # outputs come back in the target's unit (trained on z-scores): near the train mean
    assert abs(predictions["prediction"].mean() - rows["rate"].mean()) < 3 * rows["rate"].std()
    assert "dev_ccc" in pd.read_csv(tmp_path / "out" / "curves.csv").columns


def test_push_to_hub_without_a_token_stops_before_training(
    tiny_model, split_path, tmp_path, monkeypatch
):
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # no stored login either
    with pytest.raises(SautiError) as err:
        finetune.finetune_stage(
            str(split_path), params(tiny_model, push_to_hub=True), str(tmp_path), progress=False
        )
    assert "MODEL.push_to_hub" in str(err.value) and "token" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "checkpoint").exists()  # nothing was trained


def test_push_to_hub_offline_is_one_clear_line(trained, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out, _ = trained
    with pytest.raises(SautiError) as err:
        finetune.push_checkpoint(out / "checkpoint", "someone/sauti-test", "hf_not_a_token")
    message = str(err.value)
    assert message.startswith("MODEL.push_to_hub: could not push") and "\n" not in message


def test_missing_pretrained_model_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = {"MODEL": {"pretrained_model": str(tmp_path / "no_such_model")}}
    with pytest.raises(SautiError) as err:
        finetune.load_pretrained(missing, ["female", "male"])
    assert "MODEL.pretrained_model" in str(err.value) and "no_such_model" in str(err.value)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- planning


def experiment(corpus="data/demo/demo.csv", **model) -> dict:
    return resolve(
        {
            "EXP": {"name": "ft"},
            "DATA": {"databases": ["demo"], "demo": corpus, "target": "gender"},
            "MODEL": {"type": "finetune", **model},
        }
    )


def test_finetune_stage_key_ignores_features_and_classic_keys(tmp_path):
    base = plan_experiment(experiment())
    assert base.train.stage == "finetune" and base.features == []
    assert [u.stage for u in base.train.upstream] == ["split"]
    assert base.train.params["MODEL"]["pretrained_model"] == finetune.DEFAULT_MODEL
    other_feats = experiment()
    other_feats["FEATS"]["type"] = ["praat"]
    assert plan_experiment(other_feats).train.key == base.train.key
    assert plan_experiment(experiment(C_val=10.0)).train.key == base.train.key
    assert plan_experiment(experiment(max_duration=4.0)).train.key != base.train.key
    # a local folder is keyed by its absolute path; a token is never part of the key
    local = plan_experiment(experiment(pretrained_model=str(tmp_path)))
    assert local.train.params["MODEL"]["pretrained_model"] == str(tmp_path)
    push = plan_experiment(experiment(push_to_hub=True, hf_token="hf_a"))
    assert (
        push.train.key == plan_experiment(experiment(push_to_hub=True, hf_token="hf_b")).train.key
    )
    assert push.train.params["hf_token"] == "hf_a"
    assert plan_experiment(experiment(hf_token="hf_a")).train.key == base.train.key


@pytest.mark.parametrize(
    "section, key, value",
    [("DATA", "tests", ["data/demo/demo.csv"]), ("MODEL", "loso", True),
     ("AUGMENT", "augmentations", ["noise"])],
)  # fmt: skip
def test_feature_table_options_are_refused_for_finetune(section, key, value):
    cfg = experiment()
    cfg[section][key] = value
    if section == "AUGMENT":
        from sauti.config.sections.augment import resolve_augmentations

        cfg[section][key] = resolve_augmentations(value, "x")
    with pytest.raises(
        ConfigError, match=f"{section}.{key} is not supported with MODEL.type finetune"
    ):
        plan_experiment(resolve(cfg))  # refused when the config is resolved


def test_gpu_resource_only_for_a_gpu_device():
    from types import SimpleNamespace

    from sauti.workflow.registry import Registry

    for device, gpus in (("cpu", 0), ("cuda", 1), ("cuda:1", 1), ("auto", 1)):
        plan = plan_experiment(experiment(device=device))
        registry = Registry(plan.root, [plan])
        assert registry.gpu("finetune")(SimpleNamespace(key=plan.train.key)) == gpus
    with pytest.raises(ConfigError, match="MODEL.device = 'tpu' is not a device"):
        plan_experiment(experiment(device="tpu"))


def test_input_length_is_the_longest_clip_within_max_duration():
    clips = [np.zeros(8000), np.zeros(40000)]
    assert finetune.input_length(clips, 2.0) == 32000
    assert finetune.input_length(clips, 8.0) == 40000
    assert finetune.input_length([np.zeros(100)], 8.0) == finetune.MIN_SAMPLES
    assert math.isclose(finetune.input_length([], 0.5), 8000)


# --------------------------------------------------------------------------- workflow


@pytest.mark.workflow
def test_finetune_workflow_end_to_end(tmp_path, demo_dir, tiny_model):
    from workflow_support import planned_jobs, run_ok, small_table, write, write_csv

    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=3))
    cfg = {
        "EXP": {"name": "ft", "epochs": 1},
        "DATA": {
            "databases": ["small"], "small": {"path": str(corpus), "test_size": 25},
            "target": "gender", "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"]},  # irrelevant for finetune: never extracted
        "MODEL": {
            "type": "finetune", "pretrained_model": str(tiny_model), "max_duration": 2.0,
            "batch_size": 8, "learning_rate": 0.001,
        },
    }  # fmt: skip
    configfile = write(tmp_path, cfg)
    jobs = planned_jobs(tmp_path, configfile)
    assert jobs.get("finetune") == 1 and "train" not in jobs
    assert not {"features", "features_shard"} & set(jobs)
    run_ok(tmp_path, configfile, "--set-threads", "finetune=1")
    metrics = json.loads((tmp_path / "results/ft/metrics.json").read_text())
    assert metrics["type"] == "classification" and metrics["labels"] == ["female", "male"]
    assert 0.0 <= metrics["test"]["uar"] <= 1.0 and metrics["test"]["n"] > 0
    report = (tmp_path / "results/ft/report.html").read_text(encoding="utf-8")
    assert "finetune" in report and "Confusion matrix" in report
    (folder,) = (tmp_path / "results/cache/finetune").iterdir()
    assert (folder / "checkpoint" / "model.safetensors").is_file()
    assert list((folder / "tensorboard" / "run0").glob("events.out.tfevents.*"))
    # a classic-model key does not fine-tune again
    cfg["MODEL"]["C_val"] = 10.0
    assert "finetune" not in planned_jobs(tmp_path, write(tmp_path, cfg))
