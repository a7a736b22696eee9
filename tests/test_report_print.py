"""The service report prints: every sheet one page wide, headers repeated, paged.

A workbook of a realistic size (2 000 feedback rows from the demo generator)
is downloaded through the real URL, its print settings read back with
openpyxl, then printed to PDF by LibreOffice. LibreOffice and poppler's
``pdfinfo``/``pdftotext`` are required (``make browser`` installs them): a
missing tool fails the test rather than skipping it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.services import demo

NOW = datetime(2026, 6, 1)
FEEDBACK_ROWS = 2_000
# The demo's whole history (three years back from NOW): every feedback row is in the report.
URL = "/reports/service/xlsx?from=2023-05-01&to=2026-05-31"
HEADING = "服务报表 2023-05-01 至 2026-05-31"
FOOTER = "第 &P 页，共 &N 页"
# The sheets narrow enough for a portrait page; the others have many columns.
PORTRAIT = {"汇总", "积压账龄"}
# A chart right of the table prints on pages of its own, after the table's.
CHARTED = {
    "按工程师",
    "按客户",
    "按城市",
    "按门店",
    "按原因",
    "按状态",
    "按级别",
    "积压账龄",
    "月度趋势",
}
# 50 pages with this data: eleven tables of a page or a few, a page per chart, 21 pages of
# detail (about 95 rows a page). 343 before the sheets were fitted to one page wide.
MAX_PAGES = 70


@pytest.fixture
def workbook_bytes(db_session, admin):
    plan = demo.prepare(customers=80, feedback=FEEDBACK_ROWS, seed=11, now=NOW)
    demo.write(plan)
    db.session.remove()
    response = admin.get(URL)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.data


def test_every_sheet_prints_one_page_wide_with_titles_and_page_numbers(workbook_bytes):
    workbook = load_workbook(BytesIO(workbook_bytes))
    assert workbook["反馈明细"].max_row == FEEDBACK_ROWS + 1
    for ws in workbook.worksheets:
        setup = ws.page_setup
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), ws.title
        assert setup.paperSize == int(ws.PAPERSIZE_A4), ws.title
        expected = "portrait" if ws.title in PORTRAIT else "landscape"
        assert setup.orientation == expected, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert ws.oddHeader.center.text == HEADING, ws.title
        assert ws.oddFooter.center.text == FOOTER, ws.title
        areas = ws.print_area.split(",") if ws.print_area else []
        assert len(areas) == (2 if ws.title in CHARTED else 0), (ws.title, areas)


def test_libreoffice_prints_it_in_a_reasonable_number_of_pages(workbook_bytes, tmp_path):
    for tool in ("libreoffice", "pdfinfo", "pdftotext"):
        assert shutil.which(tool), (
            f"{tool} is missing: `make browser` installs it "
            "(apt-get install libreoffice-calc-nogui poppler-utils)"
        )
    source = tmp_path / "report.xlsx"
    source.write_bytes(workbook_bytes)
    pdf = print_to_pdf(source, tmp_path)

    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    assert 11 <= pages <= MAX_PAGES, pages

    sizes = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", str(pages), pdf], capture_output=True, text=True, check=True
    ).stdout
    landscape = [
        float(width) > float(height)
        for width, height in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", sizes, re.M)
    ]
    assert len(landscape) == pages
    assert not landscape[0] and landscape[-1], "the summary portrait, the detail landscape"

    text = subprocess.run(
        ["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")[:pages]
    assert all(HEADING in page for page in text), "a page lacks the heading"
    # The detail's header row ("问题描述" is one of its columns) is on each of its pages.
    detail = text[next(number for number, page in enumerate(text) if "问题描述" in page) :]
    assert len(detail) >= 10 and all("问题描述" in page for page in detail), len(detail)
    assert f"第 {pages} 页，共 {pages} 页" in text[-1]
    assert "第 1 页，共" in text[0]


def print_to_pdf(source, folder):
    """LibreOffice's PDF of ``source``, with a profile of its own (parallel runs share none)."""
    profile = (folder / "lo-profile").as_uri()
    subprocess.run(
        [
            "libreoffice",
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(source),
        ],
        capture_output=True,
        timeout=600,
        check=True,
    )
    pdf = source.with_suffix(".pdf")
    assert pdf.exists(), "LibreOffice wrote no PDF"
    return str(pdf)
