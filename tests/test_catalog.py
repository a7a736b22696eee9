"""The Chinese catalog covers every string the app and Flask-AppBuilder use.

Extraction runs the Makefile's own ``babel-pot`` target (the first half of
``make babel-extract``) into a temporary file, so the check sees exactly the
strings the catalogs are refreshed from.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
ZH_CATALOG = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
EN_CATALOG = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("babel") / "messages.pot"
    result = subprocess.run(
        ["make", "-s", "babel-pot", f"POT={pot}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    with pot.open("rb") as handle:
        catalog = read_po(handle)
    return {message.id: message for message in catalog if message.id}


def _key(message_id) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def test_extraction_finds_the_app_and_framework_strings(extracted):
    # The app's own strings and Flask-AppBuilder's, so an empty extraction cannot pass.
    keys = {_key(message_id) for message_id in extracted}
    assert {"Customers", "Service report", "Add Filter", "Record Count"} <= keys


def test_every_extracted_string_has_a_chinese_translation(extracted):
    zh = {_key(message.id): message for message in _read(ZH_CATALOG) if message.id}
    missing = sorted(_key(message_id) for message_id in extracted if _key(message_id) not in zh)
    fuzzy = sorted(key for key, message in zh.items() if message.fuzzy)
    empty = sorted(
        key
        for key, message in zh.items()
        if not (all(message.string) if isinstance(message.string, tuple) else message.string)
    )
    problems = [f"missing: {key!r}" for key in missing]
    problems += [f"fuzzy: {key!r}" for key in fuzzy]
    problems += [f"empty: {key!r}" for key in empty]
    assert not problems, f"{len(problems)} catalog problem(s):\n" + "\n".join(problems)


def test_english_catalog_has_no_fuzzy_entry():
    # An English msgstr is needed only where it differs from the msgid; a fuzzy one is ignored.
    fuzzy = sorted(
        _key(message.id) for message in _read(EN_CATALOG) if message.id and message.fuzzy
    )
    assert not fuzzy, fuzzy
