"""The task pane's Check this Excel button (issue 20, item 7; static/js/check.js,
docs/check-excel.md). checkExcel itself runs against the strict Excel stand-in in node
(tests/js/check.test.js, run by tests/test_office_standin.py); here the real server serves
the task pane with the button and the script, and a real browser (Debian's chromium, driven
by Playwright) clicks it with Office.js namespaces stubbed in the page: the result is a list
set as text, a failing check is a line of the list, never an exception."""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

from pathlib import Path

import httpx
import pytest

from helpers import running_server

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"TMPDIR": str(tmp_path_factory.mktemp("tmp")), "TIERBOOK_OUTPUT_ROOT": str(tmp_path_factory.mktemp("root"))}
    with running_server(env) as base:
        yield base


def test_the_task_pane_has_the_button_and_serves_check_js(server):
    page = httpx.get(server + "/taskpane.html").text
    assert 'id="tierbook-check"' in page and ">Check this Excel</button>" in page
    assert "/static/js/check.js" in page
    script = httpx.get(server + "/static/js/check.js")
    assert script.status_code == 200 and "function checkExcel" in script.text
    assert "innerHTML" not in script.text


# Office.js stubs for the page: ExcelApi up to 1.8 on a Mac, and an Excel.run that rejects
# with a message that would be markup if it were set as HTML.
STUBS = """() => {
  globalThis.Office = {
    onReady: async () => ({ host: "Excel", platform: "Mac" }),
    context: { platform: "Mac", requirements: { isSetSupported: (name, v) =>
      name === "ExcelApi" && Number(v.split(".")[1]) <= 8 } },
  };
  const error = Object.assign(new Error("<img src=x id=injected>busy"), { code: "GeneralException" });
  globalThis.Excel = { run: async () => { throw error; } };
}"""


@pytest.mark.slow
def test_a_browser_clicks_check_this_excel_and_reads_the_list(server, tmp_path):
    from playwright.sync_api import sync_playwright  # the test extra; its browser is Debian's chromium

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/test.sh installs it)"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        try:
            page = context.new_page()
            page.goto(server + "/taskpane.html")
            page.wait_for_function("() => globalThis.TierbookCheck !== undefined")
            # outside Excel, Office.js never gets ready and xlwings' page offers to reload: Cancel
            page.locator("#xlwings-taskpane-reload-cancel-btn").click(timeout=60_000)
            page.evaluate(STUBS)
            page.get_by_role("button", name="Check this Excel").click()
            page.wait_for_function(
                "() => (document.getElementById('tierbook-check-result').textContent || '').includes('The check took')",
                timeout=30_000)
            lines = page.locator("#tierbook-check-result li").all_text_contents()
            assert lines[0] == "Excel: Excel on Mac (Mac)"
            assert lines[1] == "ExcelApi 1.8: yes, at least the 1.8 tierbook's manifest needs"
            assert lines[2] == "LAMBDA: the check failed (GeneralException: <img src=x id=injected>busy)"
            assert lines[3].startswith("Round trips: the check failed (GeneralException")
            assert lines[4].startswith("Largest read: the check failed (GeneralException")
            assert lines[5].startswith("The check took ")
            assert page.locator("#injected").count() == 0, "computed text is never markup"
            assert page.locator("#tierbook-check-copy").is_visible()
            assert page.get_by_role("button", name="Check this Excel").is_enabled()
        finally:
            context.close()
