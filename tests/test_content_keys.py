"""Content-addressed data and provenance, through Snakemake on real speech.

The keys say what the data *is*: a recording replaced under its old name re-keys its database's
samples and everything after; a `touch` changes nothing; a label edit re-runs the labels, split
and model but never the features; putting the old CSV back (with its old time or a new one)
finds the earlier results. The file digests live in <root>/cache/digests.sqlite, so an
unchanged file is read once. `snakemake --report` shows the experiment's results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_support import output, planned_jobs, run_ok, small_table, snakemake, write

from sauti.core import digests, versions
from sauti.core.errors import SautiError
from sauti.core.fileio import read_table
from sauti.ml import data_digests
from sauti.ml.features import extract
from sauti.workflow.registry import registry_from_files

pytestmark = pytest.mark.workflow

#: 8 speakers x 5 clips, both genders, real and espeak.
SPEAKERS = ["allison", "june", "gcin_m", "gcin_f", "espeak_en-us_f1", "espeak_en-us_m1",
            "espeak_de_f3", "espeak_de_m3"]  # fmt: skip


def experiment(csv: Path, name: str = "exp", root: Path | None = None) -> dict:
    return {
        "EXP": {"name": name, "shards": 1, "root": str(root or csv.parent / "work" / "results")},
        "DATA": {
            "databases": ["own"],
            "own": {"path": str(csv), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"], "set": "eGeMAPSv02"},
        "MODEL": {"type": "svm"},
        "EXPL": {"bias": False},
    }


@pytest.fixture(scope="module")
def own(tmp_path_factory, demo_dir):
    """A private copy of 40 real recordings (the tests replace and touch them) with a CSV of
    relative paths, and one completed run."""
    folder = tmp_path_factory.mktemp("own")
    table = small_table(demo_dir, SPEAKERS)
    (folder / "wav").mkdir()
    names = []
    for source in table["file"]:
        target = folder / "wav" / Path(source).name
        shutil.copy(source, target)
        names.append(f"wav/{target.name}")
    table["file"] = names
    csv = folder / "own.csv"
    table.to_csv(csv, index=False)
    workdir = folder / "work"
    workdir.mkdir()
    configfile = write(workdir, experiment(csv))
    run_ok(workdir, configfile)
    return {"dir": folder, "csv": csv, "work": workdir, "config": configfile, "table": table}


def results(own) -> Path:
    return own["work"] / "results" / "exp"


def test_touching_every_data_file_reruns_nothing(own):
    for path in [own["csv"], *(own["dir"] / "wav").glob("*.wav")]:
        os.utime(path)  # a new time, the same content
    assert planned_jobs(own["work"], own["config"]) == {}


def test_a_label_edit_reruns_labels_split_and_model_never_features(own):
    original = own["dir"] / "original.csv"
    shutil.copy2(own["csv"], original)  # keeps its time, for the cp -p test below
    before = json.loads((results(own) / "metrics.json").read_text())
    table = pd.read_csv(own["csv"])
    row = table.index[table["gender"] == "female"][0]
    table.loc[row, "gender"] = "male"
    table.to_csv(own["csv"], index=False)
    jobs = planned_jobs(own["work"], own["config"])
    assert set(jobs) == {"labels", "split", "train", "evaluate", "report", "all"}
    run_ok(own["work"], own["config"])
    after = json.loads((results(own) / "metrics.json").read_text())
    page = (results(own) / "report.html").read_text()
    assert "database own: table" in page and after["provenance"]["inputs"]["own"]["table"] in page
    digest = after["provenance"]["inputs"]["own"]
    assert digest["table"] != before["provenance"]["inputs"]["own"]["table"]
    assert digest["audio"] == before["provenance"]["inputs"]["own"]["audio"]
    # the old CSV back with its old time (cp -p): the earlier keys, only the report runs
    shutil.copy2(original, own["csv"])
    assert set(planned_jobs(own["work"], own["config"])) == {"report", "all"}
    run_ok(own["work"], own["config"])
    restored = json.loads((results(own) / "metrics.json").read_text())
    assert restored["test"] == before["test"]
    assert restored["provenance"]["inputs"] == before["provenance"]["inputs"]
    # the same bytes written anew (plain cp): nothing at all
    own["csv"].write_bytes(original.read_bytes())
    assert planned_jobs(own["work"], own["config"]) == {}


def test_a_replaced_recording_reruns_its_database_and_the_features_follow(own):
    predictions = pd.read_csv(results(own) / "predictions.csv")
    table = own["table"]
    used = {Path(f).name for f in predictions["file"]}
    train_female = next(
        f for f, g in zip(table["file"], table["gender"], strict=True)
        if g == "female" and Path(f).name not in used
    )  # fmt: skip
    male = next(f for f, g in zip(table["file"], table["gender"], strict=True) if g == "male")
    target = own["dir"] / train_female
    shutil.copy(own["dir"] / male, target)  # another recording under the same name
    jobs = planned_jobs(own["work"], own["config"])
    assert set(jobs) >= {"samples", "labels", "features", "split", "train", "evaluate", "report"}
    run_ok(own["work"], own["config"])
    after = pd.read_csv(results(own) / "predictions.csv")
    proba = [c for c in after.columns if c.startswith("proba_")]
    assert not after[proba].equals(predictions[proba]), "a new training clip changes the model"
    # the cached features hold the new recording's values
    registry = registry_from_files([str(own["config"])])
    features = read_table(registry.path("features", registry.plans[0].features[0].key))
    cached = features[features["file"] == str(target)].drop(columns=["file", "start", "end"])
    fresh = extract("os", pd.DataFrame({"file": [str(target)], "start": [0.0], "end": [None]}),
                    {"set": "eGeMAPSv02", "level": "functionals"}, progress=False)  # fmt: skip
    pd.testing.assert_frame_equal(cached.reset_index(drop=True), fresh, check_dtype=False)


def test_snakemake_report_lists_the_experiment_results(own, tmp_path):
    zipped = tmp_path / "report.zip"
    run_ok(own["work"], own["config"], "--report", str(zipped))
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        page = archive.read("report/report.html").decode()
    stored = [n for n in names if "/data/raw/" in n]
    exp = results(own)
    # the results section: one category named after the experiment, listing its files
    assert f'"exp": {{"Other": ["{exp}/images/confusion_test.png"' in page
    for wanted in ("report.html", "metrics.json", "predictions.csv", "confusion_test.png"):
        assert any(n.endswith(wanted) for n in stored), (wanted, names)
    caption = "The experiment's metrics (test, dev, runs, cross-validation)"
    assert caption in page


def test_a_library_version_rekeys_only_its_feature_type(own, monkeypatch):
    """Stage keys carry the versions that compute them: another openSMILE re-keys the os
    features (and what reads them), never the samples, labels or split."""
    before = registry_from_files([str(own["config"])]).plans[0]
    real = versions.version

    def other_opensmile(name):
        return "0.0.0-other" if name == "opensmile" else real(name)

    monkeypatch.setattr(versions, "version", other_opensmile)
    after = registry_from_files([str(own["config"])]).plans[0]
    assert before.features[0].key != after.features[0].key
    assert before.train.key != after.train.key
    for stage in ("samples", "labels"):
        assert getattr(before, stage)["own"].key == getattr(after, stage)["own"].key
    assert before.split.key == after.split.key


def test_a_yte_template_is_refused_with_one_line(own):
    cfg = experiment(own["csv"], "templated")
    cfg["__use_yte__"] = True
    cfg["EXP"]["name"] = "?'templated'"
    configfile = own["work"] / "templated.yaml"
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    result = snakemake(own["work"], configfile, "--dry-run")
    assert result.returncode != 0
    lines = [line for line in output(result).splitlines() if "sauti: config error" in line]
    assert len(lines) == 1 and "__use_yte__" in lines[0], output(result)[-2000:]
    assert "Traceback" not in output(result)


# --------------------------------------------------------------------------- the state file


def test_an_unchanged_file_is_read_once_and_a_touch_keeps_its_digest(
    tmp_path, demo_dir, monkeypatch
):
    wav = tmp_path / "a.wav"
    shutil.copy(next((demo_dir / "wav").glob("*.wav")), wav)
    reads = []
    real = digests.hash_file
    monkeypatch.setattr(digests, "hash_file", lambda p: reads.append(p) or real(p))
    first = digests.DigestState(tmp_path).digests([str(wav)])
    again = digests.DigestState(tmp_path).digests([str(wav)])  # a new process: the state file
    assert first == again and len(reads) == 1
    os.utime(wav, ns=(1, 1))
    touched = digests.DigestState(tmp_path).digests([str(wav)])
    assert touched == first and len(reads) == 2  # re-read once, same digest
    wav.write_bytes(wav.read_bytes()[:-2] + b"\x01\x02")
    assert digests.DigestState(tmp_path).digests([str(wav)]) != first
    assert digests.DigestState(tmp_path).digests([str(tmp_path / "gone.wav")]) == {
        str(tmp_path / "gone.wav"): digests.MISSING
    }


def test_two_processes_share_the_state_file(tmp_path, demo_dir):
    files = sorted(str(p) for p in (demo_dir / "wav").glob("*.wav"))[:200]
    code = (
        "import sys; from sauti.core.digests import DigestState; "
        "DigestState(sys.argv[1]).digests(sys.argv[2:])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), *part])
        for part in (files[::2], files[1::2], files)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    state = digests.DigestState(tmp_path)
    found = state.digests(files)
    assert len(state._load()) == len(files) and digests.MISSING not in found.values()
    assert found == {f: digests.hash_file(f) for f in files}


def test_a_job_stops_when_its_data_changed_after_planning(tmp_path, demo_dir):
    from sauti.stages.samples import samples_stage

    table = small_table(demo_dir, ["allison", "june"], 2)
    table.to_csv(tmp_path / "db.csv", index=False)
    configfile = write(tmp_path, experiment(tmp_path / "db.csv"))
    registry = registry_from_files([str(configfile)])
    stage = registry.plans[0].samples["own"]
    changed = tmp_path / "db.csv"
    table.iloc[:3].to_csv(changed, index=False)  # a row gone after the DAG was built
    out = Path(registry.path("samples", stage.key))
    with pytest.raises(SautiError, match="changed while the workflow ran"):
        samples_stage(stage.params, stage.content, str(out))
    assert not out.exists()


def test_audformat_digests_split_by_meaning(tmp_path, demo_dir):
    """An audformat folder: a label edit changes only the table digest, a replaced recording
    only the audio digest."""
    audformat = pytest.importorskip("audformat")
    wavs = (
        sorted((demo_dir / "wav").glob("allison_*.wav"))[:2]
        + sorted((demo_dir / "wav").glob("carlo_*.wav"))[:2]
    )
    folder = tmp_path / "db"
    (folder / "audio").mkdir(parents=True)
    for wav in wavs:
        shutil.copy(wav, folder / "audio" / wav.name)
    db = audformat.Database(name="tiny")
    db.schemes["gender"] = audformat.Scheme("str", labels=["female", "male"])
    db["files"] = audformat.Table(audformat.filewise_index([f"audio/{w.name}" for w in wavs]))
    db["files"]["gender"] = audformat.Column(scheme_id="gender")
    db["files"]["gender"].set(["female", "female", "male", "male"])
    db.save(str(folder))
    spec = {"path": str(folder), "type": "audformat"}
    before = data_digests.database_content("tiny", spec, tmp_path)
    assert set(before) == {"ids", "audio", "table"}
    db["files"]["gender"].set(["male", "female", "male", "male"])
    db.save(str(folder))
    relabelled = data_digests.database_content("tiny", spec, tmp_path)
    assert relabelled["table"] != before["table"]
    assert relabelled["ids"] == before["ids"] and relabelled["audio"] == before["audio"]
    shutil.copy(wavs[3], folder / "audio" / wavs[0].name)  # another recording, same name
    replaced = data_digests.database_content("tiny", spec, tmp_path)
    assert replaced["audio"] != relabelled["audio"]
    assert replaced["ids"] == relabelled["ids"] and replaced["table"] == relabelled["table"]


def test_a_local_model_folder_is_keyed_by_its_files(tmp_path, demo_dir):
    """An embedding model given as a local folder: new weights under the same path re-key
    its features (a hub name is keyed by its name)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "weights.bin").write_bytes(b"\0" * 64)
    table = small_table(demo_dir, ["allison"], 2)
    table.to_csv(tmp_path / "db.csv", index=False)
    cfg = experiment(tmp_path / "db.csv")
    cfg["FEATS"] = {"type": ["wav2vec2"], "wav2vec2.model": str(model)}
    configfile = write(tmp_path, cfg)
    first = registry_from_files([str(configfile)]).plans[0]
    (model / "weights.bin").write_bytes(b"\1" * 64)
    second = registry_from_files([str(configfile)]).plans[0]
    assert first.features[0].key != second.features[0].key
    assert first.samples["own"].key == second.samples["own"].key


def test_provenance_names_lock_commit_and_libraries(tmp_path):
    from sauti.core import provenance

    assert provenance.lock_digest(tmp_path) is None  # no lock files: recorded as absent
    (tmp_path / "base.txt").write_text("numpy==2.0.0 --hash=sha256:00\n")
    first = provenance.lock_digest(tmp_path)
    (tmp_path / "base.txt").write_text("numpy==2.0.1 --hash=sha256:00\n")
    assert provenance.lock_digest(tmp_path) not in (None, first)
    commit = provenance.git_commit()
    if (provenance.CHECKOUT / ".git").exists():
        assert len(commit.split("+")[0]) == 40
    record = provenance.record({"db": {"audio": "x"}})
    assert record["libraries"]["pandas"] and record["inputs"] == {"db": {"audio": "x"}}


def test_a_corrupt_state_file_only_costs_rehashing(tmp_path, demo_dir):
    wav = next((demo_dir / "wav").glob("*.wav"))
    state_file = tmp_path / "cache" / digests.STATE_FILE
    state_file.parent.mkdir()
    state_file.write_bytes(b"not a database" * 100)
    found = digests.DigestState(tmp_path).digests([str(wav)])
    assert found == {str(wav): digests.hash_file(wav)}


def test_a_local_pretrained_model_folder_keys_finetune(tmp_path, demo_dir):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    table = small_table(demo_dir, ["allison"], 2)
    table.to_csv(tmp_path / "db.csv", index=False)
    cfg = experiment(tmp_path / "db.csv")
    cfg["MODEL"] = {"type": "finetune", "pretrained_model": str(model)}
    configfile = write(tmp_path, cfg)
    first = registry_from_files([str(configfile)]).plans[0]
    (model / "model.safetensors").write_bytes(b"\1" * 64)
    second = registry_from_files([str(configfile)]).plans[0]
    assert first.train.stage == "finetune" and first.train.key != second.train.key
    assert first.split.key == second.split.key
