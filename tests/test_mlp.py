"""MODEL.type mlp / mlp_reg on eGeMAPS features of the real demo corpus.

The features are extracted once per module (about 5 s); every network is tiny and trains for at
most a few dozen epochs on one thread, so the whole file stays well under a minute of training.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from sauti.config.resolve import resolve  # noqa: E402
from sauti.config.schema import ConfigError  # noqa: E402
from sauti.core.errors import SautiError  # noqa: E402
from sauti.core.fileio import write_table  # noqa: E402
from sauti.ml import metrics as M  # noqa: E402
from sauti.ml.data import ID  # noqa: E402
from sauti.ml.deep.mlp import TorchMLPClassifier, TorchMLPRegressor, validation_rows  # noqa: E402
from sauti.ml.features import extract  # noqa: E402
from sauti.ml.models import make_model  # noqa: E402
from sauti.ml.training import train_runs  # noqa: E402
from sauti.stages.train import train_stage  # noqa: E402

LABELS = ["female", "male"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores; also keeps CPU results bit-identical
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def os_table(demo_table) -> pd.DataFrame:
    """Up to 6 clips of every demo speaker (about 300) + their eGeMAPSv02 functionals (os_*)."""
    table = demo_table.groupby("speaker").head(6).reset_index(drop=True)
    feats = extract("os", table[ID], {"set": "eGeMAPSv02", "level": "functionals"}, False)
    return pd.concat([table, feats], axis=1)


def feature_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.startswith("os_")]


def with_split(table: pd.DataFrame, dev: bool, seed: int = 3) -> pd.DataFrame:
    """Speaker-disjoint split: about 25 % of the speakers test, 15 % dev (when asked), rest train."""
    speakers = np.random.default_rng(seed).permutation(sorted(table["speaker"].unique()))
    n = len(speakers)
    test, devs = (
        set(speakers[: n // 4]),
        set(speakers[n // 4 : n // 4 + (n * 15 // 100 if dev else 0)]),
    )
    split = np.where(
        table["speaker"].isin(test), "test", np.where(table["speaker"].isin(devs), "dev", "train")
    )
    return table.assign(split=split)


def params(task: str = "classification", runs: int = 1, epochs: int = 40, **model) -> dict:
    """The train stage's params (what plan.py hands the rule), MODEL defaults as in the schema."""
    return {
        "MODEL": {
            "type": "mlp" if task == "classification" else "mlp_reg",
            "layers": {"l1": 32, "l2": 16},
            "drop": 0.1,
            "activation": "relu",
            "batch_size": 16,
            "learning_rate": 0.001,
            "optimizer": "adam",
            "patience": 5,
            "loss": None,
            "measure": None,
            "device": "cpu",
            "validation_share": 0.2,
            "class_weight": False,
            **model,
        },
        "type": task,
        "runs": runs,
        "epochs": epochs,
        "random_seed": 7,
        "scale": "standard",
        "balancing": "none",
        "target": "gender" if task == "classification" else "rate",
        "feature_types": ["os"],
        "feature_options": {"os": {"set": "eGeMAPSv02", "level": "functionals"}},
    }


def scores(predictions: pd.DataFrame, split: str, task: str = "classification") -> dict:
    rows = predictions[(predictions["run"] == 0) & (predictions["split"] == split)]
    if task == "classification":
        return M.classification_metrics(rows["truth"], rows["prediction"], LABELS)
    return M.regression_metrics(rows["truth"].astype(float), rows["prediction"].astype(float))


# ------------------------------------------------------------------------------- learning


def test_mlp_learns_gender_with_early_stopping_on_dev(os_table):
    data = with_split(os_table, dev=True)
    result = train_runs(data, data[feature_columns(data)], params())
    assert scores(result["predictions"], "test")["uar"] > 0.8  # chance is 0.5
    assert scores(result["predictions"], "dev")["uar"] > 0.8
    model = result["bundle"]["model"]
    assert list(model.classes_) == LABELS
    assert model.history_["best"].sum() == 1 and "dev_uar" in model.history_


def test_mlp_reg_learns_the_espeak_speaking_rate(os_table):
    """Two speaker splits: with 10 test speakers one split's CCC varies a lot (0.3 to 0.9)."""
    espeak = os_table[os_table["source"] == "espeak"].reset_index(drop=True)
    cccs = []
    for seed in (3, 4):
        data = with_split(espeak, dev=False, seed=seed)  # no dev: held-out train speakers
        result = train_runs(data, data[feature_columns(data)], params("regression"))
        cccs.append(scores(result["predictions"], "test", "regression")["ccc"])
        # targets are standardised inside the model but predicted in words per minute
        preds = result["predictions"]["prediction"]
        assert abs(preds.mean() - espeak["rate"].mean()) < espeak["rate"].std()
    assert min(cccs) > 0.1 and np.mean(cccs) > 0.4, cccs


def test_early_stopping_stops_and_keeps_the_best_epoch(os_table):
    data = with_split(os_table, dev=True)
    cols = feature_columns(data)
    mean, std = (
        data.loc[data.split == "train", cols].mean(),
        data.loc[data.split == "train", cols].std(),
    )
    X = {s: ((data.loc[data.split == s, cols] - mean) / std).to_numpy() for s in ("train", "dev")}
    y = {s: data.loc[data.split == s, "gender"].to_numpy() for s in ("train", "dev")}
    model = TorchMLPClassifier(
        layers=[32], learning_rate=0.01, epochs=200, patience=2, random_state=1, progress=False
    ).fit(X["train"], y["train"], dev=(X["dev"], y["dev"]))
    history = model.history_
    assert len(history) < 200, "a stalled dev UAR must stop training long before 200 epochs"
    best = history.loc[history["best"], "epoch"].item()
    assert history["epoch"].iloc[-1] == best + 2  # exactly `patience` epochs without progress
    assert history.loc[history["best"], "dev_uar"].item() == history["dev_uar"].max()
    # the returned model is the best epoch's, not the last one's
    dev_uar = M.classification_metrics(y["dev"], model.predict(X["dev"]), LABELS)["uar"]
    assert dev_uar == pytest.approx(history["dev_uar"].max())


def test_validation_rows_hold_out_whole_speakers_of_both_classes(os_table):
    train = with_split(os_table, dev=False).query("split == 'train'")
    held = validation_rows(train["gender"], train["speaker"], 0.2, seed=0, classification=True)
    inside, outside = set(train["speaker"][held]), set(train["speaker"][~held])
    assert inside and not inside & outside
    assert set(train["gender"][held]) == set(LABELS)
    assert 0.1 < held.mean() < 0.35
    assert validation_rows(["a", "b"], ["s1", "s1"], 0.2, 0, True) is None  # one speaker


# ----------------------------------------------------------------- repeatability and bundle


def test_same_seed_same_predictions_other_seed_differs(os_table):
    data = with_split(os_table, dev=True)
    features = data[feature_columns(data)]
    first = train_runs(data, features, params(epochs=8, patience=0))["predictions"]
    again = train_runs(data, features, params(epochs=8, patience=0))["predictions"]
    pd.testing.assert_frame_equal(first, again)
    other = params(epochs=8, patience=0)
    other["random_seed"] = 8
    moved = train_runs(data, features, other)["predictions"]
    assert not np.allclose(first["proba_male"], moved["proba_male"])


def test_saved_bundle_reproduces_the_reported_test_predictions(os_table, tmp_path):
    """The train stage as the rule runs it: the bundle on disk, reloaded, gives the same numbers."""
    from sauti.ml.bundle import predict_features

    data = with_split(os_table, dev=False)
    cols = feature_columns(data)
    write_table(tmp_path / "split.parquet", data.drop(columns=cols))
    write_table(tmp_path / "features.parquet", data[ID + cols])
    out = tmp_path / "train"
    out.mkdir()
    train_stage(
        str(tmp_path / "split.parquet"),
        [str(tmp_path / "features.parquet")],
        params(runs=2),
        str(out),
    )
    info = json.loads((out / "info.json").read_text())
    assert info["curves"]["file"] == "curves.png" and info["curves"]["best_epoch"] >= 1
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["epoch", "train_loss", "dev_loss", "dev_uar", "best"]
    assert len(curves) == info["curves"]["epochs"]

    bundle = joblib.load(out / "model.joblib")
    assert all(
        isinstance(v, np.ndarray) for v in bundle["model"].state_.values()
    )  # no CUDA tensors
    reported = pd.read_parquet(out / "predictions.parquet").query("run == 0 and split == 'test'")
    test = data[data["split"] == "test"]
    pred, proba = predict_features(bundle, test[cols], test["speaker"].to_numpy())
    assert list(pred) == list(reported["prediction"])
    np.testing.assert_allclose(proba[:, 1], reported["proba_male"], rtol=0, atol=1e-7)
    assert M.classification_metrics(test["gender"], pred, LABELS) == scores(
        reported.assign(run=0), "test"
    )


# ------------------------------------------------------------------------------- errors


def resolved(**model) -> dict:
    return resolve(
        {
            "EXP": {"name": "t"},
            "DATA": {"databases": ["d"], "d": "d.csv", "target": "gender"},
            "MODEL": {"type": "mlp", **model},
        },
        "exp.yaml",
    )


def test_bad_device_is_one_config_error_line():
    with pytest.raises(ConfigError) as err:
        resolved(device="tpu")
    text = str(err.value)
    assert text.startswith("exp.yaml: [MODEL] MODEL.device = 'tpu' is not a device")
    assert "cuda:N" in text and "\n" not in text
    assert resolved(device="cuda:1")["MODEL"]["device"] == "cuda:1"


def test_loss_that_does_not_fit_the_task_is_a_config_error():
    with pytest.raises(ConfigError, match=r"MODEL.loss = 'mse' does not fit a classification task"):
        resolved(loss="mse")
    with pytest.raises(ConfigError, match=r"MODEL.measure = 'ccc' does not fit a classification"):
        resolved(measure="ccc")
    assert resolved(loss="weighted cross")["MODEL"]["loss"] == "weighted cross"


def test_nkululeko_ini_keys_build_the_network_they_describe():
    from sauti.config.read import parse_ini

    ini = (
        "[EXP]\nname = e\nepochs = 20\n[DATA]\ndatabases = ['a']\na = a.csv\ntarget = gender\n"
        "[MODEL]\ntype = mlp\nlayers = {'l2': 32, 'l10': 4, 'l1': 128}\ndrop = 0.2\n"
        "loss = weighted cross\nactivation = tanh\npatience = 3\n"
    )
    cfg = resolve(parse_ini(ini), "e.ini")
    model = make_model(cfg["MODEL"], "classification", 1)
    assert (model.loss, model.patience, model.drop) == ("weighted_cross", 3, 0.2)
    model.n_features_in_, model.classes_ = 88, np.array(LABELS)
    linear = [m for m in model._network(torch) if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linear] == [128, 32, 4, 2]  # l1, l2, l10: by number
    assert any(isinstance(m, torch.nn.Tanh) for m in model._network(torch))


def test_cuda_on_a_machine_without_gpu_is_a_clear_error(os_table):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    model = TorchMLPClassifier(device="cuda", epochs=1, progress=False)
    X = os_table[feature_columns(os_table)].to_numpy()[:20]
    with pytest.raises(SautiError, match=r"MODEL.device = 'cuda' but no CUDA GPU is visible"):
        model.fit(X, os_table["gender"].to_numpy()[:20])


def test_mlp_without_torch_names_the_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(
        SautiError, match=r"MODEL.type = mlp needs torch.*pip install -e '.\[deep\]'"
    ):
        make_model({"type": "mlp"}, "classification", 0)


def test_regression_model_in_a_classification_run_is_refused():
    with pytest.raises(
        SautiError, match=r"'mlp_reg' is a regressor but EXP.type is classification"
    ):
        make_model({"type": "mlp_reg"}, "classification", 0)
    assert isinstance(make_model({"type": "mlp_reg"}, "regression", 0), TorchMLPRegressor)


def test_train_job_declares_a_gpu_only_for_a_gpu_device(tmp_path):
    from sauti.workflow.plan import plan_experiment
    from sauti.workflow.registry import Registry

    csv = tmp_path / "d.csv"
    csv.write_text("file,speaker,gender\na.wav,s,female\n")
    for device, gpus in (("cpu", 0), ("cuda", 1), ("gpu", 1), ("auto", 1)):
        cfg = resolve(
            {
                "EXP": {"name": "t", "root": str(tmp_path / "results")},
                "DATA": {"databases": ["d"], "d": str(csv), "target": "gender"},
                "MODEL": {"type": "mlp", "device": device},
            }
        )
        plan = plan_experiment(cfg)
        registry = Registry(plan.root, [plan])
        assert registry.gpu("train")(SimpleNamespace(key=plan.train.key)) == gpus, device


# ----------------------------------------------------------------------------- workflow


@pytest.mark.workflow
def test_mlp_experiment_end_to_end(tmp_path, demo_dir):
    from workflow_support import run_ok, small_table, write, write_csv

    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=4))
    cfg = {
        "EXP": {"name": "mlp", "epochs": 15},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": LABELS,
        },
        "FEATS": {"type": ["os"], "scale": "standard"},
        "MODEL": {"type": "mlp", "learning_rate": 0.001, "patience": 3, "layers": [16]},
    }
    run_ok(tmp_path, write(tmp_path, cfg))
    exp = Path(tmp_path) / "results" / "mlp"
    metrics = json.loads((exp / "metrics.json").read_text())
    assert metrics["type"] == "classification" and metrics["test"]["uar"] > 0.5
    assert (exp / "images" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Training curves of run 0" in (exp / "report.html").read_text()
    curves = list((Path(tmp_path) / "results" / "cache" / "train").glob("*/curves.csv"))
    assert len(curves) == 1 and len(pd.read_csv(curves[0])) <= 15
