"""The HTML report renders every section from a realistic context and stays self-contained."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from sauti.core.errors import SautiError  # noqa: E402
from sauti.ml.report_view import build_view, fmt_duration, render_report  # noqa: E402

VOID = {"meta", "link", "img", "br", "hr", "input", "source", "col", "area", "base", "wbr"}


class TagBalance(HTMLParser):
    """Records every non-void tag that is closed out of order or never closed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def assert_balanced(html: str) -> None:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    assert parser.rawdata == ""  # nothing left unparsed


@pytest.fixture(scope="module")
def png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "confusion.png"
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.imshow([[8, 2], [3, 7]], cmap="Blues")
    fig.savefig(path)
    plt.close(fig)
    return path


def classification_context(png: Path) -> dict:
    per_class = {
        "female": {"precision": 0.8125, "recall": 0.7, "f1": 0.752, "support": 10},
        "male": {"precision": 0.72, "recall": 0.8, "f1": 0.7579, "support": 10},
    }
    return {
        "name": "gender-xgb-os",
        "version": "0.1.0",
        "generated_at": "2025-01-01 12:00 UTC",
        "config": {
            "experiment": {"name": "gender-xgb-os"},
            "data": {"databases": ["demo"], "target": "gender"},
            "features": {"types": ["os", "praat"]},
            "model": {"type": "xgb", "params": {"n_estimators": 100}},
        },
        "metrics": {
            "target": "gender",
            "type": "classification",
            "labels": ["female", "male"],
            "test": {
                "uar": 0.75,
                "accuracy": 0.75,
                "f1_macro": 0.74895,
                "per_class": per_class,
                "n": 20,
                "confusion": [[7, 3], [2, 8]],
            },
            "dev": {
                "uar": 0.6667,
                "accuracy": 0.7,
                "f1_macro": 0.65,
                "n": 10,
                "per_class": per_class,
            },
            "runs": {
                "n": 3,
                "test": [{"uar": 0.7, "accuracy": 0.7}, {"uar": 0.75}, {"uar": 0.8}],
                "uar_mean": 0.75,
                "uar_std": 0.05,
            },
            "cv": {
                "method": "speaker-5-fold",
                "folds": [{"fold": 1, "uar": 0.71, "n": 40}, {"fold": 2, "uar": 0.79, "n": 38}],
                "mean": {"uar": 0.75},
            },
        },
        "data_summary": {
            "per_split_label": {
                "train": {"female": 30, "male": 30},
                "test": {"female": 10, "male": 10},
            },
            "speakers": {"train": 6, "test": 2},
            "duration_s": {"train": 5400.0, "test": 610.0},
            "databases": {"demo": 80},
        },
        "images": [{"path": png, "caption": "Confusion matrix on the test split"}],
        "keys": {"features_os": "feat-3fa9c0d1", "model": "model-77be01aa"},
    }


@pytest.fixture(scope="module")
def rendered(png, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report") / "sub" / "report.html"
    render_report(classification_context(png), out)
    assert out.is_file()
    return out.read_text(encoding="utf-8")


def test_summary_shows_name_and_headline_metrics(rendered):
    assert "<title>gender-xgb-os · sauti report</title>" in rendered
    assert "<h1>gender-xgb-os</h1>" in rendered
    assert ">0.750<" in rendered  # test UAR, 3 decimals
    assert ">0.667<" in rendered  # dev UAR
    assert "chance level 0.500" in rendered
    assert "xgb" in rendered and "os, praat" in rendered
    assert "2025-01-01 12:00 UTC" in rendered and "sauti 0.1.0" in rendered


def test_runs_cv_and_data_tables(rendered):
    assert 'id="runs"' in rendered and "0.750 ± 0.050" in rendered
    assert 'id="cv"' in rendered and "speaker-5-fold" in rendered and ">0.790<" in rendered
    assert "1 h 30 min" in rendered and "10 min 10 s" in rendered  # durations
    assert "50.0%" in rendered  # share of a label in its split
    assert "<td>demo</td>" in rendered


def test_per_class_rows_image_config_and_keys(rendered, png):
    for row in (
        '<tr><td>female</td><td class="num">0.812</td><td class="num">0.700</td>'
        '<td class="num">0.752</td><td class="num">10</td></tr>',
        '<tr><td>male</td><td class="num">0.720</td><td class="num">0.800</td>'
        '<td class="num">0.758</td><td class="num">10</td></tr>',
    ):
        assert row in rendered
    payload = base64.b64encode(png.read_bytes()).decode("ascii")
    assert f'src="data:image/png;base64,{payload}"' in rendered
    assert "<figcaption>Confusion matrix on the test split</figcaption>" in rendered
    assert "model:\n  type: xgb\n  params:\n    n_estimators: 100" in rendered
    assert "<code>feat-3fa9c0d1</code>" in rendered


def test_html_is_balanced_and_self_contained(rendered):
    assert_balanced(rendered)
    # Nothing fetched from elsewhere: no external src/href, no @import or url() in the CSS.
    assert not re.search(r'(src|href)="(?!data:|#)', rendered)
    assert "@import" not in rendered and "url(" not in rendered


def test_user_text_is_escaped(png, tmp_path):
    context = classification_context(png)
    context["name"] = "<b>x</b>"
    context["metrics"]["labels"] = ["<script>", "male"]
    context["metrics"]["test"]["per_class"] = {
        "<script>": {"precision": 1, "recall": 1, "f1": 1, "support": 1}
    }
    context["images"] = [{"path": png, "caption": '"><script>alert(1)</script>'}]
    out = tmp_path / "r.html"
    render_report(context, out)
    html = out.read_text(encoding="utf-8")
    assert "<script>" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert_balanced(html)


def test_regression_shows_ccc_not_uar(tmp_path):
    context = {
        "name": "age-svr",
        "metrics": {
            "target": "age",
            "type": "regression",
            "test": {"ccc": 0.61234, "pcc": 0.7, "mae": 8.5, "mse": float("nan"), "n": 50},
        },
        "data_summary": {"duration_s": {"test": 30.0}},
    }
    out = tmp_path / "r.html"
    render_report(context, out)
    html = out.read_text(encoding="utf-8")
    assert ">CCC<" in html and ">0.612<" in html and ">8.500<" in html and ">n/a<" in html
    assert "UAR" not in html and "chance" not in html
    assert "30.0 s" in html
    assert 'id="runs"' not in html and 'id="cv"' not in html and 'id="config"' not in html
    assert_balanced(html)


def test_missing_image_becomes_a_note(tmp_path):
    context = {
        "name": "e",
        "metrics": {"type": "classification", "labels": ["a", "b"], "test": {"uar": 0.5}},
        "images": [{"path": tmp_path / "nope.png", "caption": "Lost plot"}],
    }
    out = tmp_path / "r.html"
    render_report(context, out)
    html = out.read_text(encoding="utf-8")
    assert 'class="missing">image not found:' in html and "nope.png" in html
    assert "<figcaption>Lost plot</figcaption>" in html
    assert "<img" not in html


def test_svg_is_embedded_with_its_mime_type(tmp_path):
    svg = tmp_path / "plot.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    view = build_view({"name": "e", "metrics": {"test": {}}, "images": [{"path": svg}]})
    assert view["images"][0]["uri"].startswith("data:image/svg+xml;base64,")
    assert view["images"][0]["caption"] == "plot"


def test_long_dataframe_is_pivoted_to_labels_by_splits():
    long = pd.DataFrame({"split": ["train", "train", "test"], "label": ["a", "b", "a"]})
    view = build_view(
        {"name": "e", "metrics": {"labels": ["a", "b"]}, "data_summary": {"per_split_label": long}}
    )
    table = view["data"]["labels"]
    assert table["splits"] == ["train", "test"]
    assert [r["label"] for r in table["rows"]] == ["a", "b"]
    assert table["footer"] == ["2", "1", "3"]


def test_missing_required_keys_and_template_are_clear_errors(tmp_path):
    with pytest.raises(SautiError, match="metrics"):
        render_report({"name": "e"}, tmp_path / "r.html")
    with pytest.raises(SautiError, match="template"):
        render_report({"name": "e", "metrics": {"test": {}}}, tmp_path / "r.html", tmp_path)
    assert not (tmp_path / "r.html").exists()


def test_duration_formatting():
    assert fmt_duration(59.94) == "59.9 s"
    assert fmt_duration(3599.6) == "1 h 00 min"
    assert fmt_duration(59.96) == "1 min 00 s"
    assert fmt_duration(7260) == "2 h 01 min"
    assert fmt_duration(None) == "n/a"
