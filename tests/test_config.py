"""Experiment configuration: INI/YAML reading, normalisation, defaults and one-line errors.

Why these checks: a bad key must stop a run before any job starts, with ONE line naming the
file, section and key (and a "did you mean"); INI and YAML must mean the same experiment; and
the generated config/README.md must never drift from the schema it documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sauti.app import cli
from sauti.config.doc import render
from sauti.config.read import parse_ini, read_file
from sauti.config.resolve import load_experiments, resolve
from sauti.config.schema import ConfigError, schema

REPO = Path(__file__).resolve().parents[1]
DEMO_INI = REPO / "config" / "examples" / "demo_gender.ini"


def minimal(**sections) -> dict:
    """The smallest valid experiment, plus extra or replaced sections."""
    cfg = {
        "EXP": {"name": "t"},
        "DATA": {"databases": ["demo"], "demo": "data/demo/demo.csv", "target": "gender"},
    }
    cfg.update(sections)
    return cfg


def error_of(raw: dict, source: str = "my.ini") -> str:
    with pytest.raises(ConfigError) as info:
        resolve(raw, source)
    text = str(info.value)
    assert "\n" not in text, f"error message spans several lines: {text!r}"
    assert text.startswith(f"{source}: "), text
    return text


def without_source(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "_source"}


# --------------------------------------------------------------------------- INI parsing


INI = """
[EXP]
name = ini_test
runs = 10
traindevtest = True
[DATA]
databases = ['emodb', 'demo']
emodb = ./data/x.csv
emodb.split_strategy = speaker_split
emodb.test_size = 25
emodb.mapping = {'ang,bor': 'angry'}
demo = 'data/demo/demo.csv'
demo.filter = [['gender', 'female']]
target = "gender"
limit_samples_per_speaker = 5
[FEATS]
type = os
[MODEL]
C_val = 10
K_val = 3
kernel = linear
"""


def test_ini_values_are_python_literals_or_strings():
    raw = parse_ini(INI, "x.ini")
    assert raw["EXP"] == {"name": "ini_test", "runs": 10, "traindevtest": True}
    assert isinstance(raw["EXP"]["runs"], int) and raw["EXP"]["traindevtest"] is True
    assert raw["DATA"]["databases"] == ["emodb", "demo"]
    assert raw["DATA"]["emodb"] == "./data/x.csv"
    assert raw["DATA"]["demo"] == "data/demo/demo.csv"  # quotes removed
    assert raw["DATA"]["target"] == "gender"
    assert raw["DATA"]["emodb.mapping"] == {"ang,bor": "angry"}
    assert raw["FEATS"]["type"] == "os"


def test_ini_literal_forms():
    raw = parse_ini(
        "[S]\na = ['os']\nb = True\nc = false\nd = 10\ne = 0.5\nf = ./data/x.csv\n"
        "g = 'quoted text'\nh = \"double\"\ni = None\nj = plain words\n",
        "x.ini",
    )["S"]
    assert raw == {
        "a": ["os"],
        "b": True,
        "c": False,
        "d": 10,
        "e": 0.5,
        "f": "./data/x.csv",
        "g": "quoted text",
        "h": "double",
        "i": None,
        "j": "plain words",
    }
    assert type(raw["d"]) is int and type(raw["e"]) is float


def test_ini_keys_are_case_sensitive():
    raw = parse_ini(INI, "x.ini")
    assert raw["MODEL"] == {"C_val": 10, "K_val": 3, "kernel": "linear"}
    cfg = resolve(raw, "x.ini")
    assert cfg["MODEL"]["C_val"] == 10 and cfg["MODEL"]["K_val"] == 3
    assert "c_val" not in cfg["MODEL"]


def test_ini_database_options_become_a_nested_mapping():
    cfg = resolve(parse_ini(INI, "x.ini"), "x.ini")
    emodb = cfg["DATA"]["emodb"]
    assert emodb["path"] == "./data/x.csv"
    assert emodb["split_strategy"] == "speaker_split"
    assert emodb["test_size"] == 25
    assert emodb["mapping"] == {"ang,bor": "angry"}
    assert cfg["DATA"]["demo"]["filter"] == [["gender", "female"]]
    assert not any("." in key for key in cfg["DATA"])


def test_bare_database_path_becomes_a_path_mapping():
    cfg = resolve(minimal())
    assert cfg["DATA"]["demo"]["path"] == "data/demo/demo.csv"
    assert cfg["DATA"]["demo"]["split_strategy"] == "speaker_split"


def test_feats_type_string_becomes_a_list_and_databases_string_too():
    raw = minimal(FEATS={"type": "praat"})
    raw["DATA"]["databases"] = "demo"
    cfg = resolve(raw)
    assert cfg["FEATS"]["type"] == ["praat"]
    assert cfg["DATA"]["databases"] == ["demo"]


def test_nkululeko_alias_limit_samples_per_speaker():
    cfg = resolve(parse_ini(INI, "x.ini"), "x.ini")
    assert cfg["DATA"]["samples_per_speaker"] == 5
    assert "limit_samples_per_speaker" not in cfg["DATA"]


def test_resolve_does_not_modify_its_input():
    raw = parse_ini(INI, "x.ini")
    before = json.dumps(raw, sort_keys=True)
    resolve(raw, "x.ini")
    assert json.dumps(raw, sort_keys=True) == before


# --------------------------------------------------------------------------- defaults


def test_defaults_are_filled():
    cfg = resolve(minimal())
    model, feats, plot, data, exp = cfg["MODEL"], cfg["FEATS"], cfg["PLOT"], cfg["DATA"], cfg["EXP"]
    assert model["batch_size"] == 8
    assert model["learning_rate"] == 0.0001
    assert model["drop"] == 0.1
    assert model["max_duration"] == 8.0
    assert model["push_to_hub"] is False
    assert model["type"] == "svm" and model["C_val"] == 1.0
    assert feats["store_format"] == "pkl"
    assert feats["set"] == "eGeMAPSv02"
    assert feats["type"] == ["os"]
    assert plot["format"] == "png"
    assert plot["ccc"] is False
    assert data["labels"] == "all"
    assert exp["type"] == "classification"
    assert exp["epochs"] is None  # neural models pick their own default (mlp 100)
    assert exp["random_seed"] == 42
    assert data["demo"]["split_strategy"] == "speaker_split"
    assert data["demo"]["test_size"] == 20


def test_default_target_is_emotion():
    raw = minimal()
    del raw["DATA"]["target"]
    assert resolve(raw)["DATA"]["target"] == "emotion"


def test_every_schema_default_is_filled():
    cfg = resolve(minimal())
    for section, spec in schema()["properties"].items():
        if section.startswith("_"):
            continue
        for key, keyspec in spec.get("properties", {}).items():
            if "default" in keyspec:
                assert cfg[section][key] == keyspec["default"] or (
                    section == "DATA" and key == "target"
                ), f"{section}.{key}"


def test_given_values_win_over_defaults():
    cfg = resolve(minimal(MODEL={"batch_size": 32}, PLOT={"format": "svg"}))
    assert cfg["MODEL"]["batch_size"] == 32
    assert cfg["PLOT"]["format"] == "svg"
    assert cfg["_source"] == "config"


# --------------------------------------------------------------------------- errors


def test_unknown_section_suggests_the_right_one():
    text = error_of(minimal(MODLE={"type": "svm"}))
    assert "[MODLE]" in text and "did you mean 'MODEL'" in text


def test_unknown_key_suggests_the_right_one():
    text = error_of(minimal(MODEL={"C_vall": 1}))
    assert text == "my.ini: [MODEL] unknown key 'C_vall' (did you mean 'C_val'?)"


def test_key_in_the_wrong_section_names_the_right_one():
    # (MODEL.random_seed is Nkululeko's own spelling: it is translated, see test_nkululeko_compat)
    text = error_of(minimal(MODEL={"traindevtest": True}))
    assert "[MODEL]" in text and "'traindevtest'" in text and "it belongs in [EXP]" in text


def test_wrong_type_names_key_and_value():
    text = error_of(minimal(MODEL={"C_val": "big"}))
    assert "[MODEL] C_val" in text and "'big'" in text and "number" in text
    text = error_of(minimal(EXP={"name": "t", "epochs": "ten"}))
    assert "[EXP] epochs" in text and "'ten'" in text


def test_out_of_range_value():
    text = error_of(minimal(EXP={"name": "t", "runs": 0}))
    assert "[EXP] runs" in text and "0" in text


def test_enum_typo_suggests_the_valid_value():
    text = error_of(minimal(FEATS={"set": "eGeMAPSv2"}))
    assert "[FEATS] set" in text and "did you mean 'eGeMAPSv02'" in text
    text = error_of(minimal(MODEL={"kernel": "rfb"}))
    assert "[MODEL] kernel" in text and "did you mean 'rbf'" in text


def test_bad_feature_type_in_list():
    text = error_of(minimal(FEATS={"type": ["os", "opensmile"]}))
    assert "[FEATS] type" in text and "'opensmile'" in text


def test_missing_experiment_name():
    text = error_of(minimal(EXP={"runs": 2}))
    assert "[EXP]" in text and "'name'" in text and "missing" in text


def test_bad_experiment_name():
    text = error_of(minimal(EXP={"name": "my exp"}))
    assert "[EXP] name" in text and "'my exp'" in text


def test_missing_data_databases():
    text = error_of(minimal(DATA={"target": "gender"}))
    assert "[DATA]" in text and "'databases'" in text


def test_missing_sections():
    text = error_of({"DATA": {"databases": ["demo"], "demo": "x.csv"}})
    assert "[EXP]" in text and "missing" in text


def test_database_listed_without_a_path():
    raw = minimal()
    del raw["DATA"]["demo"]
    text = error_of(raw)
    assert "[DATA]" in text and "'demo'" in text and "path" in text


def test_database_mapping_without_a_path_names_the_database():
    raw = parse_ini(
        "[EXP]\nname = t\n[DATA]\ndatabases = ['demo']\ndemo.test_size = 30\n", "my.ini"
    )
    text = error_of(raw)
    assert "[DATA]" in text and "demo" in text and "'path'" in text


def test_database_not_listed_in_databases():
    raw = minimal()
    raw["DATA"]["emodb"] = "x.csv"
    text = error_of(raw)
    assert "'emodb'" in text and "DATA.databases" in text


def test_unknown_per_database_option_suggests_the_right_one():
    raw = parse_ini(
        "[EXP]\nname = t\n[DATA]\ndatabases = ['demo']\ndemo = x.csv\ndemo.tst_size = 30\n",
        "my.ini",
    )
    text = error_of(raw)
    assert text == "my.ini: [DATA] unknown option 'demo.tst_size' (did you mean 'test_size'?)"


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("test_size", 150, ["demo.test_size", "150"]),
        ("test_size", "big", ["demo.test_size", "'big'"]),
        ("split_strategy", "speaker_splt", ["demo.split_strategy", "did you mean 'speaker_split'"]),
        ("mapping", "female=f", ["demo.mapping", "'female=f'"]),
    ],
)
def test_bad_per_database_value(option, value, words):
    raw = minimal()
    raw["DATA"]["demo"] = {"path": "x.csv", option: value}
    text = error_of(raw)
    assert "[DATA]" in text
    for word in words:
        assert word in text


def test_database_listed_twice():
    raw = minimal()
    raw["DATA"]["databases"] = ["demo", "demo"]
    assert "twice" in error_of(raw)


def test_section_that_is_not_a_mapping():
    text = error_of(minimal(MODEL="svm"))
    assert "[MODEL]" in text


def test_labels_must_be_all_or_a_list():
    raw = minimal()
    raw["DATA"]["labels"] = "some"
    text = error_of(raw)
    assert "[DATA] labels" in text and "'some'" in text


def test_errors_from_an_ini_file_name_the_file(tmp_path):
    path = tmp_path / "exp.ini"
    path.write_text(
        "[EXP]\nname = t\n[DATA]\ndatabases = ['demo']\ndemo = x.csv\n[MODEL]\nC_vall = 3\n"
    )
    text = error_of(read_file(path), str(path))
    assert text == f"{path}: [MODEL] unknown key 'C_vall' (did you mean 'C_val'?)"


def test_invalid_yaml_is_one_line_with_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("EXP:\n  name: x\n DATA: [\n")
    with pytest.raises(ConfigError) as info:
        read_file(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path)) and "line 3" in text and "YAML" in text


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_file(path)


def test_invalid_ini_is_one_line(tmp_path):
    path = tmp_path / "bad.ini"
    path.write_text("[EXP]\nname = x\nname = y\n")
    with pytest.raises(ConfigError) as info:
        read_file(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)) and "INI" in text


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        read_file(path)
    assert str(info.value) == f"{path}: config file not found"


# --------------------------------------------------------------------------- INI == YAML


DEMO_YAML = """
EXP:
  name: demo_gender_ini
  runs: 3
DATA:
  databases: [demo]
  demo:
    path: data/demo/demo.csv
    split_strategy: speaker_split
    test_size: 25
  target: gender
  labels: [female, male]
FEATS:
  type: [os, praat]
  scale: standard
MODEL:
  type: xgb
  n_estimators: 100
PLOT:
  combine_per_speaker: mode
"""


def test_ini_and_yaml_forms_resolve_identically(tmp_path):
    path = tmp_path / "demo_gender.yaml"
    path.write_text(DEMO_YAML)
    from_ini = resolve(read_file(DEMO_INI), str(DEMO_INI))
    from_yaml = resolve(read_file(path), str(path))
    assert without_source(from_ini) == without_source(from_yaml)
    assert from_ini["_source"] == str(DEMO_INI)


def test_converted_ini_reads_back_identically(tmp_path):
    for resolved in (False, True):
        text = cli.convert_file(str(DEMO_INI), resolved=resolved)
        path = tmp_path / f"converted_{resolved}.yaml"
        path.write_text(text)
        again = resolve(read_file(path), str(path))
        assert without_source(again) == without_source(resolve(read_file(DEMO_INI)))
    assert "demo.test_size" not in yaml.safe_load(text)["DATA"]


# --------------------------------------------------------------------------- documentation


def test_config_readme_is_generated_from_the_schema():
    committed = (REPO / "config" / "README.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "config/README.md is stale: run `sauti schema-doc > config/README.md`"
    )


def test_config_readme_documents_every_default():
    text = render()
    spec = schema()["properties"]
    entries = [(s, k, v) for s, body in spec.items() for k, v in body.get("properties", {}).items()]
    db = spec["DATA"]["additionalProperties"]["oneOf"][1]["properties"]
    entries += [("DATA.<db>", k, v) for k, v in db.items()]
    documented = 0
    for section, key, keyspec in entries:
        if section.startswith("_") or "default" not in keyspec:
            continue
        rows = [line for line in text.splitlines() if line.startswith(f"| `{key}` |")]
        default = f"`{json.dumps(keyspec['default'])}`"
        assert any(default in row for row in rows), f"{section}.{key} default {default} missing"
        documented += 1
    assert documented > 80
    for section in spec:
        if not section.startswith("_"):
            assert f"## [{section}]" in text


# --------------------------------------------------------------------------- shipped configs


SHIPPED = [REPO / "config" / "config.yaml", *sorted((REPO / "config" / "examples").glob("*"))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_resolve(path, monkeypatch):
    from sauti.config.compose import expand

    monkeypatch.chdir(REPO)  # ensembles list their members relative to the checkout
    configs = expand(read_file(path), str(path)).configs  # grids, ensembles: all experiments
    assert configs
    for cfg in configs:
        assert cfg["EXP"]["name"]
        assert cfg["DATA"]["databases"]


def test_shipped_examples_exist():
    names = {p.name for p in SHIPPED}
    assert {"config.yaml", "demo_gender.ini", "demo_rate_regression.yaml"} <= names


# --------------------------------------------------------------------------- several experiments


def write_experiment(folder: Path, file: str, name: str) -> None:
    (folder / file).write_text(
        yaml.safe_dump(
            {
                "EXP": {"name": name},
                "DATA": {"databases": ["demo"], "demo": "data/demo/demo.csv", "target": "gender"},
            }
        )
    )


def test_load_experiments_resolves_each_listed_file(tmp_path):
    write_experiment(tmp_path, "a.yaml", "exp_a")
    (tmp_path / "b.ini").write_text(
        "[EXP]\nname = exp_b\n[DATA]\ndatabases = ['demo']\ndemo = data/demo/demo.csv\n"
    )
    configs = load_experiments({"experiments": ["a.yaml", "b.ini"]}, "all.yaml", base=tmp_path)
    assert [c["EXP"]["name"] for c in configs] == ["exp_a", "exp_b"]
    assert [c["_source"] for c in configs] == ["a.yaml", "b.ini"]
    assert all(c["MODEL"]["batch_size"] == 8 for c in configs)


def test_load_experiments_with_one_experiment():
    configs = load_experiments(minimal(), "one.yaml")
    assert len(configs) == 1 and configs[0]["EXP"]["name"] == "t"


def test_load_experiments_rejects_duplicate_names(tmp_path):
    write_experiment(tmp_path, "a.yaml", "same")
    write_experiment(tmp_path, "b.yaml", "same")
    with pytest.raises(ConfigError) as info:
        load_experiments({"experiments": ["a.yaml", "b.yaml"]}, "all.yaml", base=tmp_path)
    text = str(info.value)
    assert "\n" not in text and text.startswith("all.yaml") and "'same'" in text


def test_load_experiments_errors_name_the_listed_file(tmp_path):
    write_experiment(tmp_path, "a.yaml", "a")
    (tmp_path / "b.yaml").write_text("EXP: {name: b, epoch: 3}\nDATA: {databases: [d], d: x.csv}\n")
    with pytest.raises(ConfigError) as info:
        load_experiments({"experiments": ["a.yaml", "b.yaml"]}, "all.yaml", base=tmp_path)
    assert str(info.value) == "b.yaml: [EXP] unknown key 'epoch' (did you mean 'epochs'?)"


@pytest.mark.parametrize("raw", [{"experiments": []}, {"experiments": "a.yaml"}])
def test_load_experiments_needs_a_list(raw):
    with pytest.raises(ConfigError, match="non-empty list"):
        load_experiments(raw, "all.yaml")


def test_experiments_file_holds_only_the_list():
    with pytest.raises(ConfigError, match="EXP"):
        load_experiments({"experiments": ["a.yaml"], "EXP": {"name": "x"}}, "all.yaml")


# --------------------------------------------------------------------------- CLI


def test_cli_check_accepts_the_default_config(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert cli.main(["check", "config/config.yaml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo_gender: samples=")
    for stage in ("features=", "split=", "train=", "evaluate="):
        assert stage in out


def test_cli_check_rejects_a_bad_file_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.ini"
    path.write_text(
        "[EXP]\nname = t\n[DATA]\ndatabases = ['demo']\ndemo = x.csv\n[MODEL]\nC_vall = 3\n"
    )
    assert cli.main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0] == f"sauti: error: {path}: [MODEL] unknown key 'C_vall' (did you mean 'C_val'?)"


def test_cli_check_missing_file(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.ini")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err


def test_cli_convert_prints_yaml(capsys):
    assert cli.main(["convert", str(DEMO_INI)]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["DATA"]["demo"] == {
        "path": "data/demo/demo.csv",
        "split_strategy": "speaker_split",
        "test_size": 25,
    }


def test_cli_schema_doc_prints_the_readme(capsys):
    assert cli.main(["schema-doc"]) == 0
    assert capsys.readouterr().out == (REPO / "config" / "README.md").read_text(encoding="utf-8")
