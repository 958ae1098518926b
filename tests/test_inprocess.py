"""The light rules run as threads inside the Snakemake process (`run:` blocks, force-use-threads).

What that needs, tested here: two plotting jobs at once draw the same images as one after the
other (matplotlib's object API, no pyplot state); each job's log gets only its own records and
stderr; a failing stage in a thread stops with its one line; and in a real run split, evaluate
and report run in one process (Snakemake's) while training keeps its own.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from workflow_support import gender_experiment, run_ok, small_table, snakemake, write, write_csv

from sauti.core import progress
from sauti.core.errors import SautiError
from sauti.core.stage_log import StageFailed, carry_job_output, stage_logging
from sauti.ml.explore_plots import feature_plot, value_counts_plot
from sauti.ml.plots import confusion_matrix_plot, regression_scatter_plot
from sauti.stages.summary import bar_plot


def _draw(folder, i: int):
    """Three plots of the kinds evaluate and the summaries draw, different per `i`."""
    rng = pd.Series(range(40)).sample(frac=1.0, random_state=i).to_numpy()
    confusion_matrix_plot(
        [[i + 3, 2], [1, 9 - i % 3]], ["female", "male"], folder / "cm.png", f"UAR {i}"
    )
    regression_scatter_plot(rng, rng[::-1], folder / "scatter.png", f"run {i}")
    bar_plot(["a", "b", "c"], [0.1 * (i % 7), 0.5, 0.9], folder / "bars.png", "grid", "uar")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_two_plotting_jobs_at_once_draw_what_one_at_a_time_draws(tmp_path):
    jobs = range(8)
    serial = {}
    for i in jobs:
        (tmp_path / f"serial{i}").mkdir()
        serial[i] = _draw(tmp_path / f"serial{i}", i)
    for i in jobs:
        (tmp_path / f"thread{i}").mkdir()
    with ThreadPoolExecutor(2) as pool:
        threaded = dict(
            zip(jobs, pool.map(lambda i: _draw(tmp_path / f"thread{i}", i), jobs), strict=True)
        )
    for i in jobs:
        assert set(threaded[i]) == {"cm.png", "scatter.png", "bars.png"}
        assert threaded[i] == serial[i], f"job {i} drew different images in a thread"
    assert serial[0]["cm.png"] != serial[1]["cm.png"]  # the comparison can tell jobs apart
    assert "matplotlib.pyplot" not in sys.modules or not _pyplot_figures()


def _draw_explore(folder, demo_table, i: int):
    """Two explore plots (seaborn on the object API) of a different sample per `i`."""
    rows = demo_table.sample(n=120, random_state=i)
    value_counts_plot(rows, ["gender", "language"], folder / "counts.png", f"{i}", False, "png")
    feature_plot(
        rows["rate"].rename("rate"), rows["gender"], folder / "feature.png",
        f"rate {i}", "violin", True, "png",
    )  # fmt: skip
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_two_explore_jobs_at_once_draw_what_one_at_a_time_draws(tmp_path, demo_table):
    """The explore jobs also run as threads of Snakemake's process (sauti.workflow.jobs)."""
    jobs = range(6)
    serial = {}
    for i in jobs:
        (tmp_path / f"serial{i}").mkdir()
        serial[i] = _draw_explore(tmp_path / f"serial{i}", demo_table, i)
    for i in jobs:
        (tmp_path / f"thread{i}").mkdir()
    with ThreadPoolExecutor(2) as pool:
        draw = lambda i: _draw_explore(tmp_path / f"thread{i}", demo_table, i)  # noqa: E731
        threaded = dict(zip(jobs, pool.map(draw, jobs), strict=True))
    for i in jobs:
        assert threaded[i] == serial[i], f"explore job {i} drew different images in a thread"
    assert serial[0]["counts.png"] != serial[1]["counts.png"]  # the comparison can tell jobs apart
    assert "matplotlib.pyplot" not in sys.modules or not _pyplot_figures()


def _pyplot_figures():
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def _job(log, stage: str, barrier: threading.Barrier, fail: bool = False):
    with stage_logging(str(log), stage, in_thread=True):
        barrier.wait()  # both jobs are inside their logging context at once
        for n in range(20):
            logging.getLogger("sauti.test").info("%s record %d", stage, n)
            print(f"{stage} stderr {n}", file=sys.stderr)
        bar = progress.bar(range(3), total=3, desc=f"{stage} bar", mininterval=0)
        for _ in bar:
            pass
        barrier.wait()
        if fail:
            raise SautiError(f"{stage}: the input table has no rows", hint="check the CSV")


def test_jobs_in_threads_log_to_their_own_files(tmp_path):
    barrier = threading.Barrier(2)
    logs = {stage: tmp_path / f"{stage}.log" for stage in ("evaluate", "report")}
    with ThreadPoolExecutor(2) as pool:
        futures = {stage: pool.submit(_job, log, stage, barrier) for stage, log in logs.items()}
        for future in futures.values():
            future.result()
    for stage, log in logs.items():
        other = "report" if stage == "evaluate" else "evaluate"
        text = log.read_text()
        assert text.count(f"{stage} record") == 20 and text.count(f"{stage} stderr") == 20
        assert f"{stage} bar" in text and f"{stage} finished in" in text
        assert other not in text, f"{other}'s output leaked into {log.name}"
    assert not isinstance(sys.stderr, type(None))
    print("after the jobs", file=sys.stderr)  # the test's own thread still writes to its stderr


def test_a_failing_job_in_a_thread_raises_with_its_one_line(tmp_path):
    log = tmp_path / "split.log"
    with pytest.raises(StageFailed, match="split: the input table has no rows"):
        _job(log, "split", threading.Barrier(1), fail=True)
    lines = [line for line in log.read_text().splitlines() if "ERROR" in line]
    assert (
        len(lines) == 1
        and "the input table has no rows" in lines[0]
        and "check the CSV" in lines[0]
    )
    assert "Traceback" not in log.read_text()


def _pid(log) -> int | None:
    match = re.search(r"runs in the workflow's process (\d+)", log.read_text())
    return int(match.group(1)) if match else None


def _experiment(corpus, model: str) -> dict:
    return gender_experiment(corpus, f"exp_{model}", model)


def test_classic_models_train_in_process_and_nets_in_their_own(tmp_path, demo_dir):
    from sauti.workflow.registry import registry_from_files

    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=2))
    files = [str(write(tmp_path, _experiment(corpus, m), f"{m}.yaml")) for m in ("svm", "mlp")]
    registry = registry_from_files(files)
    svm, mlp = (registry.plan(f"exp_{m}").train.key for m in ("svm", "mlp"))
    classic, nets = registry.train_keys(neural=False), registry.train_keys(neural=True)
    assert re.fullmatch(classic, svm) and not re.fullmatch(classic, mlp)
    assert re.fullmatch(nets, mlp) and not re.fullmatch(nets, svm)
    only_svm = registry_from_files(files[:1])
    assert not re.fullmatch(only_svm.train_keys(neural=True), svm)  # no nets: matches nothing


def test_gil_releasing_feature_kinds_extract_in_process_and_praat_in_its_own(tmp_path, demo_dir):
    from sauti.workflow.registry import registry_from_files

    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=2))
    cfg = _experiment(corpus, "svm")
    cfg["FEATS"]["type"] = ["os", "praat"]
    for shards in (1, 2):  # 2: praat's job merges the shards (their extraction is features_shard)
        cfg["EXP"]["shards"] = shards
        registry = registry_from_files([str(write(tmp_path, cfg))])
        keys = {s.params["type"]: s.key for (n, _), s in registry.stages.items() if n == "features"}
        inline = registry.features_keys(in_process=True)
        own = registry.features_keys(in_process=False)
        assert re.fullmatch(inline, keys["os"]) and not re.fullmatch(own, keys["os"])
        assert bool(re.fullmatch(inline, keys["praat"])) == (shards > 1)
        assert bool(re.fullmatch(own, keys["praat"])) == (shards == 1)


def _job_with_a_pool(log, stage: str) -> None:
    """A job in a thread whose helper threads write to stderr and log (an extraction pool)."""

    def helper(i):
        print(f"{stage} helper stderr {i}", file=sys.stderr)
        logging.getLogger("sauti.test").warning("%s helper record %d", stage, i)

    with stage_logging(str(log), stage, in_thread=True):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(carry_job_output(helper), range(4)))


def test_a_jobs_helper_threads_write_to_its_log(tmp_path, capfd):
    logs = {stage: tmp_path / f"{stage}.log" for stage in ("features", "explore")}
    with ThreadPoolExecutor(2) as jobs:
        for future in [jobs.submit(_job_with_a_pool, log, stage) for stage, log in logs.items()]:
            future.result()
    for stage, log in logs.items():
        text = log.read_text()
        other = "explore" if stage == "features" else "features"
        assert text.count(f"{stage} helper stderr") == 4, text
        assert text.count(f"{stage} helper record") == 4, text
        assert other not in text
    assert "helper" not in capfd.readouterr().err  # nothing reached the terminal


@pytest.mark.workflow
def test_light_rules_run_in_snakemakes_process(tmp_path, demo_dir):
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=4))
    cfg = _experiment(corpus, "svm")
    run_ok(tmp_path, write(tmp_path, cfg))
    cache = tmp_path / "results" / "cache"
    light = [
        next((cache / "samples").glob("*/samples.log")),
        next((cache / "features").glob("*/features.log")),  # os: openSMILE releases the GIL
        next((cache / "split").glob("*/split.log")),
        next((cache / "train").glob("*/train.log")),
        next((cache / "evaluate").glob("*/evaluate.log")),
        tmp_path / "results" / "exp_svm" / "report.log",
    ]
    pids = {_pid(log) for log in light}
    assert len(pids) == 1 and None not in pids, pids  # one process: Snakemake's
    assert (tmp_path / "results" / "exp_svm" / "report.html").exists()

    # a stage failing in Snakemake's process: one line naming the filter, no traceback, no output
    cfg["DATA"]["small"]["filter"] = {"gender": ["nobody"]}
    result = snakemake(tmp_path, write(tmp_path, cfg))
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "leaves no samples" in text and "Traceback" not in text


def test_a_stopped_run_ends_a_job_in_a_thread_at_its_next_step(tmp_path):
    """SIGTERM in Snakemake's process (its handler kept) tells the jobs in threads to stop: the
    job's bar raises at its next step, the job fails with one line and writes nothing."""
    import os
    import signal

    from sauti.core.stage_log import stop_threads_on_signals

    seen = []
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    started, out = threading.Event(), tmp_path / "features.parquet"

    def job():
        with stage_logging(str(tmp_path / "features.log"), "features", in_thread=True):
            for _ in progress.bar(range(10_000), desc="features os", mininterval=0):
                started.set()
                threading.Event().wait(0.01)
            out.write_text("done")  # not reached

    try:
        snakemakes = lambda number, frame: seen.append(number)  # noqa: E731
        signal.signal(signal.SIGTERM, snakemakes)
        stop_threads_on_signals()
        stop_threads_on_signals()  # a second run in one process (sauti watch): no second layer
        assert signal.getsignal(signal.SIGTERM).__wrapped__ is snakemakes
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(job)
            assert started.wait(30)
            os.kill(os.getpid(), signal.SIGTERM)
            with pytest.raises(StageFailed, match="features stopped"):
                future.result(timeout=30)
        assert seen == [signal.SIGTERM]  # the handler before it still ran
        assert not out.exists()
        assert (
            "features stopped: the run is being stopped" in (tmp_path / "features.log").read_text()
        )
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)
        progress.STOPPING.clear()
