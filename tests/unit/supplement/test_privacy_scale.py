"""The privacy scan at the scale of a large study: 1,000 therapists with the
four-character ids T000-T999 and 20,000 patients. The self-contained HTML report embeds
its figures (and may embed fonts) as base64, whose letters spell such ids by chance
("/T008/"); the scan reads what a person can read and must not stop on them, while an
id in the text, in a table cell or in an image's text chunk is still found.

End to end, the two caseload-extreme studies of tests/workflow/test_caseload_extremes.py
run to the supplement with ids of the same shape (T000, T001, ...).
"""

from __future__ import annotations

import base64
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from process_outcome.analysis import figures
from process_outcome.supplement import privacy

THERAPISTS = [f"T{i:03d}" for i in range(1000)]
PATIENTS = [f"P{i:05d}" for i in range(20000)]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=300, metadata={"Software": None})
    figures.plt.close(fig)
    return buf.getvalue()


def _with_text_chunk(png: bytes, text: str) -> bytes:
    body = b"Comment\x00" + text.encode("latin-1")
    chunk = len(body).to_bytes(4, "big") + b"tEXt" + body
    chunk += zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
    return png[:33] + chunk + png[33:]  # after the IHDR chunk


def _uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


@pytest.fixture(scope="module")
def plan() -> privacy.IdScan:
    vocabulary = privacy.workflow_vocabulary(privacy.default_vocabulary_paths())
    return privacy.plan_scan(THERAPISTS + PATIENTS, vocabulary)


@pytest.fixture(scope="module")
def report_parts() -> dict[str, str]:
    """A manuscript's parts: the caterpillar figure of 1,000 therapists, a font whose
    base64 spells '/T008/' and '+t512+', and Table 3 rows under pseudonymous codes."""
    rng = np.random.default_rng(1000)
    slopes = pd.DataFrame(
        {
            "outcome": "symptoms",
            "process": np.repeat(["alliance", "expectation"], 1000),
            "therapist": [f"TH{i:04d}" for i in range(1, 1001)] * 2,
            "slope": rng.normal(-0.3, 0.2, 2000),
            "se": rng.uniform(0.05, 0.3, 2000),
            "n_patients": rng.integers(2, 40, 2000),
        }
    )
    tests = pd.DataFrame(
        {
            "outcome": "symptoms",
            "process": ["alliance", "expectation"],
            "slope_low": [-0.7, -0.6],
            "slope_high": [0.1, 0.0],
            "singular": [False, False],
            "n_therapists": [1000, 1000],
        }
    )
    caterpillar = _png(figures.caterpillar_plot(slopes, tests, {}))
    font = rng.bytes(30_000) + base64.b64decode("AAAA/T008/AAAA+t512+AAAA") + rng.bytes(30_000)
    rows = "".join(
        f"<tr><td>TH{i:04d}</td><td>{v:.2f}</td></tr>"
        for i, v in enumerate(slopes["slope"][:50], 1)
    )
    return {
        "figure": _uri("image/png", caterpillar),
        "font": _uri("font/woff2", font),
        "table": f"<table><tr><th>Therapist</th><th>Slope</th></tr>{rows}</table>",
    }


def _html(parts: dict[str, str], extra: str = "", figure: str | None = None) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
        f"@font-face {{font-family: Body; src: url({parts['font']}) format('woff2');}}"
        "</style></head><body><h1>Results</h1><p>Therapists differed in the benefit they "
        f"drew from the alliance.</p>{parts['table']}<figure><img alt='Figure 2' "
        f'src="{figure or parts["figure"]}"></figure>{extra}</body></html>'
    )


def test_base64_of_embedded_images_and_fonts_is_not_read(tmp_path: Path, plan, report_parts):
    html = _html(report_parts)
    # Read as bytes, the embedded font spells two therapist ids; a person reads none.
    assert {"T008", "T512"} <= set(privacy.scan_text(html, plan))
    path = tmp_path / "manuscript.html"
    path.write_text(html, encoding="utf-8")
    assert privacy.find_ids_in_file(path, plan) == []
    hits = privacy.find_ids(tmp_path, ["manuscript.html"], plan)
    assert hits == {}


def test_ids_a_person_can_read_are_still_found(tmp_path: Path, plan, report_parts):
    png = base64.b64decode(report_parts["figure"].split(",", 1)[1])
    tagged = _uri("image/png", _with_text_chunk(png, "made for T555"))
    cases = {
        "text.html": _html(report_parts, "<p>Dr T123 saw most patients.</p>"),
        "chunk.html": _html(report_parts, figure=tagged),
        "svg.html": _html(
            report_parts,
            f'<img src="{_uri("image/svg+xml", b"<svg><text>P00042</text></svg>")}">',
        ),
    }
    found = {}
    for name, html in cases.items():
        (tmp_path / name).write_text(html, encoding="utf-8")
        found[name] = privacy.find_ids_in_file(tmp_path / name, plan)
    assert found == {"text.html": ["T123"], "chunk.html": ["T555"], "svg.html": ["P00042"]}
