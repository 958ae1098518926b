"""The locked environment: lock files, the conda envs generated from them, the deep-stack check.

The lock files (requirements/*.txt, `make lock`) are what `make venv` / `make deep` install, so
these tests read them independently of tools/lock_envs.py and check what the issue promises: every
package pinned with PyPI hashes, every dependency of pyproject.toml satisfied by the lock (a
pyproject.toml edit without `make lock` fails here), the conda envs list exactly the locked pins,
and the installed deep stack is the locked one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
LOCKS = {"main": REPO / "requirements/main.txt", "deep": REPO / "requirements/deep.txt"}
ENVS = {"main": REPO / "envs/sauti.yaml", "deep": REPO / "envs/sauti-deep.yaml"}
CHECK = REPO / "tools/check_deep_stack.py"
NEVER = Marker("sys_platform == 'never'")


def read_lock(path: Path) -> dict[Requirement, list[str]]:
    """Each requirement of a hashed lock file with its hashes (continuation lines joined)."""
    entries = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement, *hashes = line.split("--hash=")
            entries[Requirement(requirement.strip())] = [h.strip() for h in hashes]
    return entries


def key(requirement: Requirement) -> tuple[str, str, str]:
    return (
        canonicalize_name(requirement.name),
        str(requirement.specifier),
        str(requirement.marker),
    )


def installable(path: Path) -> set[tuple[str, str, str]]:
    """The lock's pins without the ones requirements/overrides.txt removed (never-true marker)."""
    return {key(r) for r in read_lock(path) if r.marker != NEVER}


def env_pins(path: Path) -> set[tuple[str, str, str]]:
    """The pip pins of a conda env file plus those of its post-deploy script."""
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip[-1] == "-e ..", "the env installs the sauti checkout last"
    pins = {key(Requirement(line)) for line in pip[:-1]}
    script = path.with_name(path.stem + ".post-deploy.sh")
    if script.exists():
        text = script.read_text()
        assert "--no-deps --require-hashes" in text
        pins |= {
            key(Requirement(line.split(" --hash=")[0]))
            for line in re.findall(r"^\S+==.*$", text, re.M)
        }
    return pins


@pytest.mark.parametrize("name", ["main", "deep"])
def test_conda_env_lists_exactly_the_locked_pins(name):
    assert env_pins(ENVS[name]) == installable(LOCKS[name])


def test_every_locked_package_has_exact_version_and_pypi_hashes():
    for path in LOCKS.values():
        for requirement, hashes in read_lock(path).items():
            assert re.fullmatch(r"==[^,*]+", str(requirement.specifier)), requirement
            assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (
                f"{path.name}: {requirement} has no sha256 hash"
            )


def test_main_lock_is_the_deep_lock_without_the_deep_extra():
    main, deep = installable(LOCKS["main"]), installable(LOCKS["deep"])
    assert main < deep, f"main.txt pins not in deep.txt: {sorted(main - deep)[:5]}"
    names = {n for n, _, _ in deep - main}
    assert {"torch", "torchaudio", "speechbrain", "resemblyzer"} <= names
    assert not {"torch", "torchaudio"} & {n for n, _, _ in main}, "the classic install has no torch"


def lock_versions(path: Path) -> dict[str, str]:
    """name -> version of the lock's pins that apply to this interpreter and platform."""
    here = default_environment()
    return {
        canonicalize_name(r.name): str(r.specifier)[2:]
        for r in read_lock(path)
        if r.marker is None or r.marker.evaluate(here)
    }


def test_lock_satisfies_every_dependency_of_pyproject():
    """A dependency added to pyproject.toml without `make lock` fails here, naming it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {
        "main": project["dependencies"] + extras["dev"],
        "deep": project["dependencies"] + extras["dev"] + extras["deep"],
    }
    for name, requirements in wanted.items():
        pins = lock_versions(LOCKS[name])
        for line in requirements:
            requirement = Requirement(line)
            version = pins.get(canonicalize_name(requirement.name))
            assert version is not None, f"{requirement.name} is not in {name}.txt: run make lock"
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name}.txt pins {requirement.name}=={version}, pyproject.toml asks for "
                f"{requirement.specifier}: run make lock"
            )


def test_resemblyzer_requirements_that_cannot_install_are_overridden():
    """resemblyzer's `typing` backport and source-only `webrtcvad` are in the lock only under a
    never-true marker; the wheel build webrtcvad-wheels provides the `webrtcvad` module."""
    deep = read_lock(LOCKS["deep"])
    removed = {canonicalize_name(r.name) for r in deep if r.marker == NEVER}
    assert removed == {"typing", "webrtcvad"}
    pins = lock_versions(LOCKS["deep"])
    assert "webrtcvad-wheels" in pins and "resemblyzer" in pins


def test_torch_and_torchaudio_are_locked_to_the_same_release():
    pins = lock_versions(LOCKS["deep"])
    assert pins["torch"] == pins["torchaudio"] == "2.11.0"


def test_installed_packages_are_the_locked_versions():
    """The environment the tests run in is the lock (`make test` installs requirements/deep.txt):
    a package another install step moved to another version fails here, naming it."""
    drift = []
    for name, pinned in lock_versions(LOCKS["deep"]).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed == "missing" or Version(installed).public != Version(pinned).public:
            drift.append(f"{name} {installed} (lock {pinned})")
    assert not drift, "not the locked versions: " + ", ".join(drift) + " (run make deep)"


def run_check(extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, env=env, timeout=300
    )


def test_deep_stack_check_names_the_installed_locked_versions():
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    found = re.fullmatch(
        r"deep stack OK: torch (\S+), torchaudio (\S+), speechbrain (\S+)", lines[0]
    )
    assert found, lines[0]
    pins = lock_versions(LOCKS["deep"])
    for name, version in zip(("torch", "torchaudio", "speechbrain"), found.groups(), strict=True):
        assert version.split("+")[0] == pins[name], f"installed {name} {version}, lock {pins[name]}"


def test_deep_stack_check_fails_in_one_line_naming_the_package(tmp_path):
    """A torchaudio whose extension does not load (the 2.11.1-beside-2.11.0 failure) stops the
    check with one line naming torchaudio and the loader's error, not a traceback."""
    package = tmp_path / "torchaudio"
    package.mkdir()
    (package / "__init__.py").write_text(  # how torchaudio 2.11.1 fails beside torch 2.11.0
        "try:\n"
        "    raise OSError('libtorchaudio.so: undefined symbol: "
        "torch_exception_get_what_without_backtrace')\n"
        "except OSError as err:\n"
        "    raise OSError('Could not load this library: libtorchaudio.so') from err\n"
    )
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    assert re.match(r"deep stack broken: torchaudio \S+ does not import: ", line), line
    assert "undefined symbol: torch_exception_get_what_without_backtrace" in line, line
    assert "-r requirements/deep.txt" in line


def test_rules_use_the_generated_envs():
    """Every rule's conda: names one of the two generated env files."""
    envs = re.findall(
        r"conda:\s*\n\s*\"([^\"]+)\"",
        "".join(p.read_text() for p in sorted((REPO / "workflow/rules").glob("*.smk"))),
    )
    assert envs
    assert set(envs) <= {"../../envs/sauti.yaml", "../../envs/sauti-deep.yaml"}
    assert "../../envs/sauti-deep.yaml" in envs
