"""Every page in the user's language, for every role: a crawler in a real browser.

Each test signs in as one seeded role, follows every link the menu offers and,
one level down, what each page links to (show, edit, add, import, profile...),
one page of each kind; on lists it also searches through the filter widget
(with a result and with none), on add forms it submits nothing to see the
validation errors, and it opens a date picker and a select2 drop-down. On
every page it collects the visible text (``innerText``, the title, tooltips,
placeholders, button values, options, drop-down menus and dialogs) and fails
on any run of Latin letters (Chinese run) or Chinese characters (English run)
that is neither on the reviewed allow-list nor data the test seeded itself.

This file runs the Chinese crawl; test_crawler_en.py the English one, so
``--dist loadfile`` spreads the two over the workers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Page

from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_license,
    make_product,
    make_reporter,
)
from helpers import PASSWORD, ROLE_KEYS, SEEDED_DEPARTMENTS, SEEDED_USERS

# Reviewed words that may show in Latin letters on a Chinese page: the product's
# brand, names of other products and formats, and the two abbreviations Chinese
# office software uses as they are. Extend only after review.
LATIN_ALLOWED = {
    "CRM",  # the brand, 长益 CRM
    "Excel",
    "xlsx",  # the file format users know by name
    "ID",
    "Email",
    "E-mail",
    "MB",
    "A",
    "B",
    "C",  # customer importance grades, A 级 / B 级 / C 级 (the spec's names)
    "English",  # the language switch names each language in itself
}
# Chinese that may show on an English page: the brand and the language switch.
CJK_ALLOWED = {"长益", "中文"}

LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z-]*[A-Za-z]|[A-Za-z]")
CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")

# Links never followed: they change state, leave the panel or download a file.
UNSAFE_LINK = re.compile(
    r"/(delete|logout|lang|api|export|download|action|actionpost|static)(/|\.|$)"
    r"|\.(xlsx|csv|pdf|json|lic|zip)$|/template\.xlsx$|/xlsx$",
)

COLLECT_TEXT = """() => {
  const texts = [["page title", document.title], ["text", document.body.innerText]];
  const add = (kind, value) => { if (value && value.trim()) texts.push([kind, value]); };
  document.querySelectorAll("[title]").forEach(e => add("tooltip", e.getAttribute("title")));
  document.querySelectorAll("[data-original-title]").forEach(
    e => add("tooltip", e.getAttribute("data-original-title")));
  document.querySelectorAll("[placeholder]").forEach(e => add("placeholder", e.getAttribute("placeholder")));
  document.querySelectorAll("[aria-label]").forEach(e => add("aria-label", e.getAttribute("aria-label")));
  document.querySelectorAll("img[alt]").forEach(e => add("image text", e.getAttribute("alt")));
  document.querySelectorAll("input[type=submit], input[type=button], input[type=reset], button[value]")
    .forEach(e => add("button", e.value));
  document.querySelectorAll("option").forEach(e => add("option", e.textContent));
  document.querySelectorAll(".dropdown-menu, .modal").forEach(e => add("menu or dialog", e.textContent));
  return texts;
}"""


@dataclass
class Crawl:
    """What one role saw in one language."""

    base: str
    language: str
    user_data: list[str]
    pages: list[str] = field(default_factory=list)
    strings: int = 0
    leaks: dict[str, list[str]] = field(default_factory=dict)  # offending line -> where
    errors: list[str] = field(default_factory=list)

    def check(self, page: Page, what: str) -> None:
        """Collect the page's text and record every run not allowed in this language."""
        url = page.url.removeprefix(self.base)
        self.pages.append(f"{url} ({what})")
        for kind, text in page.evaluate(COLLECT_TEXT):
            for value in self.user_data:
                if value.isascii():  # a login name: only as a word of its own
                    text = re.sub(rf"(?<![A-Za-z]){re.escape(value)}(?![A-Za-z])", " ", text)
                else:
                    text = text.replace(value, " ")
            for line in text.splitlines():
                line = line.strip()
                if not line:
                    continue
                self.strings += 1
                if self.bad_runs(line):
                    self.leaks.setdefault(line[:160], []).append(f"{url} [{what}, {kind}]")

    def bad_runs(self, line: str) -> list[str]:
        if self.language == "zh":
            return [run for run in LATIN_RUN.findall(line) if run not in LATIN_ALLOWED]
        return [run for run in CJK_RUN.findall(line) if run not in CJK_ALLOWED]

    def report(self) -> str:
        lines = [f"{len(self.leaks)} text(s) not in the page's language:"]
        for text, where in self.leaks.items():
            more = f" (+{len(where) - 1} more)" if len(where) > 1 else ""
            lines.append(f"  {text!r}  {self.bad_runs(text)}  at {where[0]}{more}")
        return "\n".join(lines + self.errors)


def _strings_in(value) -> set[str]:
    """The texts inside a security-log entry's details (filter values people typed…)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*map(_strings_in, value)) if value else set()
    return set()


def _logged_names(db) -> list[str]:
    """What the security log holds that people typed: login names (of accounts earlier
    tests made and removed), role and file names. A module's name in it is not one."""
    from app.localisation import VIEW_LABELS
    from app.models.audit import AuditEvent

    names = set(db.session.scalars(db.select(AuditEvent.username).distinct()))
    names |= set(db.session.scalars(db.select(AuditEvent.target).distinct()))
    for details in db.session.scalars(db.select(AuditEvent.details).distinct()):
        names |= _strings_in(json.loads(details or "{}"))
    return sorted(
        name
        for name in names
        if name and name.strip() and name.partition(" #")[0] not in VIEW_LABELS
    )


def seed_chinese_records(app) -> list[str]:
    """One record of every module, in Chinese; returns the values users typed."""
    from app.extensions import db
    from app.models import CrmUser, FeedbackStatus

    with app.app_context():
        engineer = db.session.scalars(db.select(CrmUser).filter_by(username="engineer")).one()
        customer = make_customer(
            code="C000888",
            name="上海长宁百货连锁有限公司",
            address="上海市长宁区天山路100号",
            email="kefu@example.com",
        )
        contact = make_contact(
            customer,
            name="王芳",
            position="采购经理",
            phone="13812345678",
            email="wangfang@example.com",
            birth_date=date(1985, 6, 1),
        )
        contract = make_contract(
            customer,
            number="HT-2026-0001",
            party_a="上海长宁百货连锁有限公司",
            party_b="长益软件",
            amount=Decimal("12345.00"),
            payment_date=date(2026, 2, 1),
        )
        product = make_product(
            customer,
            name="门店收银系统",
            version="5.2",
            description="定制收银系统",
            created_date=date(2025, 11, 25),
        )
        license_ = make_license(product, serial="SN-2026-0001", machine_info="收银台一号机")
        reporter = make_reporter(
            customer, name="李店长", store="南京路店", email="store@example.com"
        )
        feedback = make_feedback(
            reporter,
            product=product,
            problem="收银机无法打印小票",
            details="每天早上开机后打印机无响应",
            engineer=engineer,
            status=FeedbackStatus.in_progress,
            created_at=datetime(2026, 11, 25, 14, 3),
        )
        typed = [
            customer.code,
            customer.email,
            customer.phone,
            contact.email,
            contact.phone,
            contract.number,
            product.version,
            license_.serial,
            reporter.email,
            reporter.phone,
            customer.name,
            contact.name,
            contact.position,
            contract.party_a,
            contract.party_b,
            product.name,
            product.description,
            license_.machine_info,
            reporter.name,
            reporter.store,
            feedback.problem,
            feedback.details,
            feedback.city,
            customer.address,
            *_logged_names(db),
        ]
        db.session.remove()
    users = []
    for username in SEEDED_USERS:
        users += [f"{username}@example.com", f"{username} user", username]
    roles = list(app.config["CRM_ROLE_NAMES"].values()) + [app.config["AUTH_ROLE_PUBLIC"]]
    values = {str(value) for value in typed + users + roles + list(SEEDED_DEPARTMENTS) if value}
    return sorted(values, key=len, reverse=True)  # longest first: "sales user" before "sales"


def page_kind(url: str) -> str:
    """Pages of one kind differ only by record ids: /customers/show/<id>."""
    return re.sub(r"/\d+(?=/|$)", "/<id>", urlsplit(url).path)


def internal_links(page: Page, base: str, scope: str) -> list[str]:
    selector = ", ".join(f"{part} a[href]" for part in scope.split(","))
    hrefs = page.eval_on_selector_all(
        selector, "els => els.map(e => typeof e.href === 'string' ? e.href : '')"
    )
    links = []
    for href in hrefs:
        parts = urlsplit(href)
        if not href.startswith(base) or UNSAFE_LINK.search(parts.path):
            continue
        links.append(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
    return list(dict.fromkeys(links))


def open_page(page: Page, crawl: Crawl, url: str, what: str) -> None:
    response = page.goto(url, wait_until="domcontentloaded")
    status = response.status if response else 0
    if status >= 500:
        crawl.errors.append(f"{url}: HTTP {status}")
    crawl.check(page, what)


FILTER_ROWS = """() => [...document.querySelectorAll("#filter_form .filters .filter_val")].map(e => ({
  name: e.name,
  kind: e.tagName === "SELECT" ? "select" : (e.closest(".date") ? "date" : e.type),
  options: e.tagName === "SELECT" ? [...e.options].map(o => o.value).filter(v => v) : [],
}))"""


def search_list(page: Page, crawl: Crawl, url: str) -> None:
    """The filter widget with every filter added, then a search with a result and one without."""
    page.locator("#filter_form").locator(
        "xpath=ancestor::div[contains(@class,'panel-group')]"
    ).locator("a.accordion-toggle").click()
    page.locator("#filter_form .dropdown-toggle").click()
    page.evaluate("() => $('#filter_form a.filter').each((i, e) => $(e).trigger('click'))")
    crawl.check(page, "search form with every filter")
    rows = page.evaluate(FILTER_ROWS)
    choice = next((row for row in rows if row["kind"] == "select" and row["options"]), None)
    if choice:
        open_page(
            page,
            crawl,
            f"{url}?{choice['name']}={quote(choice['options'][0])}",
            "search with a result",
        )
    text = next((row for row in rows if row["kind"] == "text"), None)
    if text:
        open_page(
            page, crawl, f"{url}?{text['name']}={quote('没有这样的记录')}", "search with no result"
        )


def exercise_form(page: Page, crawl: Crawl, url: str, editing: bool = False) -> None:
    """A form's date picker and select2 texts, then a submit that the rules refuse.

    An add form is sent empty; an edit form with its first required text blanked,
    so nothing is ever saved.
    """
    picker = page.locator("[data-provide=datepicker] input, input.appbuilder_date").first
    if picker.count():
        picker.click()
        crawl.check(page, "date picker open")
        page.keyboard.press("Escape")
    select2 = page.locator(".select2-container .select2-selection").first
    if select2.count():
        select2.click()
        search = page.locator(".select2-container--open .select2-search__field")
        if search.count():
            search.fill("没有这样的选项")
            page.wait_for_timeout(50)
        crawl.check(page, "drop-down open")
        page.keyboard.press("Escape")
    if editing:
        required = page.locator("form input[type=text][required]").first
        if not required.count():
            return
        required.fill("")
    page.evaluate(
        "() => document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))"
    )
    submit = page.locator("form button[type=submit], form input[type=submit]").last
    if submit.count():
        submit.click()
        page.wait_for_load_state()
        crawl.check(page, "form with validation errors")


def sign_in(page: Page, crawl: Crawl, username: str) -> None:
    page.goto(f"{crawl.base}/login/", wait_until="domcontentloaded")
    if crawl.language == "en":
        switch_language(page, "en")
    crawl.check(page, "login page")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, (
        f"{username} could not sign in: {page.inner_text('body')[:500]}"
    )


def switch_language(page: Page, language: str) -> None:
    """Through the navigation bar's language menu, as a user does."""
    page.locator(".navbar .dropdown-toggle:has(.flag)").click()
    page.locator(f'.navbar a[href$="/lang/{language}"]').click()
    page.wait_for_load_state()


_static_files: dict[str, tuple] = {}


def serve_static_from_memory(route) -> None:
    """Flask sends static files without a lifetime, so the browser would ask again
    on every page: answer from memory after the first time."""
    url = route.request.url
    if url not in _static_files:
        response = route.fetch()
        try:
            _static_files[url] = (response.status, response.headers, response.body())
        finally:
            response.dispose()
    status, headers, body = _static_files[url]
    route.fulfill(status=status, headers=headers, body=body)


def crawl_role(app, base: str, page: Page, username: str, language: str) -> Crawl:
    crawl = Crawl(base=base, language=language, user_data=seed_chinese_records(app))
    # A page that hangs fails; a simple page slowed by the other test worker on two
    # cores (5 s was seen) does not.
    page.set_default_timeout(20_000)
    page.route("**/static/**", serve_static_from_memory)
    page.on("pageerror", lambda error: crawl.errors.append(f"{page.url}: script error {error}"))
    sign_in(page, crawl, username)

    seen: set[str] = set()
    page.goto(
        f"{base}/users/userinfo/", wait_until="domcontentloaded"
    )  # the menu, on a page every role may open
    menu = [f"{base}/"] + internal_links(page, base, ".navbar")
    queue = [(url, 1) for url in menu]
    while queue:
        url, depth = queue.pop(0)
        kind = page_kind(url)
        if kind in seen:
            continue
        seen.add(kind)
        open_page(page, crawl, url, "menu" if depth == 1 else "linked")
        if page_kind(page.url) != kind:  # redirected (e.g. a form that needs a choice first)
            seen.add(page_kind(page.url))
        if depth == 1:
            queue += [(link, 2) for link in internal_links(page, base, "body > .container > .row")]
        if kind.endswith("/add") or "/edit/" in kind:
            exercise_form(page, crawl, url, editing="/edit/" in kind)
        if page.locator("#filter_form").count():
            search_list(page, crawl, url)

    open_page(page, crawl, f"{base}/customers/show/999999", "record not found (404)")
    open_page(page, crawl, f"{base}/no-such-page/", "page not found (404)")
    if username != "admin":
        open_page(page, crawl, f"{base}/users/list/", "forbidden page (403)")
    print(f"\n{username} [{language}]: {len(crawl.pages)} pages, {crawl.strings} strings checked:")
    print("\n".join(f"  {visited}" for visited in crawl.pages))
    return crawl


def assert_clean(crawl: Crawl, report_dir: Path) -> None:
    """The crawl's report goes to ``report_dir`` (the test's tmp_path) for a look afterwards."""
    (report_dir / f"crawl-{crawl.language}.txt").write_text(crawl.report() + "\n", encoding="utf-8")
    assert not crawl.leaks and not crawl.errors, crawl.report()


@pytest.mark.parametrize("username", ROLE_KEYS)
def test_every_page_is_chinese(app, live_server, page, username, tmp_path):
    crawl = crawl_role(app, live_server, page, username, "zh")
    assert len(crawl.pages) > 10
    assert_clean(crawl, tmp_path)
