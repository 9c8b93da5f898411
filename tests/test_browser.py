"""A real browser (Debian's Chromium driven by Playwright) on the real server's pages.

Chromium is required: CI installs it (``.ci/run``); its absence is an error, not a skip.
The case page's screenshot is written to ``$ALKLD_SCREENSHOTS`` (default: pytest's temp dir).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = os.environ.get("ALKLD_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} not found: install it (apt-get install chromium) "
                           "or set ALKLD_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        blocked: list[str] = []

        def guard(route):  # no CDN at run time: anything off the loopback is a failure
            blocked.append(route.request.url)
            route.abort()

        context.route(lambda url: not url.startswith(server), guard)
        pg = context.new_page()
        pg.blocked = blocked  # type: ignore[attr-defined]
        yield pg
        browser.close()


def test_index_then_case_page(page: Page, server, tmp_path_factory):
    page.goto(server + "/")
    rows = page.locator("#cases tbody tr")
    expect(rows).to_have_count(4)
    page.get_by_role("link", name="CARS1::ALK", exact=False).first.click() \
        if page.get_by_role("link", name="CARS1::ALK").count() else \
        page.locator("#cases a[href='/doc/case/choi-imt-case1']").click()
    page.wait_for_url("**/doc/case/choi-imt-case1")
    expect(page.locator("#case-title")).to_contain_text("CARS1::ALK")
    expect(page.locator("table.ihc tbody tr")).to_have_count(6)
    expect(page.locator("svg.fusion")).to_be_visible()
    expect(page.locator("#timeline li").first).to_be_visible()
    shots = Path(os.environ.get("ALKLD_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "case-page.png"), full_page=False)
    assert (shots / "case-page.png").stat().st_size > 10_000
    print(f"screenshot: {shots / 'case-page.png'}")


def test_query_page_runs_a_named_query(page: Page, server):
    page.goto(server + "/query")
    expect(page.locator(".yasqe")).to_be_visible()
    page.locator("#examples button[data-name='fusion-partners-by-disease']").click()
    table = page.locator(".yasr table tbody tr")
    expect(table.first).to_be_visible(timeout=20_000)
    assert table.count() >= 4
    expect(page.locator(".yasr")).to_contain_text("CARS1")
    assert not [u for u in page.blocked if "/static/" in u]  # type: ignore[attr-defined]
