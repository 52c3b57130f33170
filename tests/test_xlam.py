"""tierbook.xlam, the desktop add-in: built by scripts/build_xlam.py from xlwings'
ribbon add-in template, read back here with what others use to read such files
(zipfile, defusedxml, olefile, oletools' olevba, headless LibreOffice), and installed
by tierbook.install into a temporary folder.

The shipped add-in must be what a fresh build makes, so it cannot go stale when
excel.BUTTONS, RibbonTierbook.bas or the build change.
"""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import olefile
import pytest
from defusedxml import ElementTree
from hypothesis import given, settings as hyp_settings, strategies as st
from oletools.olevba import VBA_Parser, decompress_stream

import tierbook.excel as excel
from tierbook import install as installer

from libreoffice import soffice

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "addin" / "tierbook" / "addin" / "tierbook.xlam"
DISPATCH_CALL = """RunPython "import tierbook.excel; tierbook.excel.ribbon('" & control.Id & "')\""""
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CUSTOMUI = "{http://schemas.microsoft.com/office/2009/07/customui}"


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_xlam", ROOT / "scripts" / "build_xlam.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_xlam"] = module
    spec.loader.exec_module(module)
    return module


build_xlam = _load_build_script()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_xlam.build(tmp_path_factory.mktemp("xlam") / "tierbook.xlam")


@pytest.fixture(scope="module")
def parts(built) -> dict[str, bytes]:
    return build_xlam.members(built)


def template_parts() -> dict[str, bytes]:
    return build_xlam.members(build_xlam.template_path())


def macros(vba_project: bytes) -> dict[str, str]:
    """Module name → source, as olevba reads them (CRLF made LF)."""
    parser = VBA_Parser("vbaProject.bin", data=vba_project)
    try:
        assert parser.detect_vba_macros()
        return {Path(name).stem: code.replace("\r\n", "\n")
                for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


def streams(vba_project: bytes) -> dict[str, bytes]:
    ole = olefile.OleFileIO(vba_project)
    return {"/".join(p): ole.openstream(p).read() for p in ole.listdir()}


# --------------------------------------------------------------------------- the package


def test_the_addin_is_a_valid_zip_with_fixed_dates(built, parts):
    with zipfile.ZipFile(built) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
    assert [i.filename for i in infos][:2] == ["[Content_Types].xml", "_rels/.rels"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {"xl/workbook.xml", "xl/vbaProject.bin", "customUI/customUI14.xml", "xl/worksheets/sheet1.xml"} <= set(parts)
    assert "customUI/customUI.xml" not in parts  # one ribbon part, not the template's sample
    types = ElementTree.fromstring(parts["[Content_Types].xml"])
    overrides = {o.get("PartName"): o.get("ContentType") for o in types}
    assert overrides["/xl/workbook.xml"] == "application/vnd.ms-excel.addin.macroEnabled.main+xml"
    assert overrides["/xl/vbaProject.bin"] == "application/vnd.ms-office.vbaProject"
    assert built.stat().st_size < 100_000


def test_the_build_is_deterministic(built, tmp_path):
    again = build_xlam.build(tmp_path / "again.xlam")
    assert again.read_bytes() == built.read_bytes()


def test_the_shipped_addin_is_a_fresh_build(parts):
    assert SHIPPED.is_file(), "run python scripts/build_xlam.py"
    shipped = build_xlam.members(SHIPPED)
    assert list(shipped) == list(parts)
    for name in parts:
        assert shipped[name] == parts[name], f"{name} of the shipped add-in is stale: run python scripts/build_xlam.py"
    assert build_xlam.main(["--check", "--out", str(SHIPPED)]) == 0


def test_check_fails_on_a_stale_addin(tmp_path, capsys):
    stale = tmp_path / "tierbook.xlam"
    shutil.copyfile(build_xlam.template_path(), stale)
    assert build_xlam.main(["--check", "--out", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err


# --------------------------------------------------------------------------- the ribbon


def test_the_ribbon_names_every_button_and_calls_the_dispatcher(parts):
    rels = ElementTree.fromstring(parts["_rels/.rels"])
    ribbon = [r for r in rels if r.get("Type").endswith("/ui/extensibility")]
    assert [(r.get("Type"), r.get("Target")) for r in ribbon] == [
        ("http://schemas.microsoft.com/office/2007/relationships/ui/extensibility", "customUI/customUI14.xml")]

    root = ElementTree.fromstring(parts["customUI/customUI14.xml"])
    assert root.tag == f"{CUSTOMUI}customUI"
    tabs = root.findall(f"{CUSTOMUI}ribbon/{CUSTOMUI}tabs/{CUSTOMUI}tab")
    assert [t.get("label") for t in tabs] == ["tierbook"]
    buttons = root.findall(f".//{CUSTOMUI}button")
    assert [b.get("id") for b in buttons] == [b.id for b in excel.BUTTONS]
    for element, button in zip(buttons, excel.BUTTONS):
        assert element.get("label") == button.label
        assert element.get("supertip") == button.tip
        assert element.get("imageMso") == button.image
        assert element.get("onAction") == "RibbonTierbook.TierbookButton"
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_the_ribbon_follows_the_button_list():
    class B:  # any button list: the XML is generated, not kept
        def __init__(self, id, label):
            self.id, self.label, self.tip, self.image = id, label, f"tip <{label}> & \"more\"", "MacroPlay"

    root = ElementTree.fromstring(build_xlam.customui_xml([B("tbOne", "One"), B("tbTwo", "Two & three")]))
    got = [(b.get("id"), b.get("label"), b.get("supertip")) for b in root.iter(f"{CUSTOMUI}button")]
    assert got == [("tbOne", "One", 'tip <One> & "more"'), ("tbTwo", "Two & three", 'tip <Two & three> & "more"')]
    with pytest.raises(build_xlam.BuildError):
        build_xlam.customui_xml([B("tb'; evil", "x")])  # an id is quoted into VBA by the dispatcher
    with pytest.raises(build_xlam.BuildError):
        build_xlam.customui_xml([B("tbOne", "x"), B("tbOne", "y")])


def test_the_dispatcher_reaches_the_python_entry():
    """The Python side of DISPATCH_CALL: tierbook.excel.ribbon takes a control id and
    knows every button (the entry itself is tested in test_excel_scripts)."""
    assert list(inspect.signature(excel.ribbon).parameters) == ["control_id"]
    with pytest.raises(excel.TierbookExcelError, match="unknown tierbook button"):
        excel.ribbon("tbNoSuchButton")


# --------------------------------------------------------------------------- the VBA project


def test_olevba_reads_back_the_dispatcher(parts):
    code = macros(parts["xl/vbaProject.bin"])
    assert set(code) == {"ThisWorkbook", "Sheet2", "Dictionary", "xlwings", "RibbonTierbook", "xlwings_udfs"}
    dispatcher = code["RibbonTierbook"]
    assert "Sub TierbookButton(control As IRibbonControl)" in dispatcher
    assert DISPATCH_CALL in dispatcher
    source = (ROOT / "addin" / "tierbook" / "addin" / "RibbonTierbook.bas").read_text()
    assert dispatcher.rstrip("\n") == source.rstrip("\n")  # the text file in the repo, as it is
    assert "RunMain" not in "".join(code.values())  # the template's sample is gone


def test_the_vba_project_comes_from_the_build(parts):
    template = template_parts()["xl/vbaProject.bin"]
    built = parts["xl/vbaProject.bin"]
    assert built != template
    assert built == build_xlam.vba_project(template, build_xlam.dispatcher_source(), build_xlam.udf_wrappers())

    new, old = streams(built), streams(template)
    assert set(new) == set(old) - {"VBA/RibbonMyAddin"} | {"VBA/RibbonTierbook", "VBA/xlwings_udfs"}
    for name in ("VBA/ThisWorkbook", "VBA/Sheet2", "VBA/Dictionary", "VBA/_VBA_PROJECT"):
        assert new[name] == old[name], f"{name} must be the template's"
    assert b'Name="Tierbook"' in new["PROJECT"] and b"Module=RibbonTierbook\r\nModule=xlwings_udfs\r\n" in new["PROJECT"]
    assert b"RibbonMyAddin" not in new["PROJECT"] + new["PROJECTwm"]

    # the xlwings module is the template's but for its PROJECT_NAME line
    xlwings_new, xlwings_old = macros(built)["xlwings"], macros(template)["xlwings"]
    changed = [(a, b) for a, b in zip(xlwings_old.splitlines(), xlwings_new.splitlines()) if a != b]
    assert changed == [('Public Const PROJECT_NAME As String = "myaddin"',
                        'Public Const PROJECT_NAME As String = "tierbook"')]
    assert len(xlwings_new.splitlines()) == len(xlwings_old.splitlines())


def test_the_addin_ships_every_excel_function_ready_made(parts):
    # the wrappers xlwings' ImportPythonUDFsToAddin would write, generated at build time:
    # a manager never runs the import nor trusts the VBA project object model
    code = macros(parts["xl/vbaProject.bin"])["xlwings_udfs"]
    desktop = [name for name in excel.FUNCTIONS if name != "classify_handle"]  # object handles: Office.js only
    assert "classify_handle" not in code
    for name in desktop:
        assert re.search(rf"^Function {name}\(", code, flags=re.M), f"no wrapper for {name}"
        assert (f'{name} = XLPy.CallUDF("tierbook.excel", "{name}", Array(') in code
    assert re.search(r"^Function segment\(customer, Optional transactions, Optional settings\)$", code, flags=re.M)
    # the calling cell: xlwings' reserved `caller` argument, hidden from Excel, filled in by xlwings
    # with the calling Range, so that =SEGMENT(A2) reads that workbook's Customers sheet
    assert 'Array(customer, transactions, settings, Nothing), ActiveWorkbook, Application.Caller)' in code
    assert code.count("\nFunction ") + code.startswith("Function ") == len(desktop)
    assert "Sub " not in code  # scripts are ribbon buttons, not wrappers


# --------------------------------------------------------------------------- the dispatcher's exits

#: The application settings a ribbon run suspends (RibbonTierbook.bas) and must put back.
SUSPENDED = ("ScreenUpdating", "EnableEvents", "Calculation")


def vba_statements(source: str, sub: str) -> list[str]:
    """The statements of Sub SUB in VBA SOURCE, in order: comments dropped, line
    continuations joined, `a: b` split, a label (`Name:`) kept as one statement, Dim
    left out; the last is End Sub."""
    body = re.search(rf"^Sub {sub}\b.*?$(.*?)^End Sub\s*$", source, flags=re.S | re.M)
    assert body, f"no Sub {sub}"
    text = re.sub(r" _\n", " ", body.group(1))
    out = []
    for line in text.splitlines():
        code, quoted = "", False
        for ch in line:  # cut the comment: a ' outside a string
            if ch == '"':
                quoted = not quoted
            elif ch == "'" and not quoted:
                break
            code += ch
        code = code.strip()
        if not code or code.startswith("Dim "):
            continue
        if re.fullmatch(r"\w+:", code):
            out.append(code)
            continue
        parts, part, quoted = [], "", False
        for ch in code:
            if ch == '"':
                quoted = not quoted
            if ch == ":" and not quoted:
                parts.append(part.strip())
                part = ""
            else:
                part += ch
        parts.append(part.strip())
        out += [p for p in parts if p]
    return out + ["End Sub"]


def unrestored_exits(source: str, sub: str = "TierbookButton") -> list[str]:
    """Every way out of Sub SUB that leaves a suspended setting unrestored, as
    "statement: settings". A setting is suspended by `Application.X = <anything but its
    saved value>` and restored by `Application.X = v` where `v = Application.X` came
    first. The paths: statement after statement, a one-line If's both branches, GoTo,
    Exit Sub and End Sub, and a run-time error in any statement that can raise one:
    under On Error GoTo L to L (the handler is then active), under On Error Resume Next
    to the next statement, under On Error GoTo 0 or while the handler is active (VBA's
    rule: the error goes to the caller) out of the Sub. On Error GoTo -1 ends the
    active handler."""
    code = vba_statements(source, sub)
    labels = {s[:-1]: i for i, s in enumerate(code) if re.fullmatch(r"\w+:", s)}
    saved = {m[1]: m[2] for s in code if (m := re.fullmatch(rf"(\w+) = Application\.({'|'.join(SUSPENDED)})", s))}
    safe = re.compile(r"\w+:|On Error .*|Exit Sub|End Sub|Err\.Clear|\w+ = Err\.(Number|Description)")

    def effect(statement: str, pending: frozenset) -> frozenset:
        m = re.fullmatch(rf"Application\.({'|'.join(SUSPENDED)}) = (\w+)", statement)
        if m is None:
            return pending
        if saved.get(m[2]) == m[1]:
            return pending - {m[1]}
        return pending | {m[1]}

    problems, seen = [], set()
    stack = [(0, frozenset(), "0", False)]  # (statement, suspended, error policy, handler active)
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        i, pending, policy, active = state
        statement = code[i]

        def leave(why: str, left: frozenset) -> None:
            if left:
                problems.append(f"{why}: {', '.join(sorted(left))}")

        if not safe.fullmatch(statement):  # a run-time error here
            # a setting assigned is taken as changed even when Excel refused it: a
            # suspension counts (cautious), and a restore counts as run (what is checked)
            after = effect(statement, pending)
            if active or policy == "0":
                leave(f"an error in {statement!r} leaves the Sub", after)
            elif policy == "next":
                stack.append((i + 1, after, policy, active))
            else:
                stack.append((labels[policy], after, policy, True))
        m = re.fullmatch(r"If (.+?) Then (.+)", statement)
        branches = [m[2], None] if m and not m[2].startswith(("'",)) else [statement]
        for branch in branches:
            if branch is None:  # the If's condition is false
                stack.append((i + 1, pending, policy, active))
                continue
            if branch in ("Exit Sub", "End Sub"):
                leave(branch, pending)
                continue
            if g := re.fullmatch(r"On Error (GoTo (-?\w+)|Resume Next)", branch):
                new_policy, new_active = policy, active
                if g[1] == "Resume Next":
                    new_policy = "next"
                elif g[2] == "-1":
                    new_active = False
                else:
                    new_policy = g[2]
                stack.append((i + 1, pending, new_policy, new_active))
                continue
            if g := re.fullmatch(r"GoTo (\w+)", branch):
                stack.append((labels[g[1]], pending, policy, active))
                continue
            stack.append((i + 1, effect(branch, pending), policy, active))
    return sorted(set(problems))


def test_a_ribbon_run_suspends_repainting_calculation_and_events_and_restores_them_on_every_exit(parts):
    source = macros(parts["xl/vbaProject.bin"])["RibbonTierbook"]
    code = vba_statements(source, "TierbookButton")
    at = {s: i for i, s in enumerate(code)}
    run = next(i for i, s in enumerate(code) if s.startswith("RunPython "))
    # suspended before the Python run: no repainting, manual calculation, no event macros
    for statement in ("Application.ScreenUpdating = False", "Application.EnableEvents = False",
                      "Application.Calculation = xlCalculationManual"):
        assert at[statement] < run, statement
    # the handler is in force before anything is changed, and the restore comes after it and after the run
    assert at["On Error GoTo Restore"] < min(at[s] for s in code if re.match(r"Application\.\w+ = ", s))
    assert at["On Error GoTo Restore"] < run < at["Restore:"]
    # what is put back is what was read at the start, not a constant (a user in manual mode stays in it)
    for setting in SUSPENDED:
        [read] = [s for s in code if re.fullmatch(rf"\w+ = Application\.{setting}", s)]
        variable = read.split(" = ")[0]
        assert at[read] < at[f"Application.{setting} = xlCalculationManual" if setting == "Calculation"
                             else f"Application.{setting} = False"]
        restore = f"Application.{setting} = {variable}"
        assert restore in at, f"{setting} is never put back to the value read at the start ({variable})"
        assert at[restore] > at["Restore:"]
    # the restore block tolerates a refusal (On Error Resume Next after leaving the active handler)
    assert at["On Error GoTo -1"] < at["On Error Resume Next"] < at["Application.Calculation = " + "calculationWas"]
    assert unrestored_exits(source) == []


DISPATCHER_BAS = (ROOT / "addin" / "tierbook" / "addin" / "RibbonTierbook.bas").read_text()


MOVED_HANDLER = [("    On Error GoTo Restore\n", ""),
                 ("    Application.Calculation = xlCalculationManual\n",
                  "    Application.Calculation = xlCalculationManual\n    On Error GoTo Restore\n")]


@pytest.mark.parametrize("edits, found", [
    ([("    RunPython ", '    If control.Id = "tbSettings" Then Exit Sub\n    RunPython ')],  # an early way out
     "Exit Sub: Calculation, EnableEvents, ScreenUpdating"),
    ([("    On Error GoTo Restore\n", "")],  # no handler: a VBA error leaves all suspended
     "an error in 'RunPython"),
    (MOVED_HANDLER, "an error in 'Application.ScreenUpdating = False' leaves the Sub: ScreenUpdating"),
    # ^ the handler set after the settings were changed
    ([("    Application.EnableEvents = eventsWas\n", "")], "End Sub: EnableEvents"),  # one not put back
    ([("Application.Calculation = calculationWas", "Application.Calculation = xlCalculationAutomatic")],
     "End Sub: Calculation"),  # a constant instead of the user's mode
    ([("    On Error GoTo -1 ", "    ' ")],  # the restore run in the active handler: a refusal goes past it
     "an error in 'Application.Calculation = calculationWas' leaves the Sub: EnableEvents, ScreenUpdating"),
])
def test_the_exit_check_finds_a_way_out_that_skips_the_restore(edits, found):
    source = DISPATCHER_BAS
    assert unrestored_exits(source) == []
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    problems = unrestored_exits(source)
    assert any(p.startswith(found) for p in problems), problems


def assert_red_black(entries, top) -> None:
    """The children under TOP form a red-black tree ordered as [MS-CFB] 2.6.4 says."""
    red, black = 0, 1  # [MS-CFB] 2.6.1 ColorFlag

    def key(sid):
        return (len(entries[sid].name), entries[sid].name.upper())

    def walk(sid):  # → (in-order sids, black height)
        if sid == olefile.NOSTREAM:
            return [], 1
        e = entries[sid]
        for child in (e.sid_left, e.sid_right):
            if e.color == red and child != olefile.NOSTREAM:
                assert entries[child].color == black, "red node with a red child"
        left, lh = walk(e.sid_left)
        right, rh = walk(e.sid_right)
        assert lh == rh, "unequal black heights"
        return left + [sid] + right, lh + (e.color == black)

    order, _ = walk(top)
    assert [key(s) for s in order] == sorted(key(s) for s in order)
    assert top == olefile.NOSTREAM or entries[top].color == black


def test_the_compound_file_is_well_formed(parts):
    """What Excel checks of the container: olefile's strict reading, and every
    storage's children in a red-black tree."""
    ole = olefile.OleFileIO(parts["xl/vbaProject.bin"], raise_defects=olefile.DEFECT_INCORRECT)
    storages = [e for e in ole.direntries
                if e is not None and e.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE)]
    assert [e.name for e in storages] == ["Root Entry", "VBA"]
    for storage in storages:
        assert_red_black(ole.direntries, storage.sid_child)


@pytest.mark.parametrize("count", [1, 2, 5, 12, 40])
def test_compound_files_of_any_shape_read_back(count):
    """The writer on other shapes than the add-in's: storages whose children are not a
    perfect tree (red last level), empty, mini and big streams."""
    data = {f"S{i % 3}/stream {i}": bytes([i]) * (i * 397 % 9000) for i in range(count)}
    data["top"] = b"x" * 5000
    ole = olefile.OleFileIO(build_xlam.compound_file(data), raise_defects=olefile.DEFECT_INCORRECT)
    assert {"/".join(p): ole.openstream(p).read() for p in ole.listdir()} == data
    for sid, entry in enumerate(ole.direntries):
        if entry is not None and entry.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE):
            assert_red_black(ole.direntries, entry.sid_child)


@hyp_settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=9000),
                 st.lists(st.sampled_from([b"Sub ", b"End Sub\r\n", b"RunPython ", b"x", b"\0"]), max_size=2500)
                 .map(b"".join)))
def test_vba_compression_round_trips(data):
    packed = build_xlam.compress(data)
    assert packed[0] == 1
    assert bytes(decompress_stream(bytearray(packed))) == data


def test_vba_compression_reads_the_template_modules_back():
    ole = olefile.OleFileIO(template_parts()["xl/vbaProject.bin"])
    for name in ("VBA/dir", "VBA/xlwings"):
        source = bytes(decompress_stream(bytearray(ole.openstream(name).read())))
        assert bytes(decompress_stream(bytearray(build_xlam.compress(source)))) == source


def test_libreoffice_imports_the_vba_project(built, tmp_path):
    """An independent reader of compound files and VBA projects: LibreOffice turns the
    add-in's modules into Basic modules of a library named after the project."""
    source = tmp_path / "tierbook.xlsm"  # LibreOffice does not open .xlam by name
    shutil.copyfile(built, source)
    done = subprocess.run(
        [soffice(), f"-env:UserInstallation={(tmp_path / 'profile').resolve().as_uri()}", "--headless",
         "--norestore", "--nolockcheck", "--infilter=Calc MS Excel 2007 VBA XML", "--convert-to", "ods",
         "--outdir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=240)
    ods = tmp_path / "tierbook.ods"
    assert ods.is_file(), f"LibreOffice could not convert the add-in: {done.stdout}\n{done.stderr}"
    with zipfile.ZipFile(ods) as zf:
        basic = {n: zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("Basic/Tierbook/")}
        content = zf.read("content.xml").decode("utf-8")
    assert {"Basic/Tierbook/RibbonTierbook.xml", "Basic/Tierbook/xlwings.xml"} <= set(basic)
    dispatcher = basic["Basic/Tierbook/RibbonTierbook.xml"]
    assert "Sub TierbookButton(control As IRibbonControl)" in dispatcher
    assert "tierbook.excel.ribbon(&apos;&quot; &amp; control.Id &amp; &quot;&apos;)" in dispatcher
    assert 'PROJECT_NAME As String = &quot;tierbook&quot;' in basic["Basic/Tierbook/xlwings.xml"]
    assert 'table:name="tierbook.conf"' in content and "tierbook.excel" in content


# --------------------------------------------------------------------------- the config sheet


def test_the_config_sheet_names_the_udf_module(parts):
    book = ElementTree.fromstring(parts["xl/workbook.xml"])
    assert [s.get("name") for s in book.iter(f"{MAIN}sheet")] == ["tierbook.conf"]
    assert b"absPath" not in parts["xl/workbook.xml"]
    strings = ["".join(t.text or "" for t in si.iter(f"{MAIN}t"))
               for si in ElementTree.fromstring(parts["xl/sharedStrings.xml"])]
    cells = {}
    for c in ElementTree.fromstring(parts["xl/worksheets/sheet1.xml"]).iter(f"{MAIN}c"):
        value = c.find(f"{MAIN}v").text
        cells[c.get("r")] = strings[int(value)] if c.get("t") == "s" else value
    rows = [(cells[f"A{r}"], cells[f"B{r}"]) for r in range(1, 1 + sum(k.startswith("A") for k in cells))]
    # xlwings reads A1 down to the first empty cell; keys are matched in upper case
    assert {k.upper(): v for k, v in rows}["UDF MODULES"] == "tierbook.excel"
    assert not any(k.upper().startswith(("INTERPRETER", "CONDA", "PYTHONPATH")) for k, _ in rows)
    # the sheet xlwings looks for is PROJECT_NAME & ".conf"
    project_name = re.search(r'PROJECT_NAME As String = "(\w+)"', macros(parts["xl/vbaProject.bin"])["xlwings"])
    assert f"{project_name.group(1)}.conf" == "tierbook.conf" == f"{installer.PROJECT_NAME}.conf"
    assert callable(excel.segment) and callable(excel.lifecycle)  # the UDFs that module holds


# --------------------------------------------------------------------------- tierbook addin install


def test_install_copies_the_addin_into_the_given_folder(tmp_path):
    target = installer.install_addin(tmp_path / "XLSTART")
    assert target == tmp_path / "XLSTART" / "tierbook.xlam"
    assert target.read_bytes() == SHIPPED.read_bytes() == installer.addin_path().read_bytes()
    assert installer.install_addin(tmp_path / "XLSTART") == target  # again: replaced, no error


def test_install_needs_a_folder_where_there_is_no_excel(tmp_path):
    with pytest.raises(installer.AddinInstallError, match="--dir"):
        installer.install(platform="linux", home=tmp_path)
    done = installer.install(tmp_path / "dir", platform="linux", home=tmp_path)
    assert done.addin.is_file() and done.config is None and done.other == []


def test_install_on_windows_mirrors_xlwings(tmp_path):
    environ = {"APPDATA": str(tmp_path / "Roaming"), "USERPROFILE": str(tmp_path / "me")}
    done = installer.install(platform="win32", home=tmp_path, environ=environ, interpreter=r"C:\py\python.exe")
    assert done.addin == tmp_path / "Roaming" / "Microsoft" / "Excel" / "XLSTART" / "tierbook.xlam"
    assert done.config == tmp_path / "me" / ".tierbook" / "tierbook.conf"
    assert done.config.read_text() == '"INTERPRETER_WIN","C:\\py\\python.exe"\n'
    done.config.write_text('"INTERPRETER_WIN","mine"\n')
    again = installer.install(platform="win32", home=tmp_path, environ=environ, interpreter="other")
    assert again.config is None  # a user config is never overwritten
    assert (tmp_path / "me" / ".tierbook" / "tierbook.conf").read_text() == '"INTERPRETER_WIN","mine"\n'
    conda = {**environ, "USERPROFILE": str(tmp_path / "conda"), "CONDA_DEFAULT_ENV": "sales",
             "CONDA_EXE": os.sep.join(["", "opt", "conda", "Scripts", "conda.exe"])}
    done = installer.install(platform="win32", home=tmp_path, environ=conda)
    assert done.config.read_text() == f'"CONDA PATH","{os.sep}opt{os.sep}conda"\n"CONDA ENV","sales"\n'


def test_install_on_macos_mirrors_xlwings(tmp_path):
    done = installer.install(platform="darwin", home=tmp_path, environ={}, interpreter="/usr/bin/python3")
    assert done.addin == tmp_path / installer.MAC_STARTUP / "tierbook.xlam"
    assert done.config == tmp_path / "Library/Containers/com.microsoft.Excel/Data/tierbook.conf"
    assert done.config.read_text() == '"INTERPRETER_MAC","/usr/bin/python3"\n'
    [script] = done.other
    assert script.parent == tmp_path / "Library/Application Scripts/com.microsoft.Excel"
    assert re.fullmatch(r"xlwings-[\d.]+\.applescript", script.name) and script.stat().st_size > 0


def test_install_reports_a_locked_addin(tmp_path, monkeypatch):
    def locked(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(installer.shutil, "copyfile", locked)
    with pytest.raises(installer.AddinInstallError, match="quit it and try again"):
        installer.install_addin(tmp_path)
