"""Nkululeko's experiment files run unchanged (issue 14).

One INI file per section, written in the forms of Nkululeko's INI reference (ini_file.md and
its module pages), holds every key of that section in sauti.nkululeko's table. Each key must
come out of `sauti convert` as the table says: honoured (the same key and value), translated
(the sauti key and value checked below), acknowledged (one warning line naming it) or, for a
key whose absence would change results, stopped with "not supported yet".
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sauti.app import cli
from sauti.config import nkululeko
from sauti.config.compose import expand
from sauti.config.read import read_file
from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError, schema
from sauti.config.schema import database_properties as _db_properties
from sauti.ml.data import select_and_split

BASE = """
[EXP]
name = nk
[DATA]
databases = ['demo']
demo = {demo}
target = gender
"""

#: One INI body per section, in Nkululeko's documented forms (values from its reference).
SECTIONS = {
    "EXP": """
        [EXP]
        root = ./results/
        name = results/my_exp
        type = classification
        runs = 1
        epochs = 3
        traindevtest = False
        sample_selection = all
        random_seed = 7
        databases = ['demo']
        store = ./store/
        fig_dir = ./images/
        res_dir = ./results/
        models_dir = ./models/
        save = True
        save_test = ./my_saved_test_predictions.csv
        use_splits = True
        export_onnx = False
        language = en
        no_warnings = True
        run = 0
        balancing = smote
        filter.sample_selection = all
        [DATA]
        databases = ['demo']
        demo = {demo}
        target = gender
    """,
    "DATA": """
        [EXP]
        name = nk
        [DATA]
        databases = ['demo']
        demo = {demo}
        target = gender
        labels = ['female', 'male']
        check_size = 1000
        no_reuse = False
        tests = []
        limit_samples_per_speaker = 20
        min_duration_of_sample = 0.0
        max_duration_of_sample = 5.0
        sample_selection = all
        filter = {{'language': 'en'}}
        balance = {{'gender': 2, 'language': 1}}
        type = continuous
        bins = False
        root_folders = False
        filter.sample_selection = all
        label_data = False
        label_result = False
        limit_samples = False
        min_dur_test = False
        target_divide_by = False
        target_tables_append = False
        trains = False
        check_vad = False
        size_diff_weight = 1
        age_bins = 2
        target_rate = 16000
        resample_action = warn
        strategy = train_test
    """,
    "DATABASE": """
        [EXP]
        name = nk
        traindevtest = True
        [DATA]
        databases = ['demo']
        demo = {demo}
        demo.type = csv
        demo.absolute_path = False
        demo.audio_path = {audio}
        demo.split_strategy = speakers_stated
        demo.test = ['allison', 'kal']
        demo.test_size = 30
        demo.tests_size = 25
        demo.dev_size = 20
        demo.mapping = {{'female': 'woman', 'male': 'man'}}
        demo.filter = [['language', ['en']]]
        demo.colnames = {{'word': 'text'}}
        demo.balance = {{'word': 1}}
        demo.files_tables = ['files']
        demo.target_tables = ['emotion']
        demo.train_tables = ['emotion.categories.train.gold_standard']
        demo.dev_tables = ['emotion.categories.dev.gold_standard']
        demo.test_tables = ['emotion.categories.test.gold_standard']
        demo.label = sex
        demo.as_test = False
        demo.as_train = False
        demo.columns = ['age', 'gender', 'speaker']
        demo.rename_speakers = False
        demo.train = False
        demo.dev = False
        demo.limit_samples = False
        demo.limit_samples_per_speaker = 8
        demo.min_duration_of_sample = 0.2
        demo.max_duration_of_sample = 3.0
        demo.required = False
        demo.scale = False
        demo.reverse = False
        demo.reverse.max = False
        target = gender
    """,
    "FEATS": """
        [FEATS]
        type = ['os', 'wavlm-large', 'hubert-xlarge-ll60k', 'wav2vec2-large-robust-12-ft-emotion-msp-dim', 'whisper-small']
        set = eGeMAPSv02
        level = functional
        import_file = ['feats.csv']
        fft_win_dur = 25
        fft_hop_dur = 10
        fft_nbands = 64
        scale = standard
        balancing = randomundersampler
        store_format = pkl
        no_reuse = False
        os.set = eGeMAPSv02
        wav2vec2.model = ./models/w2v2
        hubert.model = facebook/hubert-large-ll60k
        WavLM.model = microsoft/wavlm-large
        wavlm.model = microsoft/wavlm-large
        Spkrec.model = speechbrain/spkrec-ecapa-voxceleb
        ast.model = MIT/ast-finetuned-audioset-10-10-0.4593
        clap.model = laion/clap-htsat-unfused
        wav2vec2.layer = 0
        hubert.layer = 2
        wavlm.layer = -1
        balancing_random_state = 42
        needs_feature_extraction = False
        print_feats = True
        fail_threshold = 0.5
        nan_strategy = False
        import_files_append = True
        features = False
        os.features = False
        praat.features = False
        with_os = False
        bert.model = False
        bert.layer = False
        bert.text_column = False
        emotion2vec.model = False
        agender.model = False
        aud.model = False
        audmodel.id = False
        audmodel.embeddings_name = False
        mld.model = False
        mld.df = False
        min_syls = False
        trill.model = False
        xbow.model = False
        size = False
        assignments = False
        lfcc.fft_length = False
        lfcc.frame_length = False
        lfcc.frame_period = False
        lfcc.n_lfcc = False
        lfcc.sample_rate = False
        cqcc.frame_period = False
        cqcc.n_cqcc = False
        cqcc.n_cqt_bins = False
        cqcc.sample_rate = False
        sptk.features = False
        sptk.fft_length = False
        sptk.frame_length = False
        sptk.frame_period = False
        sptk.n_channel = False
        sptk.sample_rate = False
    """,
    "MODEL": """
        [MODEL]
        type = nb
        C_val = 10
        kernel = rbf
        gamma = scale
        K_val = 5
        KNN_weights = distance
        weights = uniform
        n_estimators = 100
        max_depth = 6
        class_weight = False
        GMM_components = 4
        GMM_covariance_type = full
        logo = False
        loso = False
        k_fold_cross = False
        learning_rate = 0.0001
        batch_size = 8
        drop = 0.1
        layers = [64, 16]
        activation = relu
        optimizer = adamw
        loss = cross
        measure = uar
        patience = 5
        device = cpu
        pretrained_model = microsoft/wavlm-base
        max_duration = 8.0
        push_to_hub = False
        hf_token = False
        random_seed = 42
        validation_split = 0.1
        balancing = smote
        save = True
        n_jobs = 4
        only_test = False
        tuning_params = False
        eval_metric = logloss
        early_stopping_rounds = False
        subsample = 1.0
        colsample_bytree = 1.0
        scheduler = none
        scheduler.gamma = False
        scheduler.step_size = False
        warmup_epochs = False
        weight_decay = False
        momentum = False
        label_smoothing = 0.0
        max_grad_norm = False
        feature_noise = False
        focal.alpha = False
        focal.gamma = False
        threshold = False
        nan_strategy = False
        adm.branches = False
        adm.fusion = False
        adm.hidden_dim = False
    """,
    "PLOT": """
        [PLOT]
        format = png
        ccc = False
        combine_per_speaker = mode
        best_model = False
        kind = violin
        titles = True
        name = my_special_config_within_the_experiment
        epochs = False
        anim_progression = False
        fps = 1
        epoch_progression = False
        fill_areas = False
        uncertainty_threshold = .6
        runs_compare = features
    """,
    "EXPL": """
        [EXPL]
        value_counts = [['gender'], ['speaker']]
        feature_distributions = False
        max_feats = 10
        model = ['log_reg']
        permutation = False
        scatter = ['pca']
        plot_tree = False
        shap = False
        print_stats = False
        tsne = True
        umap = False
        pca = True
        scatter.target = ['gender']
        scatter.dim = 2
        ignore_gender = False
        age.bin_reals = True
        dist_type = kde
        spotlight = False
        print_colvals = False
        plot_features = ['meanF0Hz']
        regplot = [['feat_a', 'feat_b']]
    """,
    "PREDICT": """
        [PREDICT]
        targets = ['snr']
        sample_selection = all
        target_language = en
        textclassifier.candidates = ['sadness', 'anger', 'neutral']
    """,
    "SEGMENT": """
        [SEGMENT]
        method = silero
        min_length = 2
        max_length = 10
        sample_selection = all
        result = segmented.csv
        output_audio = False
        audio_format = wav
        audio_dir = segments
        sampling_rate = 16000
        include_silence_borders = False
    """,
    "AUGMENT": """
        [AUGMENT]
        augment = ['traditional', 'random_splice']
        augmentations = Compose([AddGaussianNoise(min_amplitude=0.001, max_amplitude=0.05),Shift(p=0.5),PitchShift(),])
        sample_selection = train
        result = augmented.csv
        p_reverse = 0.3
        top_db = 12
        transformations = False
        bypass_prob = False
        crop_dur = False
    """,
    "RESAMPLE": """
        [RESAMPLE]
        replace = False
        target = data_resampled.csv
        sample_selection = train
    """,
    "REPORT": """
        [REPORT]
        show = False
        latex = my_latex_document
        title = My experiment
        author = Me
        fresh = True
    """,
    "OPTIM": """
        [MODEL]
        type = mlp
        [OPTIM]
        model = mlp
        search_strategy = random
        n_iter = 4
        cv_folds = 3
        metric = f1
        lr = [0.0001, 0.001]
        bs = [8, 16]
        do = [0.1, 0.3]
        C = [0.1, 1.0]
        loss = ['cross', 'mse']
        n_estimators = [50, 100]
        max_depth = [3, 6]
        nlayers = False
        nnodes = False
    """,
    "FLAGS": """
        [FLAGS]
        models = ['xgb', 'svm']
        features = ['praat', 'os']
        balancing = ['none', 'ros']
        scale = ['none', 'standard']
        learning_rate = [0.01, 0.1]
        name_target = False
    """,
    "ENSEMBLE": """
        [EXP]
        name = both
        [ENSEMBLE]
        experiments = ['{members}/a.ini', '{members}/b.ini']
        method = max_class
        threshold = 1.0
        weights = False
        outfile = ensemble_result.csv
        no_labels = False
    """,
    "EXPORT": """
        [EXPORT]
        target_root = ./exported_data/
        orig_root = ../data/emodb/wav
        data_name = exported_database
        segments_as_files = False
        root = ./exported_data/
        bundle_path = ./my_polish_bundle
    """,
    "CROSSDB": """
        [CROSSDB]
        train_extra = False
    """,
}

#: What each translated key becomes in `sauti convert`'s YAML: (section, key) -> {path: value}.
TRANSLATED = {
    ("EXP", "name"): {"EXP.name": "my_exp", "EXP.root": "results/results"},
    ("EXP", "root"): {"EXP.root": "results/results"},  # ./results/ + the name's results/
    ("EXP", "databases"): {"MULTIDB.databases": ["demo"]},
    ("EXP", "balancing"): {"FEATS.balancing": "smote"},
    ("DATA", "root_folders"): {},  # False: nothing to read (test_root_folders_file ...)
    ("DATA", "limit_samples_per_speaker"): {"DATA.samples_per_speaker": 20},
    ("DATA", "min_duration_of_sample"): {"DATA.min_length": None},
    ("DATA", "max_duration_of_sample"): {"DATA.max_length": 5.0},
    ("DATA", "sample_selection"): {"EXP.sample_selection": "all"},
    ("DATA", "filter"): {"DATA.demo.filter": [["language", "en"]]},
    ("DATA", "balance"): {"DATA.demo.balance": ["gender", "language"]},
    ("DATABASE", "absolute_path"): {"DATA.demo.absolute_path": False},
    ("DATABASE", "limit_samples_per_speaker"): {"DATA.samples_per_speaker": 8},
    ("DATABASE", "min_duration_of_sample"): {"DATA.min_length": 0.2},
    ("DATABASE", "max_duration_of_sample"): {"DATA.max_length": 3.0},
    ("DATABASE", "split_strategy"): {"DATA.demo.split_strategy": ["allison", "kal"]},
    ("DATABASE", "test"): {"DATA.demo.split_strategy": ["allison", "kal"]},
    ("DATABASE", "tests_size"): {"DATA.demo.test_size": 25},
    ("DATABASE", "filter"): {"DATA.demo.filter": [["language", "en"]]},
    ("DATABASE", "balance"): {"DATA.demo.balance": ["word"]},
    ("DATABASE", "label"): {"DATA.demo.colnames": {"word": "text", "sex": "gender"}},
    ("DATABASE", "as_test"): {"DATA.demo.split_strategy": ["allison", "kal"]},
    ("DATABASE", "as_train"): {"DATA.demo.split_strategy": ["allison", "kal"]},
    ("FEATS", "type"): {
        "FEATS.type": ["os", "wavlm", "hubert", "wav2vec2", "whisper"],
        "FEATS.whisper.model": "openai/whisper-small",
    },
    ("FEATS", "level"): {"FEATS.level": "functionals"},
    ("FEATS", "import_file"): {"FEATS.import_file": "feats.csv"},
    ("FEATS", "scale"): {"FEATS.scale": "standard"},
    ("FEATS", "balancing"): {"FEATS.balancing": "rus"},
    ("FEATS", "os.set"): {"FEATS.set": "eGeMAPSv02"},
    ("FEATS", "WavLM.model"): {"FEATS.wavlm.model": "microsoft/wavlm-large"},
    ("FEATS", "Spkrec.model"): {"FEATS.spkrec.model": "speechbrain/spkrec-ecapa-voxceleb"},
    ("FEATS", "wav2vec2.layer"): {"FEATS.wav2vec2.layer": 0},
    ("FEATS", "hubert.layer"): {"FEATS.hubert.layer": 2},
    ("FEATS", "wavlm.layer"): {"FEATS.wavlm.layer": -1},
    ("MODEL", "type"): {"MODEL.type": "bayes"},
    ("MODEL", "KNN_weights"): {"MODEL.knn_weights": "uniform"},  # weights comes later
    ("MODEL", "weights"): {"MODEL.knn_weights": "uniform"},
    ("MODEL", "loss"): {"MODEL.loss": "cross"},
    ("MODEL", "random_seed"): {"EXP.random_seed": 42},
    ("MODEL", "validation_split"): {"MODEL.validation_share": 0.1},
    ("MODEL", "balancing"): {"FEATS.balancing": "smote"},
    ("EXPL", "tsne"): {"EXPL.scatter": ["pca", "tsne"]},
    ("EXPL", "umap"): {"EXPL.scatter": ["pca", "tsne"]},
    ("EXPL", "pca"): {"EXPL.scatter": ["pca", "tsne"]},
    ("AUGMENT", "augment"): {
        "AUGMENT.augmentations": [
            {"type": "noise"},
            {"type": "time_shift", "p": 0.5},
            {"type": "pitch_shift"},
            {"type": "splice", "p_reverse": 0.3},
        ]
    },
    ("AUGMENT", "augmentations"): {"AUGMENT.augmentations[0]": {"type": "noise"}},
    ("AUGMENT", "p_reverse"): {"AUGMENT.augmentations[3]": {"type": "splice", "p_reverse": 0.3}},
    ("RESAMPLE", "sample_selection"): {"EXP.sample_selection": "train"},
    ("OPTIM", "search_strategy"): {"OPTIM.search": "random"},
    ("OPTIM", "metric"): {"OPTIM.metric": "f1_macro"},
    ("OPTIM", "lr"): {"OPTIM.params.learning_rate": [0.0001, 0.001]},
    ("OPTIM", "bs"): {"OPTIM.params.batch_size": [8, 16]},
    ("OPTIM", "do"): {"OPTIM.params.drop": [0.1, 0.3]},
    ("OPTIM", "C"): {"OPTIM.params.C_val": [0.1, 1.0]},
    ("OPTIM", "loss"): {"OPTIM.params.loss": ["cross", "mse"]},
    ("OPTIM", "n_estimators"): {"OPTIM.params.n_estimators": [50, 100]},
    ("OPTIM", "max_depth"): {"OPTIM.params.max_depth": [3, 6]},
    ("MODEL", "measure"): {"MODEL.measure": "uar"},
    ("MODEL", "drop"): {"MODEL.drop": 0.1},
    ("FLAGS", "models"): {"GRID.MODEL.type": ["xgb", "svm"]},
    ("FLAGS", "features"): {"GRID.FEATS.type": [["praat"], ["os"]]},
    ("FLAGS", "balancing"): {"GRID.FEATS.balancing": [None, "ros"]},
    ("FLAGS", "scale"): {"GRID.FEATS.scale": ["none", "standard"]},
    ("FLAGS", "<SECTION key>"): {"GRID.MODEL.learning_rate": [0.01, 0.1]},
}

#: Honoured keys another key of the same file changes (EXP.name = results/my_exp moves the root).
MOVED_BY_OTHERS = {
    ("EXP", "root"),
    ("DATABASE", "test_size"),  # tests_size comes later
    ("DATABASE", "colnames"),  # label adds a rename
    ("EXPL", "scatter"),  # tsne and pca add methods
}

#: A documented value for each key that stops (they are written with an "off" value above).
STOP_VALUES = {
    "bins": "[-100, 40, 50, 60, 70, 100]",
    "import_files_append": "False",
    "subsample": "0.8",
    "colsample_bytree": "0.8",
}


@pytest.fixture(autouse=True)
def fresh_warnings():
    nkululeko._warned.clear()
    yield
    nkululeko._warned.clear()


def ini(tmp_path: Path, demo_dir: Path, body: str, name: str = "exp.ini") -> Path:
    """BASE (ending in [DATA], so plain lines join it) + body, unless body has its own [EXP]."""
    text = textwrap.dedent(body)
    if "[EXP]" not in text:
        text = BASE + text
    text = text.format(demo=demo_dir / "demo.csv", audio=demo_dir, members=tmp_path)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def convert(path: Path, capsys) -> tuple[dict, str]:
    """`sauti convert FILE`: the printed YAML and the warning lines."""
    assert cli.main(["convert", str(path)]) == 0, capsys.readouterr().err
    out = capsys.readouterr()
    return yaml.safe_load(out.out), out.err


def lookup(cfg: dict, dotted: str):
    """'DATA.demo.filter', 'FEATS.wavlm.model', 'GRID.MODEL.type', 'AUGMENT.augmentations[0]'."""
    section, _, rest = dotted.partition(".")
    body = cfg[section]
    index = None
    if rest.endswith("]"):
        rest, index = rest[:-1].split("[")
    if section == "DATA" and rest.split(".")[0] in cfg["DATA"].get("databases", []):
        db, rest = rest.split(".", 1)
        body = body[db]
    elif section == "OPTIM" and rest.startswith("params."):
        body, rest = body["params"], rest.split(".", 1)[1]
    value = body[rest]
    return value[int(index)] if index is not None else value


def _get(cfg: dict, dotted: str):
    try:
        return lookup(cfg, dotted)
    except KeyError:
        return "absent"


def documented_value(section: str, key: str, text: str):
    """The value a key has in the section's INI text (placeholders: the key written there)."""
    prefix = "demo." if section == "DATABASE" else ""
    if section == "DATABASE" and key == "path":  # written `demo = path`
        prefix, key = "", "demo"
    for line in textwrap.dedent(text).splitlines():
        name, _, value = line.partition(" = ")
        name = name.strip()
        if name == prefix + key or (
            "<" in key and re.fullmatch(nkululeko._regex(key), name.removeprefix(prefix))
        ):
            return ("path" if name == "demo" else name.removeprefix(prefix)), value
    return None, None


def entries(section: str):
    return [(k, nkululeko._normal(v)) for k, v in nkululeko.table()[section].items()]


ALL_KEYS = [(s, k) for s in nkululeko.sections() for k, _ in entries(s)]


def test_every_table_entry_is_well_formed():
    nkululeko.check_table()
    props = schema()["properties"]
    for section in nkululeko.sections():
        for key, spec in entries(section):
            if nkululeko.kind(spec) == "honoured" and "<" not in key:
                known = _db_properties() if section == "DATABASE" else props[section]["properties"]
                assert key in known, f"{section}.{key} is marked honour but sauti has no such key"
            assert (
                nkululeko.kind(spec) != "translated"
                or (section, key) in TRANSLATED
                or (spec.get("via") in ("split_strategy", "filter_form", "feature_types"))
            ), f"{section}.{key}: translated without a test expectation"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_section_ini_covers_every_key_of_the_reference(section):
    """The per-section INI files below are complete: every table key is written in one."""
    for key, spec in entries(section):
        if nkululeko.kind(spec) == "not supported yet" and key not in SECTIONS[section]:
            continue  # written with its documented value in test_unsupported_keys_stop
        name, _ = documented_value(section, key, SECTIONS[section])
        assert name is not None, f"[{section}] {key} is in the table but not in the test INI"


@pytest.mark.parametrize("section", [s for s in SECTIONS if s != "ENSEMBLE"])
def test_section_keys_are_honoured_translated_or_acknowledged(section, tmp_path, demo_dir, capsys):
    path = ini(tmp_path, demo_dir, SECTIONS[section])
    cfg, err = convert(path, capsys)
    assert "unknown" not in err
    where = "[DATA] demo." if section == "DATABASE" else f"[{section}] "
    text = SECTIONS[section].format(demo=demo_dir / "demo.csv", audio=demo_dir)
    for key, spec in entries(section):
        name, value = documented_value(section, key, text)
        kind = nkululeko.kind(spec)
        if (section, key) in MOVED_BY_OTHERS:
            continue
        if kind == "honoured":
            dotted = f"DATA.demo.{name}" if section == "DATABASE" else f"{section}.{name}"
            if read_value(value) is False:  # Nkululeko's "not set": sauti's null or default
                assert _get(cfg, dotted) in (False, None, "absent"), dotted
                continue
            got = lookup(cfg, dotted)
            assert got == read_value(value), f"[{section}] {name}: {got!r} != {value}"
        elif kind == "translated":
            for dotted, expected in TRANSLATED.get((section, key), {}).items():
                assert lookup(cfg, dotted) == expected, f"[{section}] {key} -> {dotted}"
            if "to" in spec or section == "FLAGS":  # moved: not left under Nkululeko's name
                body = cfg.get(section, {}) if section != "DATABASE" else cfg["DATA"]["demo"]
                assert name not in body or spec["to"].endswith(f".{name}"), (section, name)
        else:  # acknowledged, or a stop key written with its "off" value
            assert f"{where}{name} = " in err, f"no warning for [{section}] {name}:\n{err}"
    for line in err.strip().splitlines():
        assert line.startswith(f"sauti: warning: {path}: "), line


def read_value(text: str):
    from sauti.config.read import literal

    return literal(text)


def test_translated_config_resolves_and_runs_the_same_keys_once(tmp_path, demo_dir, capsys):
    """A warning is printed once per key even though a config is resolved several times."""
    path = ini(tmp_path, demo_dir, SECTIONS["EXP"])
    assert cli.main(["convert", "--resolved", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.count("[EXP] save = True: sauti always keeps results, keyed by config") == 1
    cfg = resolve(read_file(path), str(path))
    assert (cfg["EXP"]["root"], cfg["EXP"]["name"]) == ("results/results", "my_exp")


STOP_KEYS = [
    (s, k) for s, k in ALL_KEYS if nkululeko.kind(nkululeko.entry(s, k)) == "not supported yet"
]


@pytest.mark.parametrize(("section", "key"), STOP_KEYS, ids=[f"{s}.{k}" for s, k in STOP_KEYS])
def test_unsupported_keys_stop_with_one_line(section, key, tmp_path, demo_dir):
    value = STOP_VALUES.get(key, "[('a', 'b')]" if section == "FLAGS" else "True")
    if section == "DATA":
        body = f"{key} = {value}\n"  # joins BASE's [DATA]
    elif section == "DATABASE":
        body = f"demo.{key} = {value}\n"
    elif section == "EXP":
        body = BASE.replace("name = nk", f"name = nk\n{key} = {value}")
    else:
        body = f"[{section}]\n{key} = {value}\n"
    path = ini(tmp_path, demo_dir, body)
    with pytest.raises(ConfigError) as info:
        expand(read_file(path) | {"_source": str(path)}, str(path))
    text = str(info.value)
    assert "\n" not in text and "not supported yet" in text and key in text, text


@pytest.mark.parametrize(
    ("name", "kind", "model"),
    [
        ("wavlm-large", "wavlm", "microsoft/wavlm-large"),
        ("hubert-xlarge-ll60k", "hubert", "facebook/hubert-xlarge-ll60k"),
        (
            "wav2vec2-large-robust-12-ft-emotion-msp-dim",
            "wav2vec2",
            "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim",
        ),
        ("whisper-small", "whisper", "openai/whisper-small"),
        ("wav2vec2", "wav2vec2", "facebook/wav2vec2-large-robust-ft-swbd-300h"),
        ("spkrec-ecapa-voxceleb", "spkrec", "speechbrain/spkrec-ecapa-voxceleb"),
    ],
)
def test_pretrained_model_names_become_sauti_kinds(name, kind, model, tmp_path, demo_dir, capsys):
    path = ini(tmp_path, demo_dir, f"[FEATS]\ntype = ['{name}']\n")
    cfg, _ = convert(path, capsys)
    assert cfg["FEATS"]["type"] == [kind]
    assert cfg["FEATS"][f"{kind}.model"] == model


def test_praat_in_an_ini_is_nkululekos_praat_unless_it_asks_for_sauti(tmp_path, demo_dir):
    """FEATS.type = ['praat'] resolves to Nkululeko's definitions (the default); sauti's own
    key in the same [FEATS] section picks sauti's, and a wrong word is named by the schema."""
    path = ini(tmp_path, demo_dir, "[FEATS]\ntype = ['praat']\n")
    assert resolve(read_file(path), str(path))["FEATS"]["praat.definitions"] == "nkululeko"
    path = ini(tmp_path, demo_dir, "[FEATS]\ntype = ['praat']\npraat.definitions = sauti\n")
    assert resolve(read_file(path), str(path))["FEATS"]["praat.definitions"] == "sauti"
    path = ini(tmp_path, demo_dir, "[FEATS]\ntype = ['praat']\npraat.definitions = feinberg\n")
    with pytest.raises(ConfigError, match=r"praat\.definitions"):
        resolve(read_file(path), str(path))


@pytest.mark.parametrize("name", ["audmodel", "agender", "emotion2vec-large", "auddim", "trill"])
def test_feature_types_sauti_lacks_stop(name, tmp_path, demo_dir):
    path = ini(tmp_path, demo_dir, f"[FEATS]\ntype = ['{name}']\n")
    with pytest.raises(ConfigError, match=rf"FEATS\.type '{name}' .* is not supported yet"):
        resolve(read_file(path), str(path))


def test_typo_still_gets_did_you_mean(tmp_path, demo_dir):
    path = ini(
        tmp_path,
        demo_dir,
        "[EXP]\nname = nk\nsave_tst = True\n[DATA]\ndatabases = ['demo']\ndemo = {demo}\n",
    )
    with pytest.raises(ConfigError, match=r"unknown key 'save_tst' \(did you mean 'save_test'\?\)"):
        resolve(read_file(path), str(path))
    path = ini(tmp_path, demo_dir, "demo.train_tabels = ['x']\n")
    with pytest.raises(ConfigError, match=r"did you mean 'train_tables'"):
        resolve(read_file(path), str(path))


def test_keys_are_case_insensitive_as_in_nkululeko(tmp_path, demo_dir, capsys):
    path = ini(tmp_path, demo_dir, "[MODEL]\ntype = svm\nc_val = 10\n")
    cfg, _ = convert(path, capsys)
    assert cfg["MODEL"]["C_val"] == 10


def test_flags_file_runs_as_a_grid(tmp_path, demo_dir):
    path = ini(tmp_path, demo_dir, SECTIONS["FLAGS"])
    out = expand(read_file(path) | {"_source": str(path)}, str(path))
    assert len(out.configs) == 2 * 2 * 2 * 2 * 2
    assert {tuple(c["FEATS"]["type"]) for c in out.configs} == {("praat",), ("os",)}
    assert {c["FEATS"]["balancing"] for c in out.configs} == {None, "ros"}
    assert out.grids[0].name == "nk"


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "written",
    [
        "[['gender', ['female', 'male']]]",
        "[['gender', 'female', 'male']]",
        "{'gender': ['female', 'male']}",
        "['gender', 'female']",
        "{'gender': 'female'}",
    ],
)
def test_filter_forms_keep_the_right_rows(written, tmp_path, demo_dir, demo_table, capsys):
    escaped = written.replace("{", "{{").replace("}", "}}")
    path = ini(tmp_path, demo_dir, f"demo.filter = {escaped}\ndemo.split_strategy = random\n")
    cfg = resolve(read_file(path), str(path))
    table = demo_table.assign(file=[str(demo_dir / f) for f in demo_table["file"]])
    table = table.assign(start=0.0, end=1.0, db="demo")
    params = {
        "target": "speaker",
        "labels": "all",
        "type": "classification",
        "min_length": None,
        "max_length": None,
        "samples_per_speaker": None,
        "random_seed": 1,
        "traindevtest": False,
        "databases": {"demo": cfg["DATA"]["demo"]},
    }
    data = select_and_split({"demo": table}, params)
    wanted = {"female", "male"} if "'male'" in written else {"female"}
    expected = demo_table[demo_table["gender"].isin(wanted)]
    assert len(data) == len(expected) > 0
    assert set(data["gender"]) == wanted


def test_demo_table_has_both_genders(demo_table):
    assert {"female", "male"} <= set(pd.unique(demo_table["gender"]))


# --------------------------------------------------------------------------- paths


def test_relative_audio_path_is_read_from_the_csv_folder_with_absolute_path_false(
    tmp_path, demo_dir, capsys, monkeypatch
):
    """Nkululeko: <CSV folder>/<audio_path>/<file> when absolute_path = False."""
    folder = tmp_path / "db"
    (folder / "audio").mkdir(parents=True)
    table = pd.read_csv(demo_dir / "demo.csv").head(4)
    for file in table["file"]:
        (folder / "audio" / Path(file).name).write_bytes((demo_dir / file).read_bytes())
    table.assign(file=[Path(f).name for f in table["file"]]).to_csv(folder / "db.csv", index=False)
    body = (
        "[EXP]\nname = nk\n[DATA]\ndatabases = ['db']\ndb = db/db.csv\n"
        "db.absolute_path = False\ndb.audio_path = audio\n"
    )
    (tmp_path / "exp.ini").write_text(body)
    monkeypatch.chdir(tmp_path)  # Nkululeko resolves database paths against the working directory
    cfg, _ = convert(Path("exp.ini"), capsys)
    assert cfg["DATA"]["db"]["audio_path"] == "db/audio"
    from sauti.ml.data import read_database

    read = read_database("db", resolve(read_file("exp.ini"), "exp.ini")["DATA"]["db"])
    assert all(Path(f).is_file() for f in read["file"])
    assert {Path(f).parent for f in read["file"]} == {(folder / "audio").resolve()}


def test_csv_entries_relative_to_the_working_directory_are_read_as_nkululeko_reads_them(
    tmp_path, demo_dir, monkeypatch
):
    """Nkululeko (absolute_path = True) reads relative entries against the working directory;
    entries relative to the CSV's folder (sauti's own corpora) keep resolving there."""
    from sauti.ml.data import read_database

    (tmp_path / "wavs").mkdir()
    table = pd.read_csv(demo_dir / "demo.csv").head(4)
    for file in table["file"]:
        (tmp_path / "wavs" / Path(file).name).write_bytes((demo_dir / file).read_bytes())
    (tmp_path / "lists").mkdir()
    cwd_relative = table.assign(file=[f"wavs/{Path(f).name}" for f in table["file"]])
    cwd_relative.to_csv(tmp_path / "lists" / "db.csv", index=False)
    monkeypatch.chdir(tmp_path)
    read = read_database("db", {"path": str(tmp_path / "lists" / "db.csv"), "type": "csv"})
    assert {Path(f).parent for f in read["file"]} == {(tmp_path / "wavs").resolve()}

    (tmp_path / "lists" / "wavs").mkdir()  # now the CSV's folder has them too: that one wins
    for file in cwd_relative["file"]:
        (tmp_path / "lists" / file).write_bytes((tmp_path / file).read_bytes())
    read = read_database("db", {"path": str(tmp_path / "lists" / "db.csv"), "type": "csv"})
    assert {Path(f).parent for f in read["file"]} == {(tmp_path / "lists" / "wavs").resolve()}


# --------------------------------------------------------------------------- audformat


@pytest.fixture(scope="session")
def emodb_like(demo_dir, tmp_path_factory) -> Path:
    """The demo corpus in emodb's structure (resources/demo/build_audformat_db.py)."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "resources/demo/build_audformat_db.py"
    spec = importlib.util.spec_from_file_location("build_audformat_db", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(demo_dir, tmp_path_factory.mktemp("audformat") / "demo_audformat")


def test_audformat_columns_come_through_the_schemes(emodb_like):
    from sauti.ml.data import read_database

    table = read_database("emodb", {"path": str(emodb_like), "files_tables": ["files"]})
    # the files table has speaker and transcription; gender and age come from the speaker scheme
    assert {"speaker", "transcription", "gender", "age"} <= set(table.columns)
    first = table[table["speaker"] == "espeak_en-us_f1"]
    assert set(first["gender"]) == {"female"} and first["age"].nunique() == 1
    assert set(table.loc[table["speaker"] == "espeak_en-us_m1", "gender"]) == {"male"}
    assert "split" not in table.columns  # no split table is read


def test_audformat_train_and_test_tables_are_the_split(emodb_like):
    from sauti.ml.data import read_database

    spec = {
        "path": str(emodb_like),
        "train_tables": ["emotion.categories.train.gold_standard"],
        "test_tables": ["emotion.categories.test.gold_standard"],
    }
    table = read_database("emodb", spec)
    test = table[table["split"] == "test"]
    assert set(test["speaker"]) == {
        "espeak_en-us_f2",
        "espeak_en-us_linda",
        "espeak_en-us_m3",
        "espeak_en-us_david",
    }
    assert len(table) == 200 and table["split"].notna().all()
    assert set(table["emotion"]) == {"calm", "excited"}  # the target from the split tables
    assert {"gender", "age"} <= set(table.columns)  # the split tables' rows keep the scheme fields
    # no tables named: every table, the split from each table's split_id
    everything = read_database("emodb", {"path": str(emodb_like)})
    by_file = everything.set_index("file")["split"].sort_index()
    assert by_file.equals(table.set_index("file")["split"].sort_index())


def test_audformat_unknown_table_is_one_line(emodb_like):
    from sauti.core.errors import SautiError
    from sauti.ml.data import read_database

    with pytest.raises(SautiError, match=r"no table 'emotion\.train' in .* \(tables: emotion, "):
        read_database("emodb", {"path": str(emodb_like), "train_tables": ["emotion.train"]})


def test_split_strategy_database_uses_the_targets_tables(tmp_path, demo_dir, capsys):
    path = ini(tmp_path, demo_dir, "demo.split_strategy = database\n")
    cfg, _ = convert(path, capsys)
    spec = cfg["DATA"]["demo"]
    assert spec["split_strategy"] == "specified"
    assert (spec["train_tables"], spec["test_tables"]) == (["gender.train"], ["gender.test"])


def test_emodb_hello_world_runs_through_snakemake(emodb_like, tmp_path):
    """config/examples/demo_audformat.ini: Nkululeko's emodb hello world on the demo database
    in emodb's structure, run by `sauti run`: the target from the label tables, the split from
    the train/test tables, gender and age (speaker scheme) in EXPL.value_counts."""
    import json
    import shutil
    import subprocess
    import sys

    from sauti.core.fileio import read_table

    example = Path(__file__).resolve().parents[1] / "config/examples/demo_audformat.ini"
    shutil.copytree(emodb_like, tmp_path / "data/demo_audformat")
    shutil.copy(example, tmp_path / "exp.ini")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sauti"), "run", "exp.ini", "-j2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "[EXP] save = True: sauti always keeps results" in result.stderr
    metrics = json.loads((tmp_path / "results/demo_audformat/metrics.json").read_text())
    assert metrics["test"]["n"] == 40 and metrics["test"]["uar"] > 0.7
    split = read_table(next((tmp_path / "results/cache/split").glob("*/split.parquet")))
    test_speakers = set(split.loc[split["split"] == "test", "speaker"])
    assert test_speakers == {
        "espeak_en-us_f2",
        "espeak_en-us_linda",
        "espeak_en-us_m3",
        "espeak_en-us_david",
    }
    explore = json.loads(
        next((tmp_path / "results/cache/explore").glob("*/explore.json")).read_text()
    )
    captions = " ".join(i["caption"] for i in explore["images"])
    assert "Distribution of age" in captions and "Distribution of gender" in captions


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["explore", "--config", "a.ini"], ["explore", "a.ini"]),
        (["run", "--config", "a.ini", "b.yaml", "-j2"], ["run", "a.ini", "b.yaml", "-j2"]),
        (["demo", "--config=a.ini", "--file", "x.wav"], ["demo", "a.ini", "--file", "x.wav"]),
        (["run", "a.ini", "--config", "k=v"], ["run", "a.ini", "--config", "k=v"]),  # Snakemake's
    ],
)
def test_config_flag_is_the_positional_form(argv, expected):
    from sauti.app.nk_commands import config_flag

    assert config_flag(argv) == expected


@pytest.fixture(scope="module")
def loud_corpus(demo_dir, tmp_path_factory) -> Path:
    """16 demo clips of 4 speakers re-written as 44.1 kHz stereo copies (resample's input)."""
    import librosa
    import soundfile

    folder = tmp_path_factory.mktemp("loud")
    table = pd.read_csv(demo_dir / "demo.csv")
    speakers = ["allison", "carlo", "espeak_en-us_f1", "espeak_en-us_m1"]
    table = table[table["speaker"].isin(speakers)].groupby("speaker").head(4).copy()
    for file in table["file"]:
        signal, rate = soundfile.read(demo_dir / file, dtype="float32")
        loud = librosa.resample(signal, orig_sr=rate, target_sr=44100)
        soundfile.write(folder / Path(file).name, np.stack([loud, loud], axis=1), 44100)
    table["file"] = [Path(f).name for f in table["file"]]
    table.to_csv(folder / "loud.csv", index=False)
    return folder


def sauti(workdir: Path, *args: str) -> str:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout + result.stderr


def test_module_commands_build_only_their_outputs(loud_corpus, tmp_path, demo_dir):
    """python -m sauti.explore --config builds the explore stage and what it needs, not the
    model; python -m sauti.resample writes 16 kHz mono copies, the table and (replace) the
    originals."""
    import soundfile

    (tmp_path / "exp.ini").write_text(
        "[EXP]\nname = loud\n"
        f"[DATA]\ndatabases = ['loud']\nloud = {loud_corpus / 'loud.csv'}\n"
        "loud.split_strategy = speaker_split\nloud.test_size = 25\ntarget = gender\n"
        "[FEATS]\ntype = ['mfcc']\n[EXPL]\nvalue_counts = [['gender']]\n"
        "[RESAMPLE]\nreplace = True\ntarget = loud_16k.csv\n"
    )
    sauti(tmp_path, "sauti.explore", "--config", "exp.ini", "-j2")
    cache = tmp_path / "results/cache"
    assert list(cache.glob("explore/*/explore.json"))
    assert not (cache / "train").exists() and not (tmp_path / "results/loud/report.html").exists()

    original = soundfile.read(loud_corpus / "allison_digit0.wav", dtype="float32")[0][:, 0]
    out = sauti(tmp_path, "sauti.resample", "--config", "exp.ini", "-j2")
    assert "16 samples at 16 kHz mono" in out
    table = pd.read_csv(tmp_path / "results/loud/loud_16k.csv")
    assert len(table) == 16 and {"speaker", "gender", "split"} <= set(table.columns)
    for file in table["file"]:  # replace = True: the originals are the 16 kHz versions now
        assert Path(file).parent == loud_corpus.resolve()
        info = soundfile.info(file)
        assert (info.samplerate, info.channels) == (16000, 1)
    resampled = soundfile.read(loud_corpus / "allison_digit0.wav", dtype="float32")[0]
    reference = soundfile.read(demo_dir / "wav/allison_digit0.wav", dtype="float32")[0]
    n = min(len(resampled), len(reference))
    assert np.corrcoef(resampled[:n], reference[:n])[0, 1] > 0.99
    assert len(original) > 2.5 * n  # it was 44.1 kHz


def test_command_without_its_section_is_one_line(tmp_path, demo_dir):
    path = ini(tmp_path, demo_dir, "")
    assert cli.main(["segment", "--config", str(path)]) == 2


def test_docs_page_is_generated_from_the_table():
    page = Path(__file__).resolve().parents[1] / "docs/nkululeko.md"
    assert page.read_text(encoding="utf-8") == nkululeko.render_doc(), (
        "docs/nkululeko.md is stale: run `sauti nkululeko-doc > docs/nkululeko.md`"
    )
    for section in nkululeko.sections():
        for key in nkululeko.table()[section]:
            assert f"| `{key}` |" in page.read_text(encoding="utf-8"), (section, key)


def test_root_folders_file_gives_database_defaults(tmp_path, demo_dir, capsys, monkeypatch):
    """Nkululeko's data_roots.ini: [DATA] entries for the experiment's databases are defaults."""
    (tmp_path / "data_roots.ini").write_text(
        f"[DATA]\ndemo = {demo_dir / 'demo.csv'}\ndemo.test_size = 30\ndemo.split_strategy = random\n"
        "other = ./elsewhere.csv\n"
    )
    (tmp_path / "exp.ini").write_text(
        "[EXP]\nname = nk\n[DATA]\ndatabases = ['demo']\nroot_folders = data_roots.ini\n"
        "demo.split_strategy = speaker_split\ntarget = gender\n"
    )
    monkeypatch.chdir(tmp_path)  # the file is relative to the working directory
    cfg, err = convert(Path("exp.ini"), capsys)
    assert cfg["DATA"]["demo"] == {
        "split_strategy": "speaker_split",  # the experiment's own value wins
        "path": str(demo_dir / "demo.csv"),
        "test_size": 30,
    }
    assert "other" not in cfg["DATA"] and "root_folders = 'data_roots.ini'" in err
    (tmp_path / "data_roots.ini").unlink()
    with pytest.raises(ConfigError, match=r"root_folders = 'data_roots.ini': no such file"):
        resolve(read_file("exp.ini"), "exp.ini")


def test_inline_comments_as_in_nkululekos_docs(tmp_path, demo_dir, capsys):
    path = ini(tmp_path, demo_dir, "[MODEL]\ntype = mlp\nactivation = tanh  # zero-centred\n")
    cfg, _ = convert(path, capsys)
    assert cfg["MODEL"]["activation"] == "tanh"


def test_flags_with_a_pretrained_model_name_stop(tmp_path, demo_dir):
    path = ini(tmp_path, demo_dir, "[FLAGS]\nfeatures = ['os', 'wavlm-large']\n")
    with pytest.raises(ConfigError, match=r"wavlm-large.* as a FLAGS feature is not supported yet"):
        expand(read_file(path) | {"_source": str(path)}, str(path))


def test_ensemble_file_keys(tmp_path, demo_dir, capsys):
    """[ENSEMBLE] (sauti's form of Nkululeko's ensemble module arguments) in an ensemble file."""
    for name, model in (("a", "svm"), ("b", "xgb")):
        ini(
            tmp_path,
            demo_dir,
            BASE.replace("name = nk", f"name = {name}") + f"[MODEL]\ntype = {model}\n",
            f"{name}.ini",
        )
    path = ini(tmp_path, demo_dir, SECTIONS["ENSEMBLE"], "both.ini")
    out = expand(read_file(path) | {"_source": str(path)}, str(path))
    spec = out.ensembles[0]
    assert (spec.name, spec.method, spec.threshold, spec.members) == (
        "both",
        "max_class",
        1.0,
        ["a", "b"],
    )
    err = capsys.readouterr().err
    for key in ("outfile", "no_labels", "weights"):
        assert f"[ENSEMBLE] {key} = " in err, err


@pytest.mark.parametrize(
    "module",
    ["nkululeko", "explore", "augment", "aug_train", "predict", "segment", "resample", "test"]
    + ["demo", "ensemble", "multidb", "flags", "optim"],
)
def test_every_nkululeko_module_name_runs_its_sauti_command(module):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", f"sauti.{module}", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: sauti {module} "), result.stdout


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("FEATS", "scale = bins"),
        ("FEATS", "balancing = smoteenn"),
        ("FEATS", "import_file = ['a.csv', 'b.csv']"),
        ("MODEL", "measure = eer"),
        ("MODEL", "drop = [0.3, 0.4]"),
        ("MODEL", "loss = focal"),
        ("MODEL", "type = adm"),
        ("OPTIM", "search_strategy = halving_random"),
        ("OPTIM", "metric = precision"),
        ("AUGMENT", "augment = ['auglib']"),
        ("AUGMENT", "augmentations = Compose([BandPassFilter(min_center_freq=100.0)])"),
    ],
)
def test_documented_values_sauti_lacks_stop(section, line, tmp_path, demo_dir):
    path = ini(tmp_path, demo_dir, f"[{section}]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        resolve(read_file(path), str(path))
    text = str(info.value)
    assert "not supported yet" in text and f"[{section}] {line.split(' =')[0]} = " in text, text


def test_database_split_strategy_dev_stops(tmp_path, demo_dir):
    path = ini(tmp_path, demo_dir, "demo.split_strategy = dev\n")
    with pytest.raises(
        ConfigError, match=r"\[DATA\] demo.split_strategy = 'dev': .* not supported yet"
    ):
        resolve(read_file(path), str(path))


def test_augment_given_as_a_compose_string(tmp_path, demo_dir, capsys):
    body = "[AUGMENT]\naugment = Compose([AddGaussianNoise(), Shift(p=0.5)])\n"
    cfg, _ = convert(ini(tmp_path, demo_dir, body), capsys)
    assert cfg["AUGMENT"]["augmentations"] == [{"type": "noise"}, {"type": "time_shift", "p": 0.5}]


def test_per_database_limit_with_two_databases_stops(tmp_path, demo_dir):
    body = (
        "[EXP]\nname = nk\n[DATA]\ndatabases = ['a', 'b']\na = {demo}\nb = {demo}\n"
        "a.limit_samples_per_speaker = 8\n"
    )
    path = ini(tmp_path, demo_dir, body)
    with pytest.raises(ConfigError, match=r"a.limit_samples_per_speaker = 8: .* not supported yet"):
        resolve(read_file(path), str(path))
