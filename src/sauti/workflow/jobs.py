"""The light rules' jobs, run as threads inside the Snakemake process (`run:` blocks).

Why in Snakemake's process: these jobs do well under a second of work, and as `script:` rules
each paid a new Python interpreter importing numpy, pandas and sauti first (0.4-1.2 s), which
was most of a re-run's time after a MODEL or report change. Each function is what a shim did:
unpack the rule's input/params/output and call the stage in `sauti.stages` / `sauti.stages.summary`
under `stage_logging(..., in_thread=True)` (own log per job, StageFailed on error). Keeping them
here keeps the `run:` blocks one line long (`snakemake --lint` asks for short run blocks).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sauti.core.stage_log import stage_logging, stop_threads_on_signals
from sauti.stages import SPECS
from sauti.stages.evaluate import evaluate_stage
from sauti.stages.explore import explore_stage
from sauti.stages.features import features_stage
from sauti.stages.labels import labels_stage
from sauti.stages.report import report_stage
from sauti.stages.samples import samples_stage
from sauti.stages.split import split_stage
from sauti.stages.summary import grid_summary_stage, multidb_summary_stage
from sauti.stages.train import train_stage


def samples(input, output, params, log) -> None:
    with stage_logging(log[0], "samples", in_thread=True):
        samples_stage(params.cfg, params.content, output.samples)


def on_start() -> None:
    """The Snakefile's onstart (main thread, Snakemake's signal handlers set): a stopped run
    ends its jobs in threads at their next step (sauti.core.stage_log.stop_threads_on_signals)."""
    stop_threads_on_signals()


def cancel_scheduler_timers() -> None:
    """The Snakefile's onsuccess/onerror (and the warm worker's exit): cancel the
    threading.Timer threads Snakemake's scheduler leaves behind (its job-rate limiter
    re-evaluates after 1 s). The interpreter would wait for them at exit, for nothing: they
    only wake a scheduler that has finished."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def labels(input, output, params, log) -> None:
    with stage_logging(log[0], "labels", in_thread=True):
        labels_stage(input.samples, params.cfg, params.content, output.labels)


def features(input, output, params, log, threads, resources) -> None:
    """Merging shards, or extracting a kind that releases the GIL (rule features; the other
    kinds run the same stage in a process of their own, rule features_process)."""
    with stage_logging(log[0], "features", in_thread=True):
        features_stage(
            input.samples,
            list(input.get("shards", [])),
            params.cfg,
            output.features,
            device=resources.device,
            batch_size=resources.batch_size,
            workers=threads,
        )


def split(input, output, params, log) -> None:
    with stage_logging(log[0], "split", in_thread=True):
        split_stage(list(input.samples), params.names, params.cfg, output.split)


def evaluate(input, output, params, log) -> None:
    with stage_logging(log[0], "evaluate", in_thread=True):
        evaluate_stage(input.predictions, input.info, params.cfg, Path(output.metrics).parent)


def explore(input, output, params, log) -> None:
    with stage_logging(log[0], "explore", in_thread=True):
        explore_stage(input.split, list(input.features), params.cfg, Path(output.manifest).parent)


def report(input, output, params, log) -> None:
    with stage_logging(log[0], "report", in_thread=True):
        sections = {name: SPECS[name].report_section for name in params.cfg["extensions"]}
        report_stage(dict(input.items()), params.cfg, dict(output.items()), sections)


def grid_summary(input, output, params, log) -> None:
    with stage_logging(log[0], "grid summary", in_thread=True):
        grid_summary_stage(list(input.metrics), params.cfg, dict(output.items()))


def multidb_summary(input, output, params, log) -> None:
    with stage_logging(log[0], "multidb summary", in_thread=True):
        multidb_summary_stage(list(input.metrics), params.cfg, dict(output.items()))


def train(input, output, params, log) -> None:
    """Classic models only (rule train); torch nets keep their own process (rule train_net)."""
    with stage_logging(log[0], "train", in_thread=True):
        train_stage(
            input.split,
            list(input.features),
            params.cfg,
            str(Path(output.model).parent),
            augmented_path=input.get("augment"),
        )
