"""Expanding lists, grids, multidb matrices and ensembles into experiments (no Snakemake run):
names, values, shared stage keys and the one-line errors."""

from __future__ import annotations

import pytest
import yaml

from sauti.config.compose import expand, expand_files, runnable, value_label
from sauti.config.read import parse_ini
from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError
from sauti.workflow.registry import registry_from_files


def base(name: str = "g", **sections) -> dict:
    cfg = {
        "EXP": {"name": name},
        "DATA": {
            "databases": ["small"],
            "small": {"path": "data/small.csv", "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["praat"]},
        "MODEL": {"type": "svm"},
    }
    for section, body in sections.items():
        cfg.setdefault(section, {}).update(body)
    return cfg


def write(folder, name: str, cfg: dict) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


# --------------------------------------------------------------------------- GRID


def test_grid_expands_to_one_named_experiment_per_combination():
    raw = base(GRID={"FEATS.type": [["praat"], ["praat", "mfcc"]], "MODEL.type": ["svm", "knn"]})
    out = expand(raw, "grid.yaml")
    assert out.names() == ["g-praat-svm", "g-praat-knn", "g-praat+mfcc-svm", "g-praat+mfcc-knn"]
    by_name = {c["EXP"]["name"]: c for c in out.configs}
    assert by_name["g-praat+mfcc-knn"]["FEATS"]["type"] == ["praat", "mfcc"]
    assert by_name["g-praat+mfcc-knn"]["MODEL"]["type"] == "knn"
    assert all(c["GRID"] == {} for c in out.configs), "derived experiments are plain ones"
    (grid,) = out.grids
    assert grid.name == "g" and grid.axes == ["FEATS.type", "MODEL.type"]
    assert grid.values["g-praat+mfcc-svm"] == ["praat+mfcc", "svm"]


def test_grid_shares_stages_between_its_experiments():
    raw = base(GRID={"FEATS.type": [["praat"], ["praat", "mfcc"]], "MODEL.type": ["svm", "knn"]})
    from sauti.workflow.composite import Composite
    from sauti.workflow.plan import plan_experiment
    from sauti.workflow.registry import Registry

    out = expand(raw, "grid.yaml")
    plans = [plan_experiment(c) for c in out.configs]
    registry = Registry("results", plans, composite=Composite(out, plans))
    kinds = [s.stage for s, _ in [(registry.stage(*k), k) for k in registry.stages]]
    assert kinds.count("features") == 2  # praat and mfcc, each once
    assert kinds.count("split") == 1 and kinds.count("train") == 4
    assert "results/g/grid/summary.csv" in registry.final_targets()


def test_grid_database_options_and_ini():
    raw = base(GRID={"DATA.small.test_size": [20, 40]})
    out = expand(raw, "grid.yaml")
    assert [c["DATA"]["small"]["test_size"] for c in out.configs] == [20, 40]
    assert out.names() == ["g-test_size20", "g-test_size40"]
    ini = parse_ini(
        "[EXP]\nname = i\n[DATA]\ndatabases = ['small']\nsmall = data/small.csv\n"
        "target = 'gender'\n[GRID]\nMODEL.C_val = [0.1, 1.0]\n"
    )
    assert expand(ini, "g.ini").names() == ["i-C_val0.1", "i-C_val1.0"]


def test_grid_names_say_the_key_of_numbers_and_of_repeated_words():
    raw = base(GRID={"MODEL.C_val": [1, 10], "MODEL.K_val": [1, 10]})
    names = expand(raw, "grid.yaml").names()
    assert names[:2] == ["g-C_val1-K_val1", "g-C_val1-K_val10"]
    assert len(set(names)) == 4
    raw = base(
        GRID={
            "MODEL.kernel": ["rbf", "linear"],
            "PLOT.title": ["a-b", "a"],
            "REPORT.title": ["c", "b-c"],
        }
    )
    assert "g-kernelrbf-titlea-b-titlec" in expand(raw, "grid.yaml").names()  # not g-rbf-a-b-c
    with pytest.raises(ConfigError, match="same experiment name 'g-titlea_b'"):
        expand(base(GRID={"PLOT.title": ["a b", "a_b"]}), "grid.yaml")


def test_value_labels_are_valid_names():
    assert value_label(["os", "praat"]) == "os+praat"
    assert value_label("a b/c") == "a_b_c"
    assert value_label(None) == "none" and value_label(True) == "true"


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"type": ["svm"]}, "not a dotted config key"),
        ({"MODLE.type": ["svm"]}, "did you mean 'MODEL'"),
        ({"EXP.name": ["a", "b"]}, "EXP.name cannot be varied"),
        ({"MODEL.type": []}, "expected a non-empty list"),
        ({"MODEL.type": ["svm", "svn"]}, "g-svn.*'svn' is not one of"),
    ],
)
def test_grid_errors_are_one_line(grid, message):
    with pytest.raises(ConfigError, match=message) as err:
        expand(base(GRID=grid), "grid.yaml")
    assert "\n" not in str(err.value) and "grid.yaml" in str(err.value)


# --------------------------------------------------------------------------- lists


def test_a_list_with_a_name_gets_a_comparison(tmp_path):
    a = write(tmp_path, "a.yaml", base("a"))
    b = write(tmp_path, "b.yaml", base("b", MODEL={"type": "knn"}))
    out = expand({"EXP": {"name": "cmp"}, "experiments": [a, b]}, "cmp.yaml")
    assert out.names() == ["a", "b"]
    assert out.grids[0].name == "cmp" and out.grids[0].members == ["a", "b"]
    assert expand({"experiments": [a, b]}, "all.yaml").grids == []
    with pytest.raises(ConfigError, match="only names the result"):
        expand({"EXP": {"name": "cmp", "runs": 2}, "experiments": [a]}, "cmp.yaml")


def test_listed_files_resolve_beside_the_listing_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "a.yaml", base("a"))
    listing = write(tmp_path / "sub", "all.yaml", {"experiments": ["a.yaml"]})
    monkeypatch.chdir(tmp_path)
    assert expand_files([listing]).names() == ["a"]


# --------------------------------------------------------------------------- MULTIDB


def multidb_base() -> dict:
    cfg = base("x")
    cfg["DATA"] = {
        "databases": ["real", "synth", "other"],
        "real": {"path": "real.csv"},
        "synth": {"path": "synth.csv", "test_size": 30},
        "other": "other.csv",
        "target": "gender",
    }
    return cfg


def test_multidb_makes_one_experiment_per_train_and_test_database():
    out = expand({**multidb_base(), "MULTIDB": {"databases": ["real", "synth"]}}, "m.yaml")
    assert out.names() == ["x-real-real", "x-real-synth", "x-synth-real", "x-synth-synth"]
    cells = {c["EXP"]["name"]: c["DATA"] for c in out.configs}
    assert cells["x-real-synth"]["databases"] == ["real", "synth"]
    assert cells["x-real-synth"]["real"]["split_strategy"] == "train"
    assert cells["x-real-synth"]["synth"]["split_strategy"] == "test"
    assert cells["x-synth-synth"]["databases"] == ["synth"]
    assert cells["x-synth-synth"]["synth"]["split_strategy"] == "speaker_split"
    assert "other" not in cells["x-real-real"] and "synth" not in cells["x-real-real"]
    (spec,) = out.multidbs
    assert spec.cells[1] == ("real", "synth", "x-real-synth")


def test_multidb_cells_share_samples_and_features():
    from sauti.workflow.plan import plan_experiment

    out = expand({**multidb_base(), "MULTIDB": {"databases": ["real", "synth"]}}, "m.yaml")
    plans = [plan_experiment(c) for c in out.configs]
    features = {s.key for p in plans for s in p.features}
    assert len(features) == 2  # praat for each database, once
    assert len({p.train.key for p in plans}) == 4


@pytest.mark.parametrize(
    "change, message",
    [
        ({"MULTIDB": {"databases": ["real", "rael"]}}, "'rael' is not in DATA.databases"),
        ({"MULTIDB": {"databases": ["real"]}}, "at least 2 different databases"),
        ({"MULTIDB": {"databases": ["real", "synth"], "dbs": 1}}, "unknown key 'dbs'"),
        (
            {
                "MULTIDB": {"databases": ["real", "synth"]},
                "EXP": {"name": "x", "traindevtest": True},
            },
            "traindevtest",
        ),
    ],
)
def test_multidb_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        expand({**multidb_base(), **change}, "m.yaml")


# --------------------------------------------------------------------------- ENSEMBLE


@pytest.fixture
def members(tmp_path):
    dev = {"traindevtest": True}
    return [
        write(tmp_path, "a.yaml", base("a", EXP=dev)),
        write(tmp_path, "b.yaml", base("b", EXP=dev, MODEL={"type": "knn"})),
        write(tmp_path, "c.yaml", base("c", EXP=dev, FEATS={"type": ["mfcc"]})),
    ]


def ensemble(files, method="mean", name="ens", **extra) -> dict:
    return {"EXP": {"name": name}, "ENSEMBLE": {"experiments": files, "method": method, **extra}}


def test_ensemble_file_expands_to_its_members(members):
    out = expand(ensemble(members, "uncertainty_threshold", threshold=0.5), "ens.yaml")
    assert out.names() == ["a", "b", "c"]
    (spec,) = out.ensembles
    assert spec.members == ["a", "b", "c"] and spec.threshold == 0.5
    assert spec.sources["b"].endswith("b.yaml")


def test_ensemble_stage_is_keyed_by_method_and_member_trains(members, tmp_path):
    def key(method, files=members):
        path = write(tmp_path, f"e-{method}.yaml", ensemble(files, method))
        registry = registry_from_files([path])
        stage = registry.composite.ensemble_stages["ens"]
        assert [u.stage for u in stage.upstream] == ["train"] * len(files)
        return stage.key

    assert key("mean") == key("mean")
    assert key("mean") != key("max_class")
    assert key("mean") != key("mean", members[:2])


def test_a_name_only_file_inherits_its_members_root(tmp_path):
    files = [write(tmp_path, f"{n}.yaml", base(n, EXP={"root": "out"})) for n in "xy"]
    assert expand(ensemble(files), "e.yaml").ensembles[0].root == "out"
    assert expand({"EXP": {"name": "cmp"}, "experiments": files}, "c.yaml").grids[0].root == "out"
    registry = registry_from_files([write(tmp_path, "e.yaml", ensemble(files))])
    assert registry.root == "out" and "out/ens/report.html" in registry.final_targets()


def test_an_experiment_listed_twice_is_planned_once(members, tmp_path):
    path = write(tmp_path, "e.yaml", ensemble(members))
    out = expand({"experiments": [path, members[0]]}, "all.yaml")
    assert out.names() == ["a", "b", "c"]


@pytest.mark.parametrize(
    "cfg, message",
    [
        (lambda m: ensemble(m[:1]), "at least 2 member experiments"),
        (lambda m: ensemble(m, "median"), "'median' is not one of"),
        (lambda m: ensemble(m, name="a"), "also a member's name"),
        (lambda m: {**ensemble(m), "MODEL": {"type": "svm"}}, "holds only \\[EXP\\]"),
        (lambda m: ensemble(m, treshold=0.5), "did you mean 'threshold'"),
        (lambda m: ensemble(m + ["missing.yaml"]), "missing.yaml not found"),
    ],
)
def test_ensemble_config_errors(members, cfg, message):
    with pytest.raises(ConfigError, match=message) as err:
        expand(cfg(members), "ens.yaml")
    assert "\n" not in str(err.value)


def test_performance_weighted_needs_dev_splits(tmp_path, members):
    plain = write(tmp_path, "d.yaml", base("d"))
    assert expand(ensemble(members, "performance_weighted"), "e.yaml").ensembles
    with pytest.raises(ConfigError, match="d has no dev split.*traindevtest = True"):
        expand(ensemble([members[0], plain], "performance_weighted"), "e.yaml")


def test_regression_members_allow_only_mean_and_performance_weighted(tmp_path):
    reg = {"EXP": {"type": "regression"}, "DATA": {"target": "rate", "labels": "all"}}
    files = [
        write(tmp_path, "r1.yaml", base("r1", **reg, MODEL={"type": "svr"})),
        write(tmp_path, "r2.yaml", base("r2", **reg, MODEL={"type": "xgr"})),
    ]
    assert expand(ensemble(files, "mean"), "e.yaml").ensembles
    with pytest.raises(ConfigError, match="max_class needs class probabilities"):
        expand(ensemble(files, "max_class"), "e.yaml")
    classifier = write(tmp_path, "c1.yaml", base("c1"))
    with pytest.raises(ConfigError, match="must share EXP.type"):
        expand(ensemble([files[0], classifier]), "e.yaml")


def test_runnable_writes_absolute_member_paths(members, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg, name, root = runnable(ensemble(["a.yaml", "b.yaml"]), "ens.yaml")
    assert name == "ens" and root == "results"
    assert cfg["ENSEMBLE"]["experiments"] == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    cfg, name, _ = runnable(base("plain"), "plain.yaml")
    assert name == "plain" and cfg["MODEL"]["C_val"] == 1.0  # a plain experiment is resolved


def test_a_resolved_experiment_is_never_mistaken_for_a_composite():
    cfg = resolve(base("r"), "r.yaml")
    assert cfg["ENSEMBLE"]["experiments"] == [] and cfg["GRID"] == {}
    out = expand(cfg, "r.yaml")
    assert out.names() == ["r"] and not (out.ensembles or out.grids or out.multidbs)


# --------------------------------------------------------------------------- OPTIM


def test_optim_is_a_keyed_stage_beside_the_experiment(tmp_path):
    path = write(tmp_path, "o.yaml", base("o", OPTIM={"params": {"C_val": [0.1, 1]}}))
    registry = registry_from_files([path])
    stage = registry.composite.optim_stages["o"]
    plan = registry.plans[0]
    assert {u.key for u in stage.upstream} == {plan.split.key, *(f.key for f in plan.features)}
    assert "results/o/optim/best.json" in registry.final_targets()
    assert registry_from_files([write(tmp_path, "p.yaml", base("p"))]).composite.optim_stages == {}


def test_optim_ini_flat_parameters_are_accepted():
    ini = parse_ini(
        "[EXP]\nname = o\n[DATA]\ndatabases = ['small']\nsmall = data/small.csv\n"
        "target = 'gender'\n[OPTIM]\nmodel = 'svm'\nsearch_strategy = 'random'\nn_iter = 4\n"
        "C_val = [0.1, 1.0, 10.0]\nkernel = ['rbf', 'linear']\n"
    )
    optim = resolve(ini, "o.ini")["OPTIM"]
    assert optim["params"] == {"C_val": [0.1, 1.0, 10.0], "kernel": ["rbf", "linear"]}
    assert optim["search"] == "random" and optim["n_iter"] == 4


@pytest.mark.parametrize(
    "optim, message",
    [
        (
            {"params": {"C_vall": [1]}},
            "'C_vall' is not a MODEL hyper-parameter.*did you mean 'C_val'",
        ),
        ({"params": {"C_val": [1]}, "metric": "ccc"}, "'ccc' does not fit a classification"),
        ({"params": {"C_val": {"min": 1}}}, "OPTIM"),
    ],
)
def test_optim_errors(optim, message):
    with pytest.raises(ConfigError, match=message):
        expand(base("o", OPTIM=optim), "o.yaml")
