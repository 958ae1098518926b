"""sauti on a real SLURM cluster, through Snakemake's SLURM executor.

A session fixture starts a one-node cluster on loopback (tests/slurm/start_slurm.sh: Debian's
slurm-wlm and munge, installed when missing) and the test runs the demo-style experiment of
tests/test_workflow.py with the test profile tests/slurm/profile (the cluster profile minus
site settings). It checks what a cluster user relies on:

- every non-local job went through sbatch (SLURM job ids in Snakemake's log, SLURM's own log
  file per job);
- a job cancelled while it runs (scancel) leaves nothing that counts as done: Snakemake
  resubmits it (`retries`) with twice the memory, and the finished run's features and
  metrics equal a local run of the same config;
- finished work is not submitted again: the samples job ran once, and a second invocation has
  nothing to do.

A second test checks GPU routing: the cluster has a `gpu` partition and one fake GRES GPU, and
exactly the jobs that declare `gpu: 1` are submitted with a GPU request, given the GPU and run on
`gpu` (the controller's job records), while CPU jobs run on `debug` without one.

The test needs root and apt-get (it installs packages and runs slurmd). Elsewhere it is skipped
and says why; `make test` runs pytest with -rs, so the reason shows in the summary.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from test_separation import separation_dir  # noqa: F401  (a fixture: the separation corpus)
from test_workflow import experiment, write

from sauti.workflow import snakemake as snakemake_cli

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "slurm"
PROFILE = SCRIPTS / "profile"
#: The whole SLURM run may take this long (snakemake runs under `timeout -k 30`).
RUN_LIMIT_S = 300
pytestmark = pytest.mark.workflow


def unavailable() -> str | None:
    """Why this machine cannot run the test cluster, or None when it can."""
    if os.geteuid() != 0:
        return "starting a SLURM cluster needs root (it installs slurm-wlm and runs slurmd)"
    tools = ("slurmctld", "slurmd", "sbatch", "munged")
    if not shutil.which("apt-get") and not all(
        shutil.which(t) or Path(f"/usr/sbin/{t}").exists() for t in tools
    ):
        return "no apt-get to install slurm-wlm and munge (Debian/Ubuntu only)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[dev]')"
    if not shutil.which("timeout"):
        return "coreutils' timeout is missing"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def slurm_env():
    """A running one-node cluster; yields the environment its clients need (SLURM_CONF, PATH).

    The cluster lives in its own folder and ports, so test sessions running side by side do not
    share (or stop) each other's cluster; at the end only its own daemons are stopped."""
    reason = unavailable()
    if reason:
        pytest.skip(f"SLURM test skipped: {reason}")
    state = Path(tempfile.mkdtemp(prefix="sauti-slurm-"))
    env = {
        **os.environ,
        "SAUTI_SLURMCTLD_PORT": str(free_port()),
        "SAUTI_SLURMD_PORT": str(free_port()),
    }
    started = subprocess.run(
        ["bash", str(SCRIPTS / "start_slurm.sh"), str(state)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        if started.returncode == 3:  # the packages could not be installed here
            pytest.skip(f"SLURM test skipped: {started.stderr.strip().splitlines()[-1]}")
        assert started.returncode == 0, started.stdout + started.stderr
        print(started.stdout.strip())
        path = f"{state / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"  # srun, see the script
        yield {**os.environ, "SLURM_CONF": str(state / "slurm.conf"), "PATH": path}
    finally:
        subprocess.run(
            ["bash", str(SCRIPTS / "stop_slurm.sh"), str(state), "--purge"],
            capture_output=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, demo_dir) -> Path:
    """The small real-speech corpus of the other workflow tests (16 speakers, 5 clips each)."""
    from workflow_support import small_table, write_csv

    return write_csv(tmp_path_factory.mktemp("slurm-corpus"), small_table(demo_dir))


def squeue(env: dict) -> list[dict]:
    """Every job the controller knows (finished ones too: MinJobAge keeps them 10 min)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%T|%m|%k"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    jobs = []
    for line in out.splitlines():
        jobid, state, memory, comment = line.split("|", 3)
        jobs.append({"id": jobid, "state": state, "memory": memory, "comment": comment})
    return jobs


def megabytes(memory: str) -> int:
    """squeue's MIN_MEMORY (e.g. '900M', '2G') in MB."""
    value, unit = re.fullmatch(r"(\d+)([MGT]?)", memory).groups()
    return int(value) * {"": 1, "M": 1, "G": 1024, "T": 1024**2}[unit]


def test_experiment_runs_through_sbatch_retries_a_cancelled_job_and_matches_local(
    slurm_env, corpus, tmp_path
):
    cfg = experiment(corpus, "slurm_exp")
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    local.mkdir()
    cluster.mkdir()
    for workdir in (local, cluster):
        write(workdir, cfg)
    reference = subprocess.run(
        snakemake_cli.command(local / "exp.yaml", local, "-j2"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert reference.returncode == 0, reference.stderr[-3000:]
    known = {job["id"] for job in squeue(slurm_env)}

    command = [
        "timeout", "-k", "30", str(RUN_LIMIT_S),
        *snakemake_cli.command(
            cluster / "exp.yaml", cluster, "--workflow-profile", str(PROFILE)
        ),
    ]  # fmt: skip
    log_path = tmp_path / "snakemake-slurm.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=slurm_env, stdout=log, stderr=subprocess.STDOUT)
        cancelled = None
        while process.poll() is None:
            if cancelled is None:  # cancel the first feature shard as soon as it runs
                running = [
                    j
                    for j in squeue(slurm_env)
                    if j["id"] not in known
                    and j["state"] == "RUNNING"
                    and j["comment"].startswith("rule_features_shard")
                ]
                if running:
                    cancelled = running[0]
                    subprocess.run(["scancel", cancelled["id"]], env=slurm_env, check=True)
            time.sleep(0.2)
    elapsed = time.monotonic() - started
    output = log_path.read_text()
    assert process.returncode == 0, f"SLURM run failed after {elapsed:.0f} s:\n{output[-4000:]}"
    assert cancelled is not None, "no feature shard was seen running, so none was cancelled"

    # every job but the local rules went through sbatch, and SLURM wrote a log for each
    submitted = set(re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", output))
    jobs = {j["id"]: j for j in squeue(slurm_env) if j["id"] in submitted}
    assert set(jobs) == submitted, "squeue must know every submitted job"
    rules = [re.match(r"rule_(\w+?)(_wildcards_|$)", j["comment"]).group(1) for j in jobs.values()]
    counts = {rule: rules.count(rule) for rule in set(rules)}
    expected = {
        "samples": 1,  # done once, never resubmitted
        "split": 1,
        "features_shard": 3,  # two shards + the retry of the cancelled one
        "features": 1,
        "train": 1,
        "evaluate": 1,
    }
    assert {rule: counts.get(rule) for rule in expected} == expected, counts
    assert all(counts[rule] == 1 for rule in set(counts) - set(expected)), counts  # e.g. explore
    logs = {p.stem for p in (cluster / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(jobs) <= logs, "SLURM's own log file is missing for some jobs"

    # the cancelled shard came back as attempt 2, with twice the memory
    assert jobs[cancelled["id"]]["state"] == "CANCELLED"
    retry = [
        j
        for j in jobs.values()
        if j["comment"] == cancelled["comment"] and j["id"] != cancelled["id"]
    ]
    assert len(retry) == 1 and retry[0]["state"] == "COMPLETED"
    assert megabytes(retry[0]["memory"]) == 2 * megabytes(jobs[cancelled["id"]]["memory"])
    assert all(j["state"] == "COMPLETED" for j in jobs.values() if j is not jobs[cancelled["id"]])

    # the results equal the local run's: nothing of the cancelled attempt leaked in
    name = cfg["EXP"]["name"]
    assert json.loads((cluster / "results" / name / "metrics.json").read_text()) == json.loads(
        (local / "results" / name / "metrics.json").read_text()
    )
    for table in (local / "results" / "cache" / "features").glob("*/features.parquet"):
        twin = cluster / table.relative_to(local)
        pd.testing.assert_frame_equal(pd.read_parquet(twin), pd.read_parquet(table))
    assert not list((cluster / "results").rglob("*.part"))

    # and a second invocation finds everything done
    again = subprocess.run(
        snakemake_cli.command(cluster / "exp.yaml", cluster, "-n"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Nothing to be done" in again.stdout + again.stderr
    print(f"SLURM run: {len(jobs)} sbatch jobs in {elapsed:.0f} s")


#: The rules of the test experiment that run torch models: with device `auto` they declare
#: `gpu: 1` (sauti.workflow.registry.Registry.gpu, sauti.stages.separate.Rules.gpu).
GPU_RULES = {"separate_train", "separate_shard", "train_net"}


def job_record(env: dict, jobid: str) -> dict:
    """The controller's record of one job (`scontrol show job -d`; MinJobAge keeps finished
    jobs): Partition, TresPerJob (what sbatch asked for), JOB_GRES (what SLURM allocated)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-d", "-o", jobid],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(item.split("=", 1) for item in out.split() if "=" in item)


def test_gpu_rules_ask_for_a_gpu_and_run_on_the_gpu_partition_cpu_rules_do_not(
    slurm_env,
    separation_dir,  # noqa: F811  (the fixture imported above)
    tmp_path,
):
    """SEPARATE (teacher only) and an mlp classifier with device `auto`: separate_train,
    separate_shard and train_net declare gpu=1, so the executor submits them with --gpus=1 and the
    test profile's partition file sends them to `gpu`, where SLURM allocates the (fake) GPU;
    every other job goes to `debug` without a GPU. The jobs then train on the CPU (`auto` falls
    back when torch sees no CUDA), so the run also ends with its results."""
    table = pd.read_csv(separation_dir / "separation.csv", keep_default_na=False)
    for column in ("file", "voice", "background"):
        table[column] = [str(separation_dir / f) if f else "" for f in table[column]]
    few = table.groupby(["split", "speaker"]).head(1)
    few.to_csv(tmp_path / "corpus.csv", index=False)
    table[table["split"] == "test"].to_csv(tmp_path / "mix.csv", index=False)
    cfg = {
        "EXP": {"name": "gpu", "epochs": 3},
        "DATA": {
            "databases": ["mix"], "target": "gender",
            "mix": {"path": str(tmp_path / "mix.csv"), "split_strategy": "speaker_split", "test_size": 30},
        },
        "FEATS": {"type": ["os"]}, "MODEL": {"type": "mlp", "device": "auto"},
        "EXPL": {"bias": False},
        "SEPARATE": {
            "corpus": str(tmp_path / "corpus.csv"), "databases": ["mix"], "rounds": 0,
            "steps": 5, "batch_size": 2, "teacher": {"channels": 2, "depth": 2},
            "shards": 1, "device": "auto",
        },
    }  # fmt: skip
    configfile = write(tmp_path, cfg)
    known = {job["id"] for job in squeue(slurm_env)}
    command = [
        "timeout", "-k", "30", str(RUN_LIMIT_S),
        *snakemake_cli.command(configfile, tmp_path, "--workflow-profile", str(PROFILE)),
    ]  # fmt: skip
    run = subprocess.run(command, env=slurm_env, capture_output=True, text=True)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert (tmp_path / "results" / "gpu" / "metrics.json").exists()

    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", output)
    assert submitted and not known & set(submitted)
    records = {jobid: job_record(slurm_env, jobid) for jobid in submitted}
    by_rule: dict[str, list[dict]] = {}
    for record in records.values():
        rule = re.match(r"rule_(\w+?)(_wildcards_|$)", record["Comment"]).group(1)
        by_rule.setdefault(rule, []).append(record)
    # both kinds ran: the GPU rules (train_net twice: with and without separation), CPU ones
    assert GPU_RULES <= set(by_rule) and {"features", "evaluate"} <= set(by_rule), by_rule
    assert len(by_rule["train_net"]) == 2
    for rule, jobs in by_rule.items():
        for job in jobs:
            seen = (rule, job["Partition"], job.get("TresPerJob"), job.get("JOB_GRES"))
            assert job["JobState"] == "COMPLETED", seen
            if rule in GPU_RULES:  # asked for one GPU, ran on `gpu`, and SLURM gave it one
                assert seen == (rule, "gpu", "gres:gpu:1", "gpu:1"), seen
            else:  # no GPU asked for or held, default partition
                assert job["Partition"] == "debug", seen
                assert "gpu" not in str(job.get("TresPerJob")) + str(job.get("JOB_GRES")), seen
