"""Segment workbooks on an Office.js client: the files reach the manager's browser
(issue 20, item 5). The shelf of tierbook.downloads (one-time links, the zip, the sweep),
the download route of the real server on 127.0.0.1, the ribbon client in node producing
the links, and a real browser (Debian's chromium, driven by Playwright) clicking one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import httpx
import openpyxl
import pandas as pd
import pytest

from helpers import running_server
from test_excel_scripts import payload_with_settings
from test_ribbon_transport import ribbon_run
from tierbook import downloads, jobs
from tierbook.demo import demo_path
from tierbook.downloads import DownloadError, Shelf, content_disposition, download_name
from tierbook.workbook import read_customers, split_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- the shelf


def shelf_with_run(tmp_path: Path, names=("segment/VIP.xlsx", "segment/Good.xlsx", "manager/Anna.xlsx"),
                   max_age: float = 3600.0) -> tuple[Shelf, list[downloads.Entry]]:
    shelf = Shelf(tmp_path / "shelf", max_age)
    folder = shelf.new_folder()
    files = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode() * 100)
        files.append(path)
    return shelf, shelf.offer(files, folder, "Sales - tierbook workbooks.zip")


def test_each_file_link_works_once_and_the_run_goes_when_every_file_is_downloaded(tmp_path):
    shelf, entries = shelf_with_run(tmp_path)
    *files, zipped = entries
    assert zipped.is_zip and [e.name for e in files] == ["VIP.xlsx", "Good.xlsx", "Anna.xlsx"]
    tokens = [e.token for e in entries]
    assert len(set(tokens)) == 4 and all(len(t) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)
    first = shelf.take(files[0].token)
    assert first is files[0] and shelf.take(files[0].token) is None  # being sent: not twice at once
    shelf.release(first)  # the send failed: the link works again
    shelf.sent(shelf.take(files[0].token))
    assert shelf.take(files[0].token) is None and shelf.state(files[0].token) == "sent"
    assert not files[0].path.exists() and files[1].path.exists() and zipped.path.exists()
    for entry in files[1:]:
        shelf.sent(shelf.take(entry.token))
    assert not files[0].path.parent.parent.exists()  # every file downloaded: the run's folder, zip and all, is gone
    assert shelf.take(zipped.token) is None and list(shelf.root.iterdir()) == []
    assert shelf.take("no-such-token") is None and shelf.state("no-such-token") is None


def test_the_zip_holds_every_file_and_once_downloaded_ends_the_run(tmp_path):
    shelf, entries = shelf_with_run(tmp_path)
    *files, zipped = entries
    with zipfile.ZipFile(zipped.path) as archive:
        assert archive.namelist() == ["segment/VIP.xlsx", "segment/Good.xlsx", "manager/Anna.xlsx"]
        assert archive.read("manager/Anna.xlsx") == files[2].path.read_bytes()
    assert zipped.name == "Sales - tierbook workbooks.zip" and zipped.content_type == "application/zip"
    assert files[0].content_type == XLSX
    shelf.sent(shelf.take(files[0].token))
    shelf.sent(shelf.take(zipped.token))
    assert list(shelf.root.iterdir()) == []
    assert [shelf.state(e.token) for e in entries] == ["sent"] * 4  # "already downloaded", not "unknown"


def test_the_sweep_removes_runs_older_than_the_limit_and_what_an_earlier_server_left(tmp_path):
    shelf, entries = shelf_with_run(tmp_path, max_age=600)
    orphan = shelf.root / "run-of-an-earlier-server"
    orphan.mkdir()
    (orphan / "x.xlsx").write_bytes(b"x")
    young = shelf.root / "run-young"
    young.mkdir()
    now = time.time()
    os.utime(orphan, (now - 601, now - 601))
    assert shelf.sweep(now) == [orphan]  # the run itself is younger than 600 s
    assert entries[0].path.exists() and young.exists()
    removed = shelf.sweep(now + 601)
    assert entries[0].path.parent.parent in removed and not entries[0].path.exists()
    assert shelf.take(entries[0].token) is None and shelf.state(entries[0].token) is None  # forgotten
    assert [p.name for p in shelf.root.iterdir()] == []  # the young folder's time is now past the limit too


@pytest.mark.parametrize("value", ["abc", "0", "-5", "61", "nan", "inf"])
def test_the_limit_is_a_number_of_minutes_up_to_an_hour_named_when_wrong(value):
    with pytest.raises(DownloadError, match=rf"^TIERBOOK_DOWNLOAD_MINUTES must be a number of minutes above 0 and "
                                            rf"at most 60 .*got '{value}'"):
        downloads.max_age(value)
    assert downloads.max_age("") == 3600 and downloads.max_age("1.5") == 90


def test_the_server_does_not_start_with_a_bad_limit(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tierbook.server", "--port", "1"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TIERBOOK_DOWNLOAD_MINUTES": "two hours"})
    assert done.returncode != 0
    assert "TIERBOOK_DOWNLOAD_MINUTES must be a number of minutes" in done.stderr, done.stderr


@pytest.mark.parametrize("name, ascii_part, star", [
    ("VIP.xlsx", 'filename="VIP.xlsx"', None),
    ("Разовые.xlsx", 'filename="download.xlsx"', "%D0%A0%D0%B0%D0%B7%D0%BE%D0%B2%D1%8B%D0%B5.xlsx"),
    ("Müller, Jörg.xlsx", 'filename="Muller_ Jorg.xlsx"', "M%C3%BCller%2C%20J%C3%B6rg.xlsx"),
    ("../../etc/passwd", 'filename="passwd"', None),
    ('..\\..\\boot.ini', 'filename="boot.ini"', None),
    ('a"b\r\nSet-Cookie: x.xlsx', 'filename="a_b Set-Cookie_ x.xlsx"', None),
])
def test_download_names_are_safe_and_non_ascii_names_use_rfc_5987(name, ascii_part, star):
    header = content_disposition(name)
    assert header.startswith("attachment; " + ascii_part)
    assert ("filename*=UTF-8''" + star in header) if star else "filename*" not in header
    assert "/" not in download_name(name) and "\\" not in download_name(name) and "\n" not in header
    assert header.isascii()


def test_an_offered_file_must_lie_in_a_folder_of_the_shelf(tmp_path):
    shelf = Shelf(tmp_path / "shelf", 60)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.xlsx").write_bytes(b"x")
    with pytest.raises(DownloadError, match="not a folder of the download shelf"):
        shelf.offer([outside / "x.xlsx"], outside, "all.zip")
    folder = shelf.new_folder()
    with pytest.raises(DownloadError, match="must lie in the run's folder"):
        shelf.offer([outside / "x.xlsx"], folder, "all.zip")


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def temp(tmp_path_factory) -> Path:
    """The server's temporary folder (TMPDIR): the shelf is a folder in it."""
    return tmp_path_factory.mktemp("tmp")


@pytest.fixture(scope="module")
def server(temp, tmp_path_factory):
    env = {"TMPDIR": str(temp), "TIERBOOK_OUTPUT_ROOT": str(tmp_path_factory.mktemp("root"))}
    with running_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def split_files(tmp_path_factory) -> dict[str, Path]:
    """What `tierbook segment` and `tierbook split` write for the demo: {"segment/VIP.xlsx": path, ...}."""
    folder = tmp_path_factory.mktemp("cli")
    jobs.segment_file(demo_path(), folder / "tierbook.xlsx")
    return {f"{by}/{p.name}": p for by in ("segment", "manager")
            for p in split_workbook(folder / "tierbook.xlsx", by, folder / by)}


def shelf_runs(temp: Path) -> list[str]:
    return sorted(str(p.relative_to(temp)) for p in temp.glob("tierbook-downloads-*/*"))


def same_workbook(got: Path, expected: Path) -> None:
    assert openpyxl.load_workbook(got, read_only=True).sheetnames == \
        openpyxl.load_workbook(expected, read_only=True).sheetnames
    pd.testing.assert_frame_equal(read_customers(got)[0], read_customers(expected)[0])


def test_the_ribbon_run_lists_links_whose_files_are_those_of_tierbook_split(server, temp, split_files, tmp_path):
    run = ribbon_run(server, "segment_workbooks", payload_with_settings(folder="/etc"), tmp_path)
    links = run["downloads"]
    assert [a["func"] for a in run["actions"]] == []  # no message: the task pane lists the links
    files, zipped = [d for d in links if not d.get("zip")], [d for d in links if d.get("zip")]
    assert sorted(f"{d['folder']}/{d['name']}" for d in files) == sorted(split_files)
    assert len(zipped) == 1 and zipped[0]["name"] == "demo_sales - tierbook workbooks.zip"
    assert all(d["url"].startswith("/tierbook/download/") for d in links)  # on the server's own origin
    assert len(shelf_runs(temp)) == 1
    for item in files:
        response = httpx.get(server + item["url"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == XLSX
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        assert int(response.headers["content-length"]) == item["bytes"] == len(response.content)
        got = tmp_path / "got.xlsx"
        got.write_bytes(response.content)
        same_workbook(got, split_files[f"{item['folder']}/{item['name']}"])
        again = httpx.get(server + item["url"])
        assert again.status_code == 410 and "downloaded already" in again.json()["detail"]
    assert shelf_runs(temp) == []  # every file downloaded: nothing is left in the server's temporary folder
    assert httpx.get(server + zipped[0]["url"]).status_code == 410
    assert not Path("/etc/segment").exists()  # the settings' folder is not written on an Office.js client


def test_the_zip_downloads_every_workbook_once_and_leaves_nothing(server, temp, split_files, tmp_path):
    links = ribbon_run(server, "segment_workbooks", payload_with_settings(), tmp_path)["downloads"]
    zipped = next(d for d in links if d.get("zip"))
    head = httpx.head(server + zipped["url"])  # a look at the headers does not use the link up
    assert head.status_code == 200 and head.headers["content-type"] == "application/zip"
    response = httpx.get(server + zipped["url"])
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == \
        'attachment; filename="demo_sales - tierbook workbooks.zip"'
    (tmp_path / "all.zip").write_bytes(response.content)
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        assert sorted(archive.namelist()) == sorted(split_files)
        archive.extractall(tmp_path / "all")
    for name, expected in split_files.items():
        same_workbook(tmp_path / "all" / name, expected)
    assert shelf_runs(temp) == []
    assert httpx.get(server + zipped["url"]).status_code == 410
    assert httpx.get(server + links[0]["url"]).status_code == 410  # the files were in the zip


@pytest.mark.parametrize("path", ["/tierbook/download/not-a-token", "/tierbook/download/..%2F..%2Fetc%2Fpasswd",
                                  "/tierbook/download/%2Fetc%2Fpasswd", "/tierbook/download/.", "/tierbook/download/"])
def test_an_unknown_token_or_a_path_is_not_found(server, path):
    response = httpx.get(server + path)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_xlwings_own_script_route_answers_an_alert_with_the_zip_link(server, temp, split_files, tmp_path):
    body = json.dumps(payload_with_settings(folder="team"), default=str)
    response = httpx.post(server + "/xlwings/custom-scripts-call/segment_workbooks", content=body, timeout=300,
                          headers={"Content-Type": "application/json", "Origin": server})
    assert response.status_code == 200, response.text
    alerts = [a["args"] for a in response.json()["actions"] if a["func"] == "alert"]
    assert len(alerts) == 1 and alerts[0][1] == "tierbook"
    match = re.fullmatch(rf"tierbook made {len(split_files)} workbooks\. Download them once, within 60 minutes, as "
                         rf"one zip: ({re.escape(server)}/tierbook/download/[A-Za-z0-9_-]{{32}})", alerts[0][0])
    assert match, alerts[0][0]
    got = httpx.get(match[1])
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(__import__("io").BytesIO(got.content)) as archive:
        assert sorted(archive.namelist()) == sorted(split_files)
    assert shelf_runs(temp) == []


# --------------------------------------------------------------------------- a real browser


@pytest.mark.slow
def test_a_browser_downloads_a_link_of_the_task_pane(server, split_files, tmp_path, chromium):
    """The task pane page of the server in Debian's chromium (headless, driven by
    Playwright): static/js/downloads.js lists the links of a ribbon run; clicking one
    saves the workbook, which opens with openpyxl as `tierbook split`'s; its link is then
    marked downloaded and answers 410; the zip link downloads every file."""
    links = ribbon_run(server, "segment_workbooks", payload_with_settings(), tmp_path)["downloads"]
    page = chromium.new_page()
    page.goto(server + "/taskpane.html")
    page.wait_for_function("() => globalThis.TierbookDownloads !== undefined")
    # outside Excel, Office.js never gets ready and xlwings' page offers to reload: Cancel
    page.locator("#xlwings-taskpane-reload-cancel-btn").click(timeout=60_000)
    page.evaluate("(list) => TierbookDownloads.show(list)", links)
    first = next(d for d in links if not d.get("zip"))
    with page.expect_download() as info:
        page.get_by_role("link", name=first["name"], exact=True).first.click()
    saved = tmp_path / "saved" / info.value.suggested_filename
    info.value.save_as(saved)
    assert info.value.failure() is None and saved.name == first["name"]
    same_workbook(saved, split_files[f"{first['folder']}/{first['name']}"])
    assert page.get_by_role("link", name=first["name"], exact=True).first.get_attribute(
        "data-downloaded") == "true"
    with page.expect_download() as info:
        page.locator("[data-tierbook-zip]").click()
    info.value.save_as(tmp_path / "all.zip")
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        assert sorted(archive.namelist()) == sorted(split_files)
    assert httpx.get(server + first["url"]).status_code == 410
