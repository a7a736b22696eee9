"""The English crawl: after the language switch, no Chinese outside the data.

The crawler itself is in test_crawler.py; a file of its own lets
``--dist loadfile`` run it beside the Chinese crawl.
"""

import pytest
from test_crawler import assert_clean, crawl_role

from helpers import ROLE_KEYS


@pytest.mark.parametrize("username", ROLE_KEYS)
def test_every_page_is_english_after_the_switch(app, live_server, page, username, tmp_path):
    crawl = crawl_role(app, live_server, page, username, "en")
    assert len(crawl.pages) > 10
    assert_clean(crawl, tmp_path)
