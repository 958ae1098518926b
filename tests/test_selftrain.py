"""SELFTRAIN: the filter, pseudo-label accuracy, noise, config checks, keys, and the workflow.

The end-to-end test runs config/examples/demo_selftrain.yaml's setting on real speech (gender
from eGeMAPS, 4 labelled espeak voices, 200 unlabelled clips) and pins its claim: the noisy
student beats the teacher on the test split, and raising `rounds` plans only the new round.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml
from workflow_support import planned_jobs, run_ok, write

from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError
from sauti.core import audio
from sauti.stages import selftrain
from sauti.workflow.plan import plan_experiment


def pool(confidence, speech_ratio, truth=None, pseudo=None) -> pd.DataFrame:
    n = len(confidence)
    return pd.DataFrame(
        {
            "file": [f"f{i}.wav" for i in range(n)],
            "confidence": confidence,
            "speech_ratio": speech_ratio,
            "truth": truth if truth is not None else [np.nan] * n,
            "pseudo": pseudo if pseudo is not None else ["a"] * n,
        }
    )


def test_select_keeps_the_top_share_of_vad_passing_rows():
    table = pool(
        confidence=[0.9, 0.6, 0.99, 0.7, 0.8, 0.55, 0.95, 0.65],
        speech_ratio=[0.5, 0.5, 0.05, 0.6, 0.4, 0.3, 0.7, 0.8],
    )
    # row 2 (the most confident) has almost no speech: it never passes; 7 rows remain
    kept = selftrain.select(table, keep=0.5, vad_threshold=0.1)
    # half of 7 rounds to 4: the four most confident of the rest
    assert list(np.flatnonzero(kept)) == [0, 3, 4, 6]


def test_select_counts_exactly():
    conf = np.linspace(0.5, 1.0, 20)
    table = pool(conf, [1.0] * 20)
    for keep, n in ((0.25, 5), (0.5, 10), (1.0, 20), (0.01, 0)):
        kept = selftrain.select(table, keep, 0.0)
        assert kept.sum() == n
        assert set(np.flatnonzero(kept)) == set(range(20 - n, 20))  # the most confident
    low_vad = table.assign(speech_ratio=[0.0] * 10 + [1.0] * 10)
    kept = selftrain.select(low_vad, 1.0, 0.5)
    assert list(np.flatnonzero(kept)) == list(range(10, 20))


def test_pseudo_label_accuracy_uses_only_known_labels():
    table = pool(
        confidence=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        speech_ratio=[1.0] * 6,
        truth=["f", "m", "f", np.nan, "child", "m"],
        pseudo=["f", "f", "f", "m", "m", "m"],
    )
    table["kept"] = [True, True, False, True, True, False]
    quality = selftrain.pseudo_quality(table, "classification", ["f", "m"])
    assert quality["n_with_truth"] == 4  # NaN and the unknown label 'child' are left out
    assert quality["all"] == {"accuracy": 0.75, "n": 4}  # rows 0, 2, 5 right; row 1 wrong
    assert quality["kept"] == {"accuracy": 0.5, "n": 2}  # rows 0 (right) and 1 (wrong)
    regression = table.assign(truth=[1.0, 2.0, 3.0, np.nan, 5.0, 6.0], pseudo=[1.0, 2.0, 3.0, 9.0, 5.0, 6.0])  # fmt: skip
    quality = selftrain.pseudo_quality(regression, "regression", None)
    assert quality["all"]["ccc"] == pytest.approx(1.0) and quality["all"]["n"] == 5


def test_proba_confidence_is_the_probability_of_the_teachers_own_label():
    """An svm labels by its decision function, which near the margin may disagree with the
    argmax of its Platt probabilities: the confidence must then be the (lower) probability of
    the label it gave, not the probability of another class."""
    from sklearn.datasets import make_classification

    X, codes = make_classification(
        n_samples=200, n_features=4, n_informative=2, n_redundant=0, weights=[0.8, 0.2],
        class_sep=0.5, flip_y=0.05, random_state=5,
    )  # fmt: skip
    X, y = pd.DataFrame(X), np.array(["a", "b"])[codes]
    params = {"scale": "standard", "balancing": "none", "type": "classification"}
    model_cfg = {"type": "svm", "C_val": 1.0, "kernel": "rbf", "gamma": "scale"}
    teacher = selftrain.fit(X[:150], y[:150], ["s"] * 150, model_cfg, params, 0, ["a", "b"])
    pool_X = X[150:]
    pseudo, conf = selftrain.confidence(teacher, pool_X, ["s"] * 50, "proba", None, {}, 0)
    proba = teacher.predict(pool_X, ["s"] * 50)[1]
    own = proba[np.arange(50), (np.asarray(pseudo) == "b").astype(int)]
    np.testing.assert_allclose(conf, own)
    assert (conf < proba.max(axis=1)).any()  # this data has margin cases where they differ


def test_noise_is_scaled_to_each_feature():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(0, 1, 500), "b": rng.normal(0, 100, 500), "c": 3.0})
    Xn, yn = selftrain.add_noise(X, np.arange(500), 0.1, 2, seed=1)
    assert Xn.shape == (1500, 3) and list(yn[:500]) == list(yn[500:1000])
    diff = Xn.iloc[500:1000].to_numpy() - X.to_numpy()
    assert diff[:, 0].std() == pytest.approx(0.1 * X["a"].std(), rel=0.15)
    assert diff[:, 1].std() == pytest.approx(0.1 * X["b"].std(), rel=0.15)
    assert np.all(diff[:, 2] == 0)  # a constant feature gets no noise
    assert selftrain.add_noise(X, np.arange(500), 0.0, 2, 1)[0] is X


def test_vad_stage_and_filter_drop_clips_without_speech(tmp_path, demo_table):
    """Real speech passes the VAD filter; silence and low hiss (same length) do not."""
    real = demo_table[demo_table["source"] == "real"].head(3)
    rng = np.random.default_rng(0)
    files = []
    for name, signal in (
        ("silence", np.zeros(audio.SAMPLE_RATE, np.float32)),
        ("hiss", (rng.normal(size=audio.SAMPLE_RATE) * 0.003).astype(np.float32)),
    ):
        soundfile.write(tmp_path / f"{name}.wav", signal, audio.SAMPLE_RATE)
        files.append(str(tmp_path / f"{name}.wav"))
    samples = pd.DataFrame(
        {"file": [*real["file"], *files], "start": 0.0, "end": [*real["end"], 1.0, 1.0]}
    )
    samples.to_parquet(tmp_path / "samples.parquet")
    selftrain.vad_stage(str(tmp_path / "samples.parquet"), selftrain.VAD_PARAMS, str(tmp_path / "speech.parquet"))  # fmt: skip
    speech = pd.read_parquet(tmp_path / "speech.parquet")
    assert (speech["speech_ratio"].iloc[:3] > 0.2).all(), speech
    assert (speech["speech_ratio"].iloc[3:] < 0.1).all(), speech
    table = speech.assign(confidence=[0.5, 0.6, 0.7, 0.99, 0.98])  # the noise is "confident"
    assert list(np.flatnonzero(selftrain.select(table, 1.0, 0.1))) == [0, 1, 2]


# --------------------------------------------------------------------------- config and keys


def base(demo_dir, **selftrain_keys) -> dict:
    csv = str(demo_dir / "demo.csv")
    return {
        "EXP": {"name": "st"},
        "DATA": {
            "databases": ["demo"],
            "demo": {
                "path": csv,
                "filter": [["source", "espeak"], ["language", "de"]],
                "test_size": 80,
            },  # fmt: skip
            "unlabelled": ["pool"],
            "pool": {"path": csv, "filter": [["source", "espeak"], ["language", "en"]]},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"]},
        "MODEL": {"type": "xgb"},
        "SELFTRAIN": {"rounds": 2, **selftrain_keys},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["DATA"].update(unlabelled=[]) or c["DATA"].pop("pool"),
            "rounds = 2 needs unlabelled audio",
        ),
        (lambda c: c["SELFTRAIN"].update(rounds=0), "SELFTRAIN.rounds is 0"),
        (
            lambda c: c["SELFTRAIN"].update(student={"C_vall": 1}),
            "unknown student key 'C_vall' (did you mean 'C_val'?)",
        ),  # fmt: skip
        (
            lambda c: c["SELFTRAIN"].update(student={"type": "svr"}),
            "student type 'svr' does not fit",
        ),  # fmt: skip
        (lambda c: c["SELFTRAIN"].update(keep=1.5), "[SELFTRAIN] keep must be at most 1, not 1.5"),
        (
            lambda c: c["SELFTRAIN"].update(confidence="max"),
            "'max' is not one of auto, proba, bootstrap",
        ),  # fmt: skip
        (
            lambda c: c["DATA"].update(unlabelled=["demo"]) or c["DATA"].pop("pool"),
            "listed both in databases and in unlabelled",
        ),  # fmt: skip
        (
            lambda c: c["DATA"].update(unlabelled=["nopool"]) or c["DATA"].pop("pool"),
            "names database 'nopool' but there is no key",
        ),  # fmt: skip
    ],
)
def test_bad_settings_stop_with_one_line(demo_dir, change, message):
    cfg = base(demo_dir)
    change(cfg)
    with pytest.raises(ConfigError) as err:
        resolve(cfg)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_round_keys_chain_and_do_not_hold_rounds(demo_dir):
    two = plan_experiment(resolve(base(demo_dir))).selftrain
    three = plan_experiment(resolve(base(demo_dir, rounds=3))).selftrain
    assert [s.key for s in three.rounds[:3]] == [s.key for s in two.rounds]
    assert three.rounds[3].upstream[0] == two.rounds[2]
    other = plan_experiment(resolve(base(demo_dir, keep=0.25))).selftrain
    assert other.rounds[0].key == two.rounds[0].key  # the teacher does not depend on keep
    assert other.rounds[1].key != two.rounds[1].key
    assert [s.key for s in other.vad] == [s.key for s in two.vad]  # nor does the VAD
    plain = base(demo_dir, rounds=0)
    plain["DATA"].pop("pool")
    plain["DATA"]["unlabelled"] = []
    assert plan_experiment(resolve(plain)).selftrain is None


# --------------------------------------------------------------------------- end to end


@pytest.mark.workflow
def test_workflow_student_beats_teacher_and_new_rounds_only(tmp_path, demo_dir):
    """config/examples/demo_selftrain.yaml on the real demo corpus (2 rounds), then rounds 3."""
    cfg = yaml.safe_load(open(selftrain.__file__.replace("src/sauti/stages/selftrain.py", "config/examples/demo_selftrain.yaml")))  # fmt: skip
    for db in ("demo", "pool"):
        cfg["DATA"][db]["path"] = str(demo_dir / "demo.csv")
    cfg["EXPL"] = {"bias": False}
    run_ok(tmp_path, write(tmp_path, cfg))
    exp = tmp_path / "results" / "demo_selftrain"
    summary = json.loads((exp / "selftrain" / "selftrain.json").read_text())
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert rounds[1]["n_pool"] == 200 and rounds[1]["n_kept"] == 50  # keep 0.25 of 200
    assert rounds[1]["pseudo_accuracy_kept"] >= rounds[1]["pseudo_accuracy_all"]
    # the claim: the noisy student beats the teacher on the test split (fixed seed 42)
    assert rounds[2]["test_uar"] > rounds[0]["test_uar"] + 0.1, rounds
    assert summary["chosen_round"] == 2 and summary["change"]["test"] > 0.1
    metrics = json.loads((exp / "metrics.json").read_text())
    assert metrics["selftrain"]["rounds"] == rounds
    html = (exp / "report.html").read_text()
    assert 'id="selftrain"' in html and "pseudo acc. (kept)" in html
    assert (exp / "selftrain" / "rounds.png").stat().st_size > 1000
    table = pd.read_csv(exp / "selftrain" / "rounds.csv")
    assert list(table["n_kept"].fillna(0)) == [0, 50, 50]
    # the pool's own filter is accounted for once (round 1), as "left out by" it, not as drops
    pool = [d for d in json.loads((exp / "drops.json").read_text()) if d["stage"] == "selftrain"]
    assert pool and {(d["database"], d["kind"]) for d in pool} == {("pool", "selected")}
    assert any(d["reason"].startswith("DATA.pool.filter") for d in pool)

    more = copy.deepcopy(cfg)
    more["SELFTRAIN"]["rounds"] = 3
    jobs = planned_jobs(tmp_path, write(tmp_path, more, "more.yaml"))
    assert jobs == {"selftrain": 1, "selftrain_results": 1, "report": 1, "all": 1}, jobs
    assert not planned_jobs(tmp_path, write(tmp_path, cfg))  # back to 2 rounds: all cached
