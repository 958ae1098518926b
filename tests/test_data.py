"""Loading databases and selecting/splitting samples, on the real demo corpus.

Why these checks: every later stage trusts the samples table (absolute paths, whole-file or
segment start/end, checked audio) and the split (speaker-disjoint, seeded, every class in
test). Bad input -- a missing, corrupt or empty file, a wrong column or label -- must stop the
run with one line naming the file or key, not a traceback three stages later.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sauti.core.errors import SautiError
from sauti.ml.data import ID, load_database, select_and_split, summary

WAVS = ["allison_digit0.wav", "allison_digit1.wav", "carlo_digit0.wav", "carlo_digit1.wav"]
SPEAKERS = ["allison", "allison", "carlo", "carlo"]
GENDERS = ["female", "female", "male", "male"]


def db_spec(**options) -> dict:
    """One database's split options with the schema's defaults."""
    spec = {
        "split_strategy": "speaker_split",
        "test_size": 20,
        "dev_size": None,
        "mapping": {},
        "filter": [],
        "balance": [],
    }
    spec.update(options)
    return spec


def params(db: dict | None = None, databases: dict | None = None, **overrides) -> dict:
    """select_and_split params as the plan hands them over (resolved defaults)."""
    out = {
        "target": "gender",
        "labels": "all",
        "type": "classification",
        "min_length": None,
        "max_length": None,
        "samples_per_speaker": None,
        "random_seed": 42,
        "traindevtest": False,
        "databases": databases or {"demo": db_spec(**(db or {}))},
    }
    out.update(overrides)
    return out


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


@pytest.fixture(scope="module")
def demo(demo_dir) -> pd.DataFrame:
    """The whole demo corpus loaded once as a samples table."""
    return load_database("demo", {"path": str(demo_dir / "demo.csv")})


@pytest.fixture
def corpus(tmp_path, demo_dir) -> Path:
    """Four real recordings copied to tmp_path/corpus/wav."""
    folder = tmp_path / "corpus" / "wav"
    folder.mkdir(parents=True)
    for name in WAVS:
        shutil.copy(demo_dir / "wav" / name, folder / name)
    return folder


def write_csv(path: Path, files: list[str], **columns) -> str:
    n = len(files)
    table = pd.DataFrame(
        {"file": files, "speaker": (SPEAKERS * 3)[:n], "gender": (GENDERS * 3)[:n], **columns}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return str(path)


# --------------------------------------------------------------------------- loading


def test_demo_csv_loads_with_absolute_paths_and_whole_file_segments(demo, demo_table):
    assert len(demo) == len(demo_table) == 517
    assert list(demo.columns[:3]) == ID
    assert all(os.path.isabs(f) and os.path.isfile(f) for f in demo["file"])
    assert (demo["start"] == 0).all()
    durations = {f: sf.info(f).duration for f in demo["file"]}
    np.testing.assert_allclose(demo["end"], demo["file"].map(durations), atol=1e-9)
    np.testing.assert_allclose(demo["duration"], demo["end"] - demo["start"])
    assert (demo["db"] == "demo").all()
    for column in ("speaker", "gender", "language", "word", "source", "rate"):
        assert column in demo.columns
    expected = demo_table.set_index("file")["end"]
    np.testing.assert_allclose(demo["end"], demo["file"].map(expected))


def test_relative_paths_resolve_against_the_csv_folder(tmp_path, corpus, monkeypatch):
    csv = write_csv(tmp_path / "corpus" / "meta.csv", [f"wav/{w}" for w in WAVS])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    table = load_database("rel", {"path": csv})
    assert list(table["file"]) == [str(corpus / w) for w in WAVS]
    # the CSV path itself is relative to the working directory
    monkeypatch.chdir(tmp_path)
    again = load_database("rel", {"path": "corpus/meta.csv"})
    assert list(again["file"]) == [str(corpus / w) for w in WAVS]


def test_audio_path_option(tmp_path, corpus, monkeypatch):
    csv = write_csv(tmp_path / "meta" / "list.csv", WAVS)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SautiError, match="4 of 4 audio files are missing"):
        load_database("ap", {"path": csv})
    table = load_database("ap", {"path": csv, "audio_path": "corpus/wav"})
    assert list(table["file"]) == [str(corpus / w) for w in WAVS]


def test_colnames_rename_columns(tmp_path, corpus):
    csv = tmp_path / "renamed.csv"
    pd.DataFrame({"path": [str(corpus / w) for w in WAVS], "spk": SPEAKERS, "sex": GENDERS}).to_csv(
        csv, index=False
    )
    table = load_database(
        "cn", {"path": str(csv), "colnames": {"path": "file", "spk": "speaker", "sex": "gender"}}
    )
    assert list(table["speaker"]) == SPEAKERS
    assert list(table["gender"]) == GENDERS
    assert not {"path", "spk", "sex"} & set(table.columns)


def test_start_end_segments_are_respected(tmp_path, corpus):
    wav = str(corpus / WAVS[0])
    csv = write_csv(tmp_path / "seg.csv", [wav, wav], start=[0.0, 0.3], end=[0.3, 0.6])
    table = load_database("seg", {"path": csv})
    assert len(table) == 2 and table["file"].nunique() == 1
    assert list(table["start"]) == [0.0, 0.3]
    assert list(table["end"]) == [0.3, 0.6]
    np.testing.assert_allclose(table["duration"], [0.3, 0.3])


def test_segments_as_timedelta_strings(tmp_path, corpus):
    """audformat/Nkululeko write segment bounds like '0 days 00:00:00.300000'."""
    wav = str(corpus / WAVS[0])
    csv = write_csv(
        tmp_path / "seg.csv",
        [wav, wav],
        start=["0 days 00:00:00", "0 days 00:00:00.300000"],
        end=["0 days 00:00:00.300000", "0 days 00:00:00.600000"],
    )
    table = load_database("seg", {"path": csv})
    np.testing.assert_allclose(table["start"], [0.0, 0.3])
    np.testing.assert_allclose(table["end"], [0.3, 0.6])
    np.testing.assert_allclose(table["duration"], [0.3, 0.3])


def test_missing_end_means_whole_file(tmp_path, corpus):
    wav = str(corpus / WAVS[0])
    csv = write_csv(tmp_path / "seg.csv", [wav, wav], start=[0.0, 0.2], end=[0.3, np.nan])
    table = load_database("seg", {"path": csv})
    assert table["end"].iloc[1] == pytest.approx(sf.info(wav).duration)


# --------------------------------------------------------------------------- bad audio


def bad_audio(folder: Path, kind: str, demo_wav: Path | None = None) -> Path:
    """A file of each unusable kind, made the way users meet them."""
    path = folder / f"{kind.split()[0]}.wav"
    if kind == "missing":
        return folder / "nothere.wav"
    if kind == "not audio":
        path.write_bytes(b"this is not audio at all " * 100)
    elif kind == "empty (0 bytes)":
        path.write_bytes(b"")
    elif kind == "too short (no samples)":
        sf.write(path, np.zeros(0, dtype="float32"), 16000)
    elif kind.startswith("unreadable header"):  # a copy cut off inside its header
        path.write_bytes((demo_wav or next(folder.glob("*.wav"))).read_bytes()[:30])
    elif kind == "unsupported codec (AMR)":  # real speech, encoded by sox as AMR-NB
        path = folder / "speech.amr"
        subprocess.run(
            ["sox", str(demo_wav or folder / WAVS[0]), "-r", "8000", "-t", "amr-nb", str(path)],
            check=True,
            capture_output=True,
        )
    return path


BAD_KINDS = [
    "missing",
    "empty (0 bytes)",
    "not audio",
    "too short (no samples)",
    "unreadable header (Error in WAV file. No 'data' chunk marker.)",
    "unsupported codec (AMR)",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_audio_stops_with_one_line_naming_file_and_reason(tmp_path, corpus, kind):
    if kind.endswith("(AMR)") and not shutil.which("sox"):
        pytest.skip("sox is not installed")
    bad = bad_audio(corpus, kind)
    csv = write_csv(tmp_path / "t.csv", [str(corpus / w) for w in WAVS] + [str(bad)])
    with pytest.raises(SautiError) as info:  # 1 of 5 is far over the 1 % dropped by default
        load_database("mydb", {"path": csv})
    text = one_line(info)
    assert text.startswith(f"DATA.mydb: 1 of 5 audio files are {kind}: {bad} (20.0 % ")
    assert "20.0 % of the files: more than the 1 %" in text and "DATA.skip_bad: true" in text


def test_bad_audio_lists_the_first_five_and_writes_every_reason_to_a_csv(tmp_path, corpus):
    from sauti.ml.drops import DropLog

    kinds = [k for k in BAD_KINDS if not k.endswith("(AMR)")]
    made = {}
    for copy in range(2):  # 10 unusable files, 2 of each kind
        folder = corpus / f"bad{copy}"
        folder.mkdir()
        made.update(
            {str(bad_audio(folder, k, corpus / WAVS[0])): k.split(" (Error")[0] for k in kinds}
        )
    files = [str(corpus / w) for w in WAVS] + list(made)
    csv = write_csv(tmp_path / "t.csv", files, speaker="s", gender="female")
    drops = DropLog("samples", tmp_path / "stage")
    with pytest.raises(SautiError) as info:
        load_database("mydb", {"path": csv}, drops=drops)
    text = one_line(info)
    assert "10 of 14 audio files are unusable: " in text
    assert sum(f in text for f in made) == 5 and ", ..." in text
    assert f"full list in {tmp_path / 'stage' / 'bad_audio.csv'}" in text
    listed = pd.read_csv(tmp_path / "stage" / "bad_audio.csv")
    assert list(listed.columns) == ["file", "reason"] and len(listed) == 10
    for file, reason in zip(listed["file"], listed["reason"], strict=True):
        assert reason.startswith(made[file]), (file, reason)


def with_bad_files(tmp_path, demo_dir, n_bad: int) -> tuple[str, list[str]]:
    """The whole demo corpus (517 real files) plus `n_bad` empty files."""
    table = pd.read_csv(demo_dir / "demo.csv")
    table["file"] = [str(demo_dir / f) for f in table["file"]]
    bad = []
    for i in range(n_bad):
        bad.append(str(tmp_path / f"empty{i}.wav"))
        Path(bad[-1]).write_bytes(b"")
    rows = table.head(n_bad).assign(file=bad)
    path = tmp_path / "with_bad.csv"
    pd.concat([table, rows]).to_csv(path, index=False)
    return str(path), bad


def test_unusable_audio_up_to_one_percent_is_dropped_by_default(tmp_path, demo_dir):
    from sauti.ml.drops import DropLog

    csv, bad = with_bad_files(tmp_path, demo_dir, 5)  # 5 of 522: 0.96 %
    drops = DropLog("samples", tmp_path / "stage")
    table = load_database("demo", {"path": csv}, drops=drops)
    assert len(table) == 517 and not set(bad) & set(table["file"])
    drops.write()
    (entry,) = json.loads((tmp_path / "stage" / "drops.json").read_text())
    assert entry["reason"] == "unusable audio: empty (0 bytes)"
    assert (entry["count"], entry["total"], entry["unit"]) == (5, 522, "audio files")
    assert entry["examples"] == bad
    assert len(pd.read_csv(tmp_path / "stage" / "bad_audio.csv")) == 5
    with pytest.raises(SautiError) as info:  # DATA.skip_bad: false stops even for one file
        load_database("demo", {"path": csv}, skip_bad=False)
    assert "DATA.skip_bad: false" in one_line(info)


def test_unusable_audio_over_one_percent_stops_unless_skip_bad(tmp_path, demo_dir):
    csv, bad = with_bad_files(tmp_path, demo_dir, 6)  # 6 of 523: 1.15 %
    with pytest.raises(SautiError) as info:
        load_database("demo", {"path": csv})
    text = one_line(info)
    assert "6 of 523 audio files are empty (0 bytes): " in text and "1.1 % of the files" in text
    assert "hint: fix or remove them, or set DATA.skip_bad: true" in text
    assert len(load_database("demo", {"path": csv}, skip_bad=True)) == 517


def test_segment_ending_after_its_file(tmp_path, corpus):
    wav = str(corpus / WAVS[0])
    duration = sf.info(wav).duration
    csv = write_csv(tmp_path / "seg.csv", [wav, wav], start=[0.0, 0.2], end=[0.3, duration + 1])
    with pytest.raises(SautiError) as info:
        load_database("seg", {"path": csv})
    text = one_line(info)
    assert "1 of 2 segments" in text and "end after their file" in text and wav in text
    table = load_database("seg", {"path": csv}, skip_bad=True)
    assert len(table) == 1 and table["end"].iloc[0] == 0.3


def test_check_size_drops_tiny_files(tmp_path, corpus):
    signal, rate = sf.read(corpus / WAVS[0])
    tiny = corpus / "tiny.wav"
    sf.write(tiny, signal[:160], rate)  # 10 ms of real speech: valid audio, a few hundred bytes
    assert os.path.getsize(tiny) < 1000 < min(os.path.getsize(corpus / w) for w in WAVS)
    csv = write_csv(tmp_path / "t.csv", [str(corpus / w) for w in WAVS] + [str(tiny)])
    assert len(load_database("cs", {"path": csv})) == 5
    table = load_database("cs", {"path": csv}, check_size=1000)
    assert len(table) == 4 and str(tiny) not in set(table["file"])


def test_csv_without_file_column(tmp_path, corpus):
    csv = tmp_path / "nofile.csv"
    pd.DataFrame({"wav": [str(corpus / w) for w in WAVS], "speaker": SPEAKERS}).to_csv(
        csv, index=False
    )
    with pytest.raises(SautiError) as info:
        load_database("nf", {"path": str(csv)})
    text = one_line(info)
    assert "DATA.nf" in text and str(csv) in text and "'file'" in text and "wav" in text


def test_missing_database_path(tmp_path):
    with pytest.raises(SautiError) as info:
        load_database("gone", {"path": str(tmp_path / "gone.csv")})
    text = one_line(info)
    assert "DATA.gone" in text and "gone.csv" in text and "does not exist" in text


# --------------------------------------------------------------------------- selection errors


def test_missing_target_column(demo):
    with pytest.raises(SautiError) as info:
        select_and_split({"demo": demo}, params(target="emotion"))
    text = one_line(info)
    assert "DATA.target" in text and "'emotion'" in text and "'demo'" in text


def test_label_that_does_not_occur(demo):
    with pytest.raises(SautiError) as info:
        select_and_split({"demo": demo}, params(labels=["female", "child"]))
    text = one_line(info)
    assert "DATA.labels" in text and "'child'" in text and "female" in text


def test_filter_leaving_nothing(demo):
    with pytest.raises(SautiError) as info:
        select_and_split({"demo": demo}, params({"filter": [["language", "xx"]]}))
    text = one_line(info)
    assert "DATA.demo.filter" in text and "no samples" in text


def test_filter_on_unknown_column(demo):
    with pytest.raises(SautiError, match="no column 'dialect'"):
        select_and_split({"demo": demo}, params({"filter": [["dialect", "x"]]}))


def test_regression_target_must_be_numeric(demo):
    with pytest.raises(SautiError) as info:
        select_and_split({"demo": demo}, params(type="regression"))
    text = one_line(info)
    assert "'gender'" in text and "not numbers" in text and "517" in text


def test_length_filters_leaving_nothing(demo):
    with pytest.raises(SautiError, match="empty after filtering"):
        select_and_split({"demo": demo}, params(min_length=100.0))


def test_empty_test_split_is_a_clear_error(demo):
    with pytest.raises(SautiError) as info:
        select_and_split({"demo": demo}, params({"split_strategy": "train"}))
    text = one_line(info)
    assert "test split is empty" in text


# --------------------------------------------------------------------------- splits


def speakers_of(data: pd.DataFrame, split: str) -> set:
    return set(data.loc[data["split"] == split, "speaker"])


def test_speaker_split_is_speaker_disjoint(demo):
    data = select_and_split({"demo": demo}, params())
    assert len(data) == len(demo)
    assert set(data["split"]) == {"train", "test"}
    assert not speakers_of(data, "train") & speakers_of(data, "test")
    share = (data["split"] == "test").mean()
    assert 0.1 < share < 0.35
    # every speaker entirely in one split
    assert (data.groupby("speaker")["split"].nunique() == 1).all()


def test_split_is_seeded(demo):
    first = select_and_split({"demo": demo}, params())
    again = select_and_split({"demo": demo}, params())
    pd.testing.assert_frame_equal(first, again)
    other = select_and_split({"demo": demo}, params(random_seed=7))
    assert speakers_of(first, "test") != speakers_of(other, "test")


def test_test_size_changes_the_split(demo):
    small = select_and_split({"demo": demo}, params({"test_size": 10}))
    large = select_and_split({"demo": demo}, params({"test_size": 40}))
    n_small = len(speakers_of(small, "test"))
    n_large = len(speakers_of(large, "test"))
    assert n_large > 2 * n_small
    assert (large["split"] == "test").sum() > 2 * (small["split"] == "test").sum()
    # a share below 1 is a fraction
    fraction = select_and_split({"demo": demo}, params({"test_size": 0.4}))
    pd.testing.assert_frame_equal(fraction, large)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_class_reaches_the_test_split(demo, seed):
    labels = ["en", "de", "zh", "fr", "it"]
    data = select_and_split(
        {"demo": demo},
        params({"test_size": 10}, target="language", labels=labels, random_seed=seed),
    )
    assert set(data.loc[data["split"] == "test", "language"]) == set(labels)
    assert not speakers_of(data, "train") & speakers_of(data, "test")


def test_traindevtest_gives_three_disjoint_speaker_sets(demo):
    data = select_and_split({"demo": demo}, params(traindevtest=True))
    train, dev, test = (speakers_of(data, s) for s in ("train", "dev", "test"))
    assert train and dev and test
    assert not train & dev and not train & test and not dev & test
    assert train | dev | test == set(demo["speaker"])
    for split in ("dev", "test"):
        assert set(data.loc[data["split"] == split, "gender"]) == {"female", "male"}


def test_random_split_is_row_level_and_near_the_share(demo):
    data = select_and_split({"demo": demo}, params({"split_strategy": "random", "test_size": 30}))
    share = (data["split"] == "test").mean()
    assert abs(share - 0.3) < 0.02
    assert len(speakers_of(data, "train") & speakers_of(data, "test")) > 10
    for gender in ("female", "male"):  # stratified by label
        rows = data[data["gender"] == gender]
        assert abs((rows["split"] == "test").mean() - 0.3) < 0.02
    again = select_and_split({"demo": demo}, params({"split_strategy": "random", "test_size": 30}))
    pd.testing.assert_frame_equal(data, again)


def test_balanced_split_keeps_speakers_apart_and_label_shares_close(demo):
    data = select_and_split(
        {"demo": demo}, params({"split_strategy": "balanced", "balance": ["source"]})
    )
    assert not speakers_of(data, "train") & speakers_of(data, "test")
    for column in ("gender", "source"):
        shares = data.groupby("split")[column].value_counts(normalize=True).unstack(fill_value=0)
        assert (shares.loc["train"] - shares.loc["test"]).abs().max() < 0.1, column


def test_list_of_test_speakers(demo):
    data = select_and_split({"demo": demo}, params({"split_strategy": ["allison", "carlo"]}))
    assert speakers_of(data, "test") == {"allison", "carlo"}
    assert (data["split"] == "test").sum() == 20


def test_unknown_test_speaker(demo):
    with pytest.raises(SautiError, match="nobody"):
        select_and_split({"demo": demo}, params({"split_strategy": ["allison", "nobody"]}))


def test_specified_split_uses_the_split_column(demo):
    table = demo.copy()
    table["split"] = np.where(table["word"].isin(["digit8", "digit9"]), "test", "train")
    table.loc[table["word"] == "digit7", "split"] = "dev"
    data = select_and_split({"demo": table}, params({"split_strategy": "specified"}))
    merged = data.merge(table[ID + ["split"]], on=ID, suffixes=("", "_given"))
    assert len(merged) == len(table)
    assert (merged["split"] == merged["split_given"]).all()
    with pytest.raises(SautiError, match="'split' column"):
        select_and_split({"demo": demo}, params({"split_strategy": "specified"}))


def test_train_and_test_roles_across_two_databases(demo):
    tables = {"real": demo.assign(db="real"), "synth": demo.assign(db="synth")}
    data = select_and_split(
        tables,
        params(
            databases={
                "real": db_spec(split_strategy="train", filter=[["source", "real"]]),
                "synth": db_spec(split_strategy="test", filter=[["source", "espeak"]]),
            }
        ),
    )
    assert len(data) == len(demo)
    assert set(data.loc[data["split"] == "train", "source"]) == {"real"}
    assert set(data.loc[data["split"] == "test", "source"]) == {"espeak"}
    assert set(data.loc[data["split"] == "train", "db"]) == {"real"}
    assert set(data.loc[data["split"] == "test", "db"]) == {"synth"}


def test_samples_per_speaker(demo):
    data = select_and_split({"demo": demo}, params(samples_per_speaker=3))
    counts = data.groupby("speaker").size()
    expected = demo.groupby("speaker").size().clip(upper=3)
    pd.testing.assert_series_equal(counts, expected)
    again = select_and_split({"demo": demo}, params(samples_per_speaker=3))
    pd.testing.assert_frame_equal(data, again)
    other = select_and_split({"demo": demo}, params(samples_per_speaker=3, random_seed=1))
    assert set(data["file"]) != set(other["file"])


def test_min_and_max_length(demo):
    data = select_and_split({"demo": demo}, params(min_length=0.5, max_length=1.0))
    assert data["duration"].between(0.5, 1.0).all()
    assert len(data) == demo["duration"].between(0.5, 1.0).sum()
    assert len(data) < len(demo)


def test_mapping_renames_labels(demo):
    data = select_and_split({"demo": demo}, params({"mapping": {"female": "f", "male": "m"}}))
    assert set(data["gender"]) == {"f", "m"}
    assert (data["gender"] == "f").sum() == (demo["gender"] == "female").sum()


def test_mapping_with_comma_keys(demo):
    mapping = {"en,de": "germanic", "fr, it,es": "romance"}
    data = select_and_split(
        {"demo": demo},
        params(
            {"mapping": mapping, "test_size": 30}, target="language", labels=["germanic", "romance"]
        ),
    )
    assert set(data["language"]) == {"germanic", "romance"}
    expected = demo["language"].isin(["en", "de", "fr", "it", "es"]).sum()
    assert len(data) == expected
    collapsed = select_and_split({"demo": demo}, params({"mapping": {"female,male": "person"}}))
    assert set(collapsed["gender"]) == {"person"}


def test_numeric_labels_are_text(demo, tmp_path):
    table = demo.assign(code=np.where(demo["gender"] == "female", 1, 0))
    data = select_and_split({"demo": table}, params(target="code", labels=[1, 0]))
    assert set(data["code"]) == {"0", "1"}


def test_regression_target_on_the_synthetic_part(demo):
    data = select_and_split(
        {"demo": demo}, params({"filter": [["source", "espeak"]]}, target="rate", type="regression")
    )
    assert len(data) == 400
    assert data["rate"].dtype == float
    assert not speakers_of(data, "train") & speakers_of(data, "test")


def test_summary_counts(demo):
    data = select_and_split({"demo": demo}, params())
    info = summary(data, "gender", True)
    assert sum(info["samples"].values()) == 517
    assert info["databases"] == {"demo": 517}
    assert sum(info["speakers"].values()) == demo["speaker"].nunique()
    per = info["per_split_label"]
    assert per["test"]["female"] == ((data["split"] == "test") & (data["gender"] == "female")).sum()


# --------------------------------------------------------------------------- audformat


def test_audformat_database(tmp_path, corpus):
    audformat = pytest.importorskip("audformat")
    folder = tmp_path / "tiny_db"
    (folder / "audio").mkdir(parents=True)
    for name in WAVS:
        shutil.copy(corpus / name, folder / "audio" / name)
    db = audformat.Database(name="tiny")
    db.schemes["speaker"] = audformat.Scheme("str")
    db.schemes["gender"] = audformat.Scheme("str", labels=["female", "male"])
    db["files"] = audformat.Table(audformat.filewise_index([f"audio/{w}" for w in WAVS]))
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set(SPEAKERS)
    db["files"]["gender"] = audformat.Column(scheme_id="gender")
    db["files"]["gender"].set(GENDERS)
    db.save(str(folder))
    shutil.rmtree(corpus.parent)  # only the database's own copies remain
    for kind in (None, "audformat"):
        table = load_database("tiny", {"path": str(folder), "type": kind})
        assert list(table["file"]) == [str(folder / "audio" / w) for w in WAVS]
        assert list(table["speaker"].astype(str)) == SPEAKERS
        assert list(table["gender"].astype(str)) == GENDERS
        assert (table["start"] == 0).all()
        np.testing.assert_allclose(
            table["end"], [sf.info(folder / "audio" / w).duration for w in WAVS]
        )
        assert (table["db"] == "tiny").all()
    data = select_and_split(
        {"tiny": table},
        params(databases={"tiny": db_spec(split_strategy="random", test_size=50)}),
    )
    assert sorted(data.loc[data["split"] == "test", "gender"]) == ["female", "male"]
