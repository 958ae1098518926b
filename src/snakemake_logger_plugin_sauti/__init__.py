"""Snakemake logger plugin `sauti`: sauti's terminal view (`--logger sauti`, set in the default
profile, so `sauti run` and plain `snakemake` runs of the workflow both use it).

Why a package of its own with this name: Snakemake 9 finds logger plugins as top-level modules
named `snakemake_logger_plugin_<name>` on sys.path (pkgutil), so it ships next to `sauti` in the
same distribution; the behaviour lives and is tested in `sauti.app.terminal`.
"""

from __future__ import annotations

import os

from snakemake_interface_logger_plugins.base import LogHandlerBase

from sauti.app import terminal
from sauti.workflow import runs


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        settings = self.common_settings
        self.stream = terminal.default_stream(settings)
        # dry runs, --verbose and --debug-dag: Snakemake's own text (job tables, reasons)
        self.snakemake_text = bool(settings.dryrun or settings.verbose or settings.debug_dag)
        self.view = None
        if not self.snakemake_text:
            self.view = terminal.TerminalView(
                self.stream, terminal.wants_live(self.stream), os.environ.get(runs.RECORD_ENV)
            )

    def emit(self, record) -> None:
        try:
            if self.view is None:
                text = self.format(record)
                if text:
                    self.stream.write(text + "\n")
                    self.stream.flush()
            else:
                self.view.handle(record)
        except Exception:  # a display problem must never stop the workflow
            self.handleError(record)

    def close(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None
        super().close()

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False  # Snakemake's default filter (quiet, printshellcmds) applies

    @property
    def has_formatter(self) -> bool:
        return False  # Snakemake's formatter, used for its own text in dry runs

    @property
    def needs_rulegraph(self) -> bool:
        return False
