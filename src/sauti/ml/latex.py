"""REPORT.latex: the experiment report as a PDF, compiled with pdflatex.

Why from the HTML report's view: sauti.ml.report_view.build_view already formats every number and
table (3-decimal metrics, per-class rows, the bias table, the SEGMENT/PREDICT sections), so the
PDF shows exactly the values of report.html. Only the layout differs. The document uses
packages of Debian's texlive-latex-base alone (graphicx, geometry), so a minimal TeX install
is enough. pdflatex runs in a temporary folder (figures copied in under plain names, so no
path needs TeX escaping) and only the finished PDF is moved into place.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sauti.core.errors import SautiError
from sauti.core.fileio import copy_file, write_text
from sauti.ml.report_view import build_view

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_UNICODE = {"±": r"$\pm$", "×": r"$\times$", "²": r"$^2$", "·": r"\textperiodcentered{}"}


def escape(text: Any) -> str:
    """Plain text -> LaTeX source that prints it as is."""
    out = "".join(_SPECIAL.get(c, c) for c in str(text))
    for char, macro in _UNICODE.items():
        out = out.replace(char, macro)
    return out.encode("ascii", "replace").decode()  # pdflatex with T1 fonts: ASCII only


def find_pdflatex() -> str:
    path = shutil.which("pdflatex")
    if path is None:
        raise SautiError(
            "REPORT.latex: pdflatex is not installed, so no PDF report can be built",
            hint="apt-get install texlive-latex-base (or unset REPORT.latex)",
        )
    return path


def _table(header: list[str], rows: list[list[Any]], caption: str = "") -> str:
    spec = "l" + "r" * (len(header) - 1)
    lines = [r"\begin{center}\small", rf"\begin{{tabular}}{{{spec}}}", r"\hline"]
    lines.append(" & ".join(rf"\textbf{{{escape(h)}}}" for h in header) + r" \\ \hline")
    lines += [" & ".join(escape(c) for c in row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    if caption:
        lines.append(rf"\\[2pt] {{\footnotesize {escape(caption)}}}")
    lines.append(r"\end{center}")
    return "\n".join(lines)


def _figure(name: str, caption: str) -> str:
    return "\n".join(
        [
            r"\begin{center}",
            rf"\includegraphics[width=0.8\linewidth,height=0.4\textheight,keepaspectratio]{{{name}}}",
            rf"\\ {{\footnotesize {escape(caption)}}}",
            r"\end{center}",
        ]
    )


def _images(items) -> list[tuple[Path, str]]:
    out = []
    for item in items or []:
        path = Path(str(item.get("path", "")))
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".pdf") and path.is_file():
            out.append((path, str(item.get("caption") or path.stem)))
    return out


def latex_source(context: Mapping[str, Any]) -> tuple[str, list[Path]]:
    """The document's source and the figures it includes (fig1.png, fig2.png, ... in order)."""
    view = build_view(context)
    figures: list[Path] = []

    def figure(path: Path, caption: str) -> str:
        figures.append(path)
        return _figure(f"fig{len(figures)}{path.suffix.lower()}", caption)

    body = [r"\section*{Summary}"]
    body.append(_table(["", ""], [[k, v] for k, v in view["summary"]["facts"]]))
    for block in view["summary"]["splits"]:
        rows = [[card["title"], card["value"], "; ".join(card["notes"])] for card in block["cards"]]
        title = f"{block['split']} ({block['n']} {block['unit']})" if block["n"] else block["split"]
        body.append(_table([title, "value", ""], rows))
    for table in view["per_class"]:
        rows = [
            [r["label"], r["precision"], r["recall"], r["f1"], r["support"]] for r in table["rows"]
        ]
        body.append(rf"\subsection*{{Per class ({escape(table['split'])})}}")
        body.append(_table(["label", "precision", "recall", "F1", "support"], rows))
    results = _images(context.get("images"))
    if results:
        body.append(r"\section*{Results}")
        body += [figure(path, caption) for path, caption in results]
    explore = view.get("explore")
    if explore:
        body.append(r"\section*{Exploration and bias check}")
        if explore["bias"]:
            rows = [
                [r["column"], r["test"], r["statistic"], r["p"], r["effect"], r["effect_size"],
                 "yes" if r["flagged"] else "no"]
                for r in explore["bias"]
            ]  # fmt: skip
            body.append(
                _table(
                    ["column", "test", "statistic", "p", "effect", "value", "flagged"],
                    rows,
                    "Flagged: at least a medium effect and p < 0.05.",
                )
            )
        body += [figure(p, c) for p, c in _images((context.get("explore") or {}).get("images"))]
    for raw, section in zip(context.get("sections") or [], view["sections"], strict=True):
        body.append(rf"\section*{{{escape(section['title'])}}}")
        if section["note"]:
            body.append(escape(section["note"]))
        if section["table"]:
            table = section["table"]
            body.append(_table(table["header"], table["rows"], table["caption"]))
        body += [figure(p, c) for p, c in _images(raw.get("images"))]
    author = rf"\author{{{escape(view['author'])}}}" if view.get("author") else r"\author{}"
    source = "\n".join(
        [
            r"\documentclass[a4paper,10pt]{article}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage[margin=2cm]{geometry}",
            r"\usepackage{graphicx}",
            rf"\title{{{escape(view['title'])}}}",
            author,
            rf"\date{{{escape(view['generated_at'])} \textperiodcentered{{}} sauti {escape(view['version'])}}}",
            r"\begin{document}",
            r"\maketitle",
            *body,
            r"\end{document}",
            "",
        ]
    )
    return source, figures


def render_latex(context: Mapping[str, Any], out_pdf: str | Path) -> Path:
    """Write `out_pdf` (and its .tex beside it) from the report context; atomic."""
    pdflatex = find_pdflatex()
    out_pdf = Path(out_pdf)
    source, figures = latex_source(context)
    write_text(out_pdf.with_suffix(".tex"), source)  # kept for inspection, also on failure
    with tempfile.TemporaryDirectory(prefix="sauti-latex-") as tmp:
        build = Path(tmp)
        for i, path in enumerate(figures, 1):
            shutil.copyfile(path, build / f"fig{i}{path.suffix.lower()}")
        (build / "report.tex").write_text(source, encoding="utf-8")
        result = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
            cwd=build,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0 or not (build / "report.pdf").is_file():
            errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
            raise SautiError(
                f"REPORT.latex: pdflatex failed on {out_pdf.with_suffix('.tex').name} "
                f"({errors[0] if errors else 'see the .tex file'})",
                hint=f"the LaTeX source is kept at {out_pdf.with_suffix('.tex')}",
            )
        copy_file(build / "report.pdf", out_pdf)
    return out_pdf
