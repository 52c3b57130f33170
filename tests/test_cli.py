"""The command line, through the installed `tierbook` entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tierbook.segment import CUSTOMER_COLUMNS

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TIERBOOK, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one error line, which is the last thing the run prints."""
    lines = done.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("tierbook: error: ")] == lines[-1:]
    return lines[-1]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    directory = tmp_path_factory.mktemp("demo")
    return run("demo", "--dir", str(directory)), directory


def test_demo_writes_the_sample_export_and_classifies_it(demo_run):
    done, directory = demo_run
    assert done.returncode == 0, done.stderr
    assert (directory / "demo_sales.xlsx").exists()
    book = openpyxl.load_workbook(directory / "tierbook.xlsx", read_only=True)
    assert {"Customers", "Monthly VIP", "VIP ledger", "Input issues"} <= set(book.sheetnames)
    header = next(book["Customers"].iter_rows(max_row=1, values_only=True))
    assert list(header[: len(CUSTOMER_COLUMNS)]) == CUSTOMER_COLUMNS
    assert done.stdout.startswith(f"{directory / 'tierbook.xlsx'}: ")
    assert "customers as of 2026-10" in done.stdout


def test_progress_is_shown_on_stderr(demo_run):
    done, _ = demo_run
    lines = done.stderr.splitlines()
    assert any(line.startswith("tierbook: read ") and "usable rows" in line for line in lines)
    assert any(line.startswith("tierbook: classified ") for line in lines)


def test_segment_with_options_writes_the_workbook(demo_run, tmp_path):
    _, directory = demo_run
    out = tmp_path / "by-profit.xlsx"
    done = run("segment", str(directory / "demo_sales.xlsx"), "--out", str(out), "--criterion", "profit",
               "--share", "0.1", "--window", "3", "--month", "2026-06", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "as of 2026-06" in done.stdout
    months = [row[0] for row in openpyxl.load_workbook(out, read_only=True)["Monthly VIP"].iter_rows(min_row=2, values_only=True)]
    assert max(months) == "2026-06"


def test_bad_input_exits_2_with_a_one_line_reason(tmp_path):
    source = tmp_path / "sales.csv"
    source.write_text("client;sum\nAcme;10\n", encoding="utf-8")
    done = run("segment", str(source), "--out", str(tmp_path / "out.xlsx"))
    assert done.returncode == 2
    assert error_line(done) == ('tierbook: error: Sheet "sales.csv" has no column for date '
                                '(headers found: "client", "sum")')
    assert not (tmp_path / "out.xlsx").exists()


@pytest.mark.parametrize("args, reason", [
    (("segment", "missing.xlsx", "--out", "o.xlsx"), "missing.xlsx"),
    (("segment", "x.csv", "--out", "o.xlsx", "--month", "2024-13"), "month must look like YYYY-MM, got '2024-13'"),
    (("segment", "x.csv", "--out", "o.xlsx", "--share", "1.5"), "share must be in (0, 1], got 1.5"),
])
def test_unusable_files_and_settings_exit_2(tmp_path, args, reason):
    (tmp_path / "x.csv").write_text("client,date,sum\nAcme,2024-01-01,10\n", encoding="utf-8")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert reason in error_line(done)


def test_every_command_has_help_and_is_in_the_readme():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    from tierbook.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        done = run(name, "--help")
        assert done.returncode == 0 and "usage: tierbook " + name in done.stdout
        assert f"tierbook {name}" in readme, f"tierbook {name} is not documented in README.md"


def test_ci_runs_the_two_commands_at_the_top_of_the_readme():
    root = Path(__file__).parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    ci = [line for line in (root / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert len(first_block) == 2
    assert ci[-2:] == first_block


def test_a_problem_the_user_can_fix_exits_2_and_a_bug_exits_1_with_its_log(capsys):
    """One error hierarchy (tierbook.errors): TierbookError and its kinds (input, settings,
    mail) are the user's to fix: one line, exit 2; anything else is a bug: one line naming
    it and the log with the traceback, exit 1, never exit 2 as if the input were bad."""
    from tierbook import errors
    from tierbook.cli import run
    from tierbook.mail import MailError

    def bad_setting() -> int:
        raise errors.SettingsError("share must be between 0 and 1, got 1.5", "settings", share=1.5)

    assert run(bad_setting) == 2
    assert capsys.readouterr().err == "tierbook: error: share must be between 0 and 1, got 1.5\n"
    assert issubclass(MailError, errors.TierbookError) and issubclass(errors.InputError, errors.TierbookError)

    def bug() -> int:
        return {}["missing"]

    assert run(bug) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tierbook: internal error (KeyError: 'missing'); this is a bug in tierbook") and "\n" not in err
    log = Path(err.rsplit(" ", 1)[-1])
    assert "Traceback" in log.read_text() and "return {}[\"missing\"]" in log.read_text()
    log.unlink()


def test_a_bad_setting_carries_its_code_and_values():
    from tierbook.errors import SettingsError
    from tierbook.settings import Settings

    with pytest.raises(SettingsError) as caught:
        Settings(share=1.5)
    assert caught.value.code == "settings" and caught.value.values["problems"]
