"""Flask-AppBuilder templates the app copies whole (or rebuilds from) stay in step with FAB.

Where FAB offers a block the app extends it; the files below could not be done that
way. Each is pinned to the SHA-256 of FAB's original as it was when copied (FAB
5.3.0), so an upgrade that changes an original fails here instead of leaving the
app's copy a silent fork. To update: diff the new original against the old one
(``pip download flask-appbuilder==5.3.0``), carry the change into the copy, then
put the new version in the copy's header and the new hash here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import flask_appbuilder
import pytest

COPIED_FROM = "5.3.0"
APP_TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
FAB_TEMPLATES = Path(flask_appbuilder.__file__).resolve().parent / "templates"

# the app's template -> {FAB's original: its SHA-256 in FAB 5.3.0}
COPIES = {
    "appbuilder/init.html": {
        "appbuilder/init.html": "63cd58ec542d996fa33839b677cbe2c089da35a0085222ad01b2bfcb8a119cb8",
    },
    "appbuilder/general/alert.html": {
        "appbuilder/general/alert.html": (
            "a1d8f674dcdba29725488ee3557c0e0e7aea635f39012613c9284be38da2a31f"
        ),
    },
    "appbuilder/general/confirm.html": {
        "appbuilder/general/confirm.html": (
            "b40fa102c061f75bc43de5b65b90f4858d1b5fe8d223ad49c99c0e894125c062"
        ),
    },
    "appbuilder/general/model/show.html": {
        "appbuilder/general/model/show.html": (
            "67a574db1dc124a2216ff7a685718044bfe0f78f85d67116915e09aee522a1ea"
        ),
    },
    "appbuilder/general/widgets/list.html": {
        "appbuilder/general/widgets/list.html": (
            "2a0fad48fe42239c756dbc963dcefa3cba1181c6d699378bc811dd081ebdb662"
        ),
    },
    "appbuilder/general/widgets/search.html": {
        "appbuilder/general/widgets/search.html": (
            "36c988fa2af397d9471690521224384abc13a4156b3bc744459f59ba7c7471c0"
        ),
    },
    "appbuilder/general/widgets/show.html": {
        "appbuilder/general/widgets/show.html": (
            "babd5b80d4e383c4a0a2a6d535f3aaf17285eb4e9d76e1bbf8f0cfe85586358a"
        ),
    },
    "appbuilder/general/widgets/roles/list.html": {
        "appbuilder/general/widgets/roles/list.html": (
            "fbf2cb3dbc25ccb6673f8478c3e87bb1c170c22a7663f889ee9e94650bbca818"
        ),
    },
    "appbuilder/general/widgets/roles/show.html": {
        "appbuilder/general/widgets/roles/show.html": (
            "3d84311595cea9f6c0440b8f2cd8d995a7c25e8ec16c79e8da1c516961ea2428"
        ),
    },
    # Not copies but rebuilt from these: the top bar and the block it replaces.
    "crm/navbar.html": {
        "appbuilder/navbar.html": "140e7b7ef55a8b66b8adfa25bec7703fb07ad4ffc6c9f2e374e1f2914744de07",
        "appbuilder/navbar_right.html": (
            "0a7b39c996f2f3a1e425e9cc811c1a6c1bdc1aa34d2dc792aa10084e654bd4b8"
        ),
    },
    "crm/base.html": {
        "appbuilder/baselayout.html": (
            "105fed33362428021ec5e86fa17a25dac8fad972b567c1cb0b3fdb3af821cf07"
        ),
    },
}
ORIGINALS = [(copy, original) for copy, originals in COPIES.items() for original in originals]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("copy", "original"), ORIGINALS, ids=[o for _, o in ORIGINALS])
def test_fab_original_is_the_one_copied(copy, original):
    installed = FAB_TEMPLATES / original
    assert installed.is_file(), f"FAB no longer has {original}, which {copy} copies"
    assert sha256(installed) == COPIES[copy][original], (
        f"Flask-AppBuilder {flask_appbuilder.__version__} changed {original} since "
        f"app/templates/{copy} was copied from it (FAB {COPIED_FROM}): carry the change "
        "over, then update the copy's header and the hash in this test."
    )


@pytest.mark.parametrize("copy", list(COPIES))
def test_copy_names_the_fab_version_it_came_from(copy):
    header = (APP_TEMPLATES / copy).read_text(encoding="utf-8").split("-#}", 1)[0]
    assert header.startswith("{#-") and f"Flask-AppBuilder {COPIED_FROM}" in header


def test_every_override_of_a_fab_template_is_watched():
    """A template under app/templates/appbuilder/ replaces FAB's of the same name."""
    overrides = {
        path.relative_to(APP_TEMPLATES).as_posix()
        for path in (APP_TEMPLATES / "appbuilder").rglob("*.html")
    }
    assert overrides <= set(COPIES), sorted(overrides - set(COPIES))


def test_the_check_notices_a_changed_original(tmp_path):
    """A one-character change to an original gives another hash (the check above can fail)."""
    original = FAB_TEMPLATES / "appbuilder/general/alert.html"
    changed = tmp_path / "alert.html"
    changed.write_bytes(original.read_bytes().replace(b"OK", b"Ok", 1))
    assert (
        sha256(changed) != COPIES["appbuilder/general/alert.html"]["appbuilder/general/alert.html"]
    )
