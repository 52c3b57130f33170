"""tierbook as its users install it: the wheel in a fresh virtual environment, run from a
folder with no source tree; and xlwings Lite's situation, a Python without pyarrow and
fastexcel (Pyodide has neither).

Both build real virtual environments with pip (from its cache when it has one), so they
are marked slow; CI runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})} if env is not None else None)
    return done


def _ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _ok(_run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)], cwd=out))
    (found,) = out.glob("tierbook-*.whl")
    return found


def _venv(path: Path) -> Path:
    _ok(_run([sys.executable, "-m", "venv", str(path)], cwd=path.parent))
    return path / "bin"


@pytest.fixture(scope="session")
def user_bin(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its excel extra, as a user installs it."""
    bin_ = _venv(tmp_path_factory.mktemp("user") / "venv")
    _ok(_run([str(bin_ / "pip"), "install", "-q", f"{wheel}[excel]"], cwd=wheel.parent))
    return bin_


def test_every_folder_of_code_is_a_package_of_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(ROOT / "addin").parts) for p in (ROOT / "addin" / "tierbook").rglob("*.py")
            if "__pycache__" not in p.parts}
    assert code <= listed, f"folders of code missing from [tool.setuptools] packages: {sorted(code - listed)}"


def test_the_wheel_carries_templates_mail_sample_server_files_and_the_xlam(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"tierbook/workbook_templates/{p.name}" for p in (ROOT / "workbook_templates").glob("*.xlsx")}
    assert templates and templates <= names
    for needed in ("tierbook/data/demo_sales.xlsx", "tierbook/mail_templates/en/body.html",
                   "tierbook/mail_templates/ru/subject.txt", "tierbook/server/templates/manifest.xml",
                   "tierbook/server/templates/taskpane.html", "tierbook/server/static/js/ribbon.js",
                   "tierbook/server/static/images/icons/tierbook-80.png", "tierbook/addin/tierbook.xlam",
                   "tierbook/server/custom_functions/__init__.py", "tierbook/server/custom_scripts/__init__.py"):
        assert needed in names


def test_every_command_works_from_the_installed_wheel_without_a_source_tree(user_bin, tmp_path):
    tierbook = str(user_bin / "tierbook")
    where = _ok(_run([str(user_bin / "python"), "-c", "import tierbook; print(tierbook.__file__)"], cwd=tmp_path))
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout

    demo = _ok(_run([tierbook, "demo", "--dir", "d"], cwd=tmp_path))
    assert "customers as of 2026-10" in demo.stdout
    seg = _ok(_run([tierbook, "segment", "d/demo_sales.xlsx", "--out", "s.xlsx", "--lang", "ru", "--quiet"],
                   cwd=tmp_path))
    assert seg.stdout.startswith("s.xlsx: ") and (tmp_path / "s.xlsx").stat().st_size > 10_000
    split = _ok(_run([tierbook, "split", "d/tierbook.xlsx", "--by", "segment", "--dir", "split"], cwd=tmp_path))
    assert len(split.stdout.splitlines()) >= 5 and all(Path(tmp_path, p).is_file() for p in split.stdout.splitlines())
    (tmp_path / "mailing.csv").write_text("By,Segment or manager,To,Cc\nsegment,VIP,vip-team@example.com,\n"
                                          "segment,Lost VIP,boss@example.com,\n", encoding="utf-8")
    dry = _ok(_run([tierbook, "send", "d/tierbook.xlsx", "--mailing", "mailing.csv", "--dry-run"], cwd=tmp_path))
    assert "vip-team@example.com" in dry.stdout + dry.stderr and "boss@example.com" in dry.stdout + dry.stderr
    assert not (tmp_path / "outbox").exists()
    plan = _ok(_run([tierbook, "reactivation", "plan", "d/tierbook.xlsx", "--seed", "7"], cwd=tmp_path))
    assert "variant" in plan.stdout
    results = _run([tierbook, "reactivation", "results", "d/tierbook.xlsx"], cwd=tmp_path)
    assert "Traceback" not in results.stderr and results.returncode in (0, 2), results.stderr
    _ok(_run([tierbook, "addin", "install", "--help"], cwd=tmp_path))
    _ok(_run([tierbook, "addin", "install", "--dir", "xlstart"], cwd=tmp_path))
    assert (tmp_path / "xlstart" / "tierbook.xlam").is_file()


def test_serve_from_the_installed_wheel_serves_the_manifest_and_icons(user_bin, tmp_path):
    from helpers import running_server

    with running_server(command=[str(user_bin / "tierbook"), "serve"], ready="/manifest.xml", cwd=tmp_path) as base:
        manifest = httpx.get(base + "/manifest.xml").text
        assert "tierbookTab" in manifest and f"<Version>{_package_version_as_manifest()}</Version>" in manifest
        assert httpx.get(base + "/static/images/icons/tierbook-32.png").content[:4] == b"\x89PNG"


def _package_version_as_manifest() -> str:
    from tierbook.server import manifest_version

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    return manifest_version(version)


def test_serve_without_the_excel_extra_names_the_extra_in_one_line(wheel, tmp_path):
    bin_ = _venv(tmp_path / "venv")
    _ok(_run([str(bin_ / "pip"), "install", "-q", str(wheel)], cwd=tmp_path))
    done = _run([str(bin_ / "tierbook"), "serve"], cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tierbook: error: this command needs the excel extra (uvicorn is not installed): pip install "
        "'tierbook[excel]' (or, from a source tree, pip install -e '.[excel]')"]


# --------------------------------------------------------------------------- xlwings Lite

LITE_SCRIPT = textwrap.dedent('''
    import asyncio, importlib.util, json, os, sys
    os.environ["XLWINGS_ON_SERVER"] = "true"
    os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
    missing = [m for m in ("pyarrow", "fastexcel") if importlib.util.find_spec(m) is None]
    import xlwings as xw, xlwings.server
    from xlwings.server import Caller, caller_from_address
    import tierbook.excel as excel
    from tierbook.read import read_transactions
    from tierbook.schema import InputError

    given = json.load(open(sys.argv[1]))
    caller = given["caller"]
    data = {"func_name": "segment", "args": [given["customers"], given["transactions"]], "caller_address": caller,
            "culture_info_name": "en-US", "date_format": "yyyy-mm-dd", "runtime": "1.4", "version": xw.__version__,
            "client": "Office.js"}
    segments = asyncio.run(xlwings.server.custom_functions_call(
        data, excel, typehint_to_value={Caller: caller_from_address(caller)}))
    book = xw.Book(json=given["book"])
    book = asyncio.run(xlwings.server.custom_scripts_call(excel, "segment_customers", typehint_to_value={xw.Book: book}))
    actions = book.json()["actions"]
    try:
        read_transactions(given["xlsx"])
        read_error = None
    except InputError as error:
        read_error = str(error)
    print(json.dumps({"missing": missing, "segments": segments, "actions": len(actions),
                      "written": sorted({a["sheet_position"] for a in actions if a.get("func") == "setValues"}),
                      "read_error": read_error,
                      "loaded": sorted(m for m in ("pyarrow", "fastexcel") if m in sys.modules)}))
''')


@pytest.fixture(scope="session")
def lite_bin(wheel, tmp_path_factory) -> Path:
    """A venv with what xlwings Lite has (no pyarrow, no fastexcel) and the wheel without its dependencies."""
    bin_ = _venv(tmp_path_factory.mktemp("lite") / "venv")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    xlwings = next(d for d in config["project"]["optional-dependencies"]["excel"] if d.startswith("xlwings=="))
    _ok(_run([str(bin_ / "pip"), "install", "-q", "pandas", "numpy", "openpyxl", "defusedxml", "lxml", xlwings],
             cwd=wheel.parent))
    _ok(_run([str(bin_ / "pip"), "install", "-q", "--no-deps", str(wheel)], cwd=wheel.parent))
    return bin_


def test_excel_functions_and_scripts_work_without_pyarrow_and_fastexcel(lite_bin, tmp_path):
    os.environ["XLWINGS_ON_SERVER"] = "true"
    os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
    from test_excel import BOOK, book_payload, sheet_matrix

    from tierbook.demo import demo_path
    from tierbook.read import read_transactions
    from tierbook.segment import classify
    from tierbook.settings import Settings
    from tierbook.sheets import primary_segment

    tx, issues = read_transactions(demo_path())
    expected = classify(tx, Settings(), issues)
    given = {"caller": f"[{BOOK}]Sales!N2", "customers": [[c] for c in expected.customers["customer"]],
             "transactions": sheet_matrix(demo_path(), "Sales"), "book": book_payload(demo_path()),
             "xlsx": str(demo_path())}
    (tmp_path / "given.json").write_text(json.dumps(given, default=str), encoding="utf-8")
    (tmp_path / "lite.py").write_text(LITE_SCRIPT, encoding="utf-8")
    done = _ok(_run([str(lite_bin / "python"), "lite.py", "given.json"], cwd=tmp_path))
    got = json.loads(done.stdout.strip().splitlines()[-1])

    assert got["missing"] == ["pyarrow", "fastexcel"] and got["loaded"] == []
    # the same segments as the engine computes with pyarrow, for every customer
    assert [row[0] for row in got["segments"]] == primary_segment(expected.customers).tolist()
    assert got["actions"] > 10 and len(got["written"]) >= 5
    assert got["read_error"] == ("Reading .xlsx files needs fastexcel, which is not installed (xlwings Lite has "
                                 "none): pip install fastexcel, or in Excel use the workbook's own sheets")
