"""The config is resolved, and checked, in one pass; planning and the registry never raise a
config error (issue 13).

Every ConfigError comes from sauti.config (read -> normalise -> expand -> schema and defaults ->
the section checks in the order of sauti.config.resolve.SECTIONS -> names and roots), so
`sauti check` meets every problem of a config before anything is planned. The stage modules and
the workflow modules only plan: this test reads their code with `ast` and fails on any raise,
import or other use of ConfigError there, and checks that the errors they used to raise come
at resolution time, with their messages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from sauti.config.compose import expand, expand_files
from sauti.config.read import snakemake_config
from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sauti"
#: The layers above config that must take a resolved config as it is.
PLANNING = ("stages", "workflow")


def config_error_uses(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """`file:line what` for each import, raise or other use of ConfigError in a module (the
    file named relative to `root`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name.rpartition(".")[2] for a in node.names]
            if "ConfigError" in names:
                found.append((node.lineno, "imports ConfigError"))
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if getattr(exc, "id", getattr(exc, "attr", None)) == "ConfigError":
                found.append((node.lineno, "raises ConfigError"))
        elif (isinstance(node, ast.Name) and node.id == "ConfigError") or (
            isinstance(node, ast.Attribute) and node.attr == "ConfigError"
        ):
            found.append((node.lineno, "uses ConfigError"))
    relative = path.relative_to(root)
    return [f"{relative}:{line} {what}" for line, what in sorted(set(found))]


def test_planning_and_the_registry_never_raise_a_config_error():
    modules = sorted(p for layer in PLANNING for p in (PACKAGE / layer).rglob("*.py"))
    assert len(modules) > 10, modules  # the layers are where this test looks for them
    problems = [use for path in modules for use in config_error_uses(path)]
    assert not problems, (
        "config errors belong to the config layer (sauti.config.sections.<section>.check_config, "
        "called from sauti.config.resolve; across experiments: sauti.config.compose):\n"
        + "\n".join(problems)
    )


def test_the_ast_check_sees_raises_and_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from sauti.config.schema import ConfigError as E\n"
        "import sauti.config.schema as schema\n"
        "def f():\n"
        "    raise schema.ConfigError('x')\n"
    )
    uses = config_error_uses(probe, tmp_path)
    assert uses[0] == "probe.py:1 imports ConfigError" and "probe.py:4 raises ConfigError" in uses
    assert config_error_uses(PACKAGE / "config" / "resolve.py")  # where config errors belong


# --------------------------------------------------------------------------- at resolution


def experiment(name: str = "e", **sections) -> dict:
    cfg = {
        "EXP": {"name": name},
        "DATA": {"databases": ["d"], "d": "data/demo/demo.csv", "target": "gender"},
    }
    for section, body in sections.items():
        cfg.setdefault(section, {}).update(body)
    return cfg


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"PREDICT": {"targets": ["age"]}}, r"\[PREDICT\] targets: 'age' needs a model"),
        (
            {"PREDICT": {"targets": ["age", "emotion"], "model": "m.joblib"}},
            r"one PREDICT.model predicts one target, not \['age', 'emotion'\]",
        ),
        ({"PREDICT": {"targets": ["snr", "snr"]}}, "targets lists a target twice"),
        (
            {"PREDICT": {"targets": ["speaker"], "device": "tpu"}},
            r"\[PREDICT\] PREDICT.device = 'tpu' is not a device",
        ),
        ({"SEGMENT": {"databases": ["nope"]}}, r"\[SEGMENT\] databases: 'nope' is not one of"),
        (
            {"MODEL": {"type": "finetune"}, "DATA": {"tests": ["data/demo/demo.csv"]}},
            "DATA.tests is not supported with MODEL.type finetune",
        ),
        (
            {"MODEL": {"type": "finetune", "loso": True}},
            "MODEL.loso is not supported with MODEL.type finetune",
        ),
        (
            {"DATA": {"tests": ["a/demo.csv", "b/demo.csv"]}},
            r"\[DATA\] tests holds two databases named 'demo'",
        ),
        (
            {"FEATS": {"type": ["wav2vec2"], "wav2vec2.device": "tpu"}},
            r"FEATS\.wav2vec2\.device = 'tpu' is not a device",
        ),
        ({"FEATS": {"type": ["spkrec_ssl"]}}, "spkrec_ssl .*but SSL.enabled is false"),
        (
            {"PREDICT": {"targets": ["speaker"], "speaker_embedding": "ssl"}},
            "SSL.enabled is false",
        ),
    ],
)
def test_what_planning_refused_is_refused_at_resolution(sections, message):
    with pytest.raises(ConfigError, match=message) as err:
        resolve(experiment(**sections), "e.yaml")
    assert "\n" not in str(err.value)


def write(folder: Path, name: str, cfg: dict) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return str(path)


def test_experiments_run_together_share_a_root_and_none_is_named_cache(tmp_path):
    a = write(tmp_path, "a.yaml", experiment("a"))
    b = write(tmp_path, "b.yaml", experiment("b", EXP={"root": str(tmp_path / "elsewhere")}))
    message = "experiments run together must share EXP.root"
    with pytest.raises(ConfigError, match=message):
        expand({"experiments": [a, b]}, "both.yaml")
    with pytest.raises(ConfigError, match=message):
        expand_files([a, b])  # `sauti check a.yaml b.yaml`
    assert expand({"experiments": [a]}, "one.yaml").root() == resolve(experiment())["EXP"]["root"]
    with pytest.raises(ConfigError, match=r"\[EXP\] name 'cache' is reserved"):
        expand(experiment("cache"), "cache.yaml")


def test_the_snakemake_config_is_checked_before_it_is_expanded(tmp_path):
    with pytest.raises(ConfigError, match="no config given"):
        snakemake_config({}, [])
    template = write(tmp_path, "t.yaml", {**experiment(), "__use_yte__": True})
    with pytest.raises(ConfigError, match="__use_yte__ makes this file a YTE template"):
        snakemake_config(experiment(), [template])
    plain = write(tmp_path, "p.yaml", experiment())
    assert snakemake_config(experiment(), [plain]) == (experiment(), plain)
