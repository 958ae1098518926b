"""Build a small audformat database in the structure of emodb from the demo corpus.

    python resources/demo/build_audformat_db.py data/demo data/demo_audformat

Why: Nkululeko's hello world reads emodb, an audformat database whose `files` table holds the
speaker and transcription, whose speaker scheme maps speakers to gender and age, and whose
emotion labels come in an `emotion` table plus train/test tables
(`emotion.categories.train.gold_standard`, ...). No emotion corpus is obtainable here, so this
script gives the demo corpus's espeak speech (en-us voices, spoken digits) that structure:
the "emotion" is the speaking rate espeak was given (calm below 165 words per minute, excited
from 165: a real acoustic difference), the transcription is the spoken word, and each voice's
age is a fixed made-up number (the demo corpus has no ages; they only exercise the speaker
scheme). Four voices (two female, two male) are the test split, the rest train.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import audformat
import pandas as pd
import soundfile

TEST_SPEAKERS = ("espeak_en-us_f2", "espeak_en-us_linda", "espeak_en-us_m3", "espeak_en-us_david")
#: Speaking rate (espeak -s) from which a clip is "excited".
EXCITED_RATE = 165


def build(demo_dir: Path, out: Path) -> Path:
    demo_dir, out = Path(demo_dir), Path(out)
    table = pd.read_csv(demo_dir / "demo.csv")
    table = table[table["speaker"].str.startswith("espeak_en-us_") & table["rate"].notna()]
    (out / "wav").mkdir(parents=True, exist_ok=True)
    files = []
    for file in table["file"]:
        name = f"wav/{Path(file).name}"
        shutil.copyfile(demo_dir / file, out / name)
        files.append(name)
    durations = [soundfile.info(str(out / f)).duration for f in files]
    speakers = sorted(table["speaker"].unique())
    genders = table.groupby("speaker")["gender"].first()

    db = audformat.Database(
        name="demo_emodb",
        source="sauti demo corpus (espeak-ng speech)",
        usage=audformat.define.Usage.UNRESTRICTED,
        languages=["eng"],
        description="The demo corpus's espeak digits in emodb's structure (sauti tests).",
    )
    db.media["microphone"] = audformat.Media("other", format="wav", sampling_rate=16000)
    db.schemes["speaker"] = audformat.Scheme(
        "str",
        labels={s: {"gender": genders[s], "age": 20 + 3 * i} for i, s in enumerate(speakers)},
    )
    db.schemes["transcription"] = audformat.Scheme("str")
    db.schemes["duration"] = audformat.Scheme("time")
    db.schemes["emotion"] = audformat.Scheme("str", labels=["calm", "excited"])
    db.splits["train"] = audformat.Split("train")
    db.splits["test"] = audformat.Split("test")

    index = audformat.filewise_index(files)
    db["files"] = audformat.Table(index, media_id="microphone")
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set(table["speaker"].tolist())
    db["files"]["transcription"] = audformat.Column(scheme_id="transcription")
    db["files"]["transcription"].set(table["word"].tolist())
    db["files"]["duration"] = audformat.Column(scheme_id="duration")
    db["files"]["duration"].set(pd.to_timedelta(durations, unit="s"))

    emotion = ["excited" if r >= EXCITED_RATE else "calm" for r in table["rate"]]
    db["emotion"] = audformat.Table(index)
    db["emotion"]["emotion"] = audformat.Column(scheme_id="emotion")
    db["emotion"]["emotion"].set(emotion)
    is_test = table["speaker"].isin(TEST_SPEAKERS).to_numpy()
    for split, rows in (("train", ~is_test), ("test", is_test)):
        name = f"emotion.categories.{split}.gold_standard"
        db[name] = audformat.Table(
            audformat.filewise_index([f for f, r in zip(files, rows, strict=True) if r]),
            split_id=split,
        )
        db[name]["emotion"] = audformat.Column(scheme_id="emotion")
        db[name]["emotion"].set([e for e, r in zip(emotion, rows, strict=True) if r])
    db.save(str(out))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: build_audformat_db.py DEMO_DIR OUT_DIR")
    print(f"wrote {build(Path(sys.argv[1]), Path(sys.argv[2]))}")
