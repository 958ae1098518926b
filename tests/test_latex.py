"""REPORT.latex: the PDF report holds the title, the metrics and the figures (pdftotext)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from sauti.core.errors import SautiError
from sauti.ml.latex import escape, latex_source, render_latex

needs_tex = pytest.mark.skipif(
    not (shutil.which("pdflatex") and shutil.which("pdftotext")),
    reason="pdflatex/pdftotext not installed (apt-get install texlive-latex-base poppler-utils)",
)


@pytest.fixture
def context(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = tmp_path / "confusion_test.png"
    plt.figure(figsize=(3, 2))
    plt.plot([0, 1], [1, 0])
    plt.savefig(figure)
    plt.close()
    per_class = {
        "female": {"precision": 0.9, "recall": 0.875, "f1": 0.887, "support": 40},
        "male": {"precision": 0.8, "recall": 0.95, "f1": 0.868, "support": 20},
    }
    return {
        "name": "demo_gender",
        "title": "Gender & age_50% {test}",
        "author": "Ada",
        "config": {"MODEL": {"type": "svm"}, "FEATS": {"type": ["os"]}},
        "metrics": {
            "target": "gender",
            "type": "classification",
            "labels": ["female", "male"],
            "test": {
                "uar": 0.9125,
                "accuracy": 0.9,
                "f1_macro": 0.877,
                "n": 60,
                "per_class": per_class,
                "confusion": [[35, 5], [1, 19]],
            },
        },  # fmt: skip
        "images": [{"path": str(figure), "caption": "Confusion matrix (test)"}],
        "sections": [
            {
                "id": "predict",
                "title": "Estimated labels",
                "note": "Samples: all (55).",
                "table": {
                    "caption": "c",
                    "header": ["Column", "Result"],
                    "rows": [["est_snr", "mean 32.0, median 30.9"]],
                },
                "images": [{"path": str(figure), "caption": "est_snr histogram"}],
            }  # fmt: skip
        ],
    }


def test_escape_makes_special_characters_printable():
    assert escape("a_b & 50% {x} #1") == r"a\_b \& 50\% \{x\} \#1"
    assert escape("0.90 ± 0.01") == r"0.90 $\pm$ 0.01"


def test_source_includes_every_figure(context):
    source, figures = latex_source(context)
    assert len(figures) == 2 and r"\includegraphics" in source and "fig2.png" in source
    assert r"Gender \& age\_50\% \{test\}" in source


@needs_tex
def test_pdf_has_title_uar_and_sections(context, tmp_path):
    pdf = render_latex(context, tmp_path / "out" / "demo.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "Gender & age_50% {test}" in text
    assert "0.912" in text or "0.913" in text  # the UAR, formatted like the HTML report
    assert "Estimated labels" in text and "est_snr" in text and "female" in text
    assert pdf.with_suffix(".tex").is_file()
    assert not list((tmp_path / "out").glob("*.part"))


def test_missing_pdflatex_is_one_line(context, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SautiError, match="pdflatex is not installed") as err:
        render_latex(context, tmp_path / "demo.pdf")
    assert "\n" not in str(err.value)
