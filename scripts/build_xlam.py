#!/usr/bin/env python3
"""Build addin/tierbook/addin/tierbook.xlam, the desktop Excel add-in, from xlwings'
ribbon add-in template (quickstart_addin_ribbon.xlam in the installed xlwings).

    python scripts/build_xlam.py            # (re)write the shipped add-in
    python scripts/build_xlam.py --check    # exit 1 if the shipped add-in is not what a build makes
    python scripts/build_xlam.py --out X    # build elsewhere

What the build changes in the template (the renaming steps of xlwings' "Custom
Add-ins" guide, done on the file instead of in the VBA editor):

* customUI: the ribbon tab is generated from tierbook.excel.BUTTONS, one button per
  entry, every one with onAction="RibbonTierbook.TierbookButton" (written as
  customUI/customUI14.xml, namespace http://schemas.microsoft.com/office/2009/07/customui).
* VBA project (xl/vbaProject.bin), rebuilt here, on any OS, without Excel:
  - the template's sample module RibbonMyAddin (RunMain) is replaced by the dispatcher
    RibbonTierbook, whose source is the text file addin/tierbook/addin/RibbonTierbook.bas;
  - in the xlwings module the one line `PROJECT_NAME = "myaddin"` becomes "tierbook"
    (so the add-in reads the sheet tierbook.conf and ~/.tierbook/tierbook.conf);
  - the project is named Tierbook; every other module (xlwings, Dictionary,
    ThisWorkbook, Sheet2) and the references are kept byte for byte.
  The dir stream keeps the template's records and gets one new module record; module
  source is compressed with MS-OVBA compression and the compound file ([MS-CFB]) is
  written, both here (ms-ovba was tried: its compressor output does not decompress to
  its input and its decompressor rejects the template's streams).
* the config sheet `_myaddin.conf` becomes the active `tierbook.conf` sheet, holding
  only the settings tierbook fixes (UDF Modules = tierbook.excel, ...); the interpreter
  settings are left to the user config (`tierbook addin install` writes it).
* a few template leftovers: the author's absolute path in workbook.xml and the
  document properties.

The build is deterministic (fixed zip dates, fixed member order, no random ids), so a
test compares the shipped add-in with a fresh build. Excel recompiles the VBA source
when it opens the add-in: the template's _VBA_PROJECT stream already carries no
compiled cache (version 0xFFFF), which is what makes a VBA project buildable here.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parents[1]
ADDIN_DIR = ROOT / "addin" / "tierbook" / "addin"
OUTPUT = ADDIN_DIR / "tierbook.xlam"
DISPATCHER_SOURCE = ADDIN_DIR / "RibbonTierbook.bas"

TEMPLATE_NAME = "quickstart_addin_ribbon.xlam"

#: xlwings' PROJECT_NAME (VBA module xlwings): names the config sheet (tierbook.conf)
#: and the user config file (~/.tierbook/tierbook.conf, on macOS
#: ~/Library/Containers/com.microsoft.Excel/Data/tierbook.conf).
PROJECT_NAME = "tierbook"
VBA_PROJECT_NAME = "Tierbook"
CONFIG_SHEET = f"{PROJECT_NAME}.conf"
DISPATCHER_MODULE = "RibbonTierbook"
DISPATCHER_SUB = "TierbookButton"
DISPATCHER = f"{DISPATCHER_MODULE}.{DISPATCHER_SUB}"  # the onAction of every button
UDF_MODULES = "tierbook.excel"

#: The rows of the add-in's config sheet (xlwings reads A1 downwards to the first empty
#: cell). Only what tierbook fixes: a key listed here, even empty, would hide the same
#: key of the user's config file (Interpreter_Win/Mac, Conda Path/Env, PYTHONPATH).
CONFIG_ROWS: tuple[tuple[str, str | bool], ...] = (
    ("UDF Modules", UDF_MODULES),
    ("Debug UDFs", False),
    ("Use UDF Server", False),
    ("Show Console", False),
)

TEMPLATE_MODULE = "RibbonMyAddin"  # the template's sample module, replaced by the dispatcher
TEMPLATE_PROJECT_NAME = "MyAddin"
TEMPLATE_CONFIG_SHEET = "_myaddin.conf"
PROJECT_NAME_LINE = re.compile(r'^(Public Const PROJECT_NAME As String = )"myaddin"(?=\r?$)', re.M)

CUSTOMUI_PART = "customUI/customUI14.xml"
CUSTOMUI_NS = "http://schemas.microsoft.com/office/2009/07/customui"
CUSTOMUI_REL = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
TAB_ID, TAB_LABEL = "tierbookTab", "tierbook"
GROUP_ID, GROUP_LABEL = "tierbookCustomers", "Customers"

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
CODEPAGE = "cp1252"  # the template's PROJECTCODEPAGE (1252)


class BuildError(RuntimeError):
    """The template is not what this build knows how to change."""


# --------------------------------------------------------------------------- inputs


def template_path() -> Path:
    """The ribbon add-in template of the installed xlwings (not imported: its package
    folder is enough)."""
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("xlwings is not installed: pip install xlwings")
    path = Path(next(iter(spec.submodule_search_locations))) / TEMPLATE_NAME
    if not path.is_file():
        raise BuildError(f"the installed xlwings has no {TEMPLATE_NAME} ({path})")
    return path


def buttons() -> tuple:
    """tierbook.excel.BUTTONS (tierbook.excel imports xlwings: server mode, as the tests)."""
    os.environ.setdefault("XLWINGS_ON_SERVER", "true")
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    if importlib.util.find_spec("tierbook") is None:
        sys.path.insert(0, str(ROOT / "addin"))
    from tierbook.excel import BUTTONS

    return BUTTONS


def dispatcher_source(path: Path = DISPATCHER_SOURCE) -> bytes:
    """The dispatcher module as VBA stores it: CRLF lines, the project's code page."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith(f'Attribute VB_Name = "{DISPATCHER_MODULE}"'):
        raise BuildError(f'{path.name} must start with Attribute VB_Name = "{DISPATCHER_MODULE}"')
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    return ("\r\n".join(lines) + "\r\n").encode(CODEPAGE)


# --------------------------------------------------------------------------- customUI


def customui_xml(buttons: Sequence) -> bytes:
    """The ribbon: one tab, one group, a large button per entry of BUTTONS, all calling
    the dispatcher (which passes the button's id to tierbook.excel.ribbon)."""
    seen: set[str] = set()
    rows = []
    for b in buttons:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", b.id) or b.id in seen:
            raise BuildError(f"button id {b.id!r} must be a unique identifier (it is quoted into VBA and XML)")
        seen.add(b.id)
        rows.append(f"          <button id={quoteattr(b.id)} label={quoteattr(b.label)} size=\"large\"\n"
                    f"                  imageMso={quoteattr(b.image)} screentip={quoteattr(b.label)}\n"
                    f"                  supertip={quoteattr(b.tip)} onAction=\"{DISPATCHER}\"/>")
    text = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<!-- Generated by scripts/build_xlam.py from tierbook.excel.BUTTONS: do not edit. -->\n'
        f'<customUI xmlns="{CUSTOMUI_NS}">\n'
        "  <ribbon>\n"
        "    <tabs>\n"
        f'      <tab id="{TAB_ID}" label="{escape(TAB_LABEL)}">\n'
        f'        <group id="{GROUP_ID}" label="{escape(GROUP_LABEL)}">\n'
        + "\n".join(rows) + "\n"
        "        </group>\n"
        "      </tab>\n"
        "    </tabs>\n"
        "  </ribbon>\n"
        "</customUI>\n")
    return text.encode("utf-8")


# --------------------------------------------------------------------------- the config sheet


def _replace_once(text: str, old: str, new: str, part: str) -> str:
    if text.count(old) != 1:
        raise BuildError(f"{part} of the template: expected {old!r} once, found it {text.count(old)} times")
    return text.replace(old, new)


def config_parts(sheet_xml: str, rows: Sequence[tuple[str, str | bool]] = CONFIG_ROWS) -> tuple[str, str]:
    """The config sheet's cells (setting in A, value in B) and the shared strings,
    replacing the template's sheetData (the template's sharedStrings only hold it)."""
    strings: list[str] = []

    def shared(value: str) -> int:
        if value not in strings:
            strings.append(value)
        return strings.index(value)

    cells = []
    for r, (key, value) in enumerate(rows, 1):
        b = (f'<c r="B{r}" s="1" t="b"><v>{int(value)}</v></c>' if isinstance(value, bool)
             else f'<c r="B{r}" s="1" t="s"><v>{shared(value)}</v></c>')
        cells.append(f'<row r="{r}" spans="1:2"><c r="A{r}" s="1" t="s"><v>{shared(key)}</v></c>{b}</row>')
    match = re.search(r"<sheetData>.*?</sheetData>|<sheetData/>", sheet_xml, re.S)
    if match is None:
        raise BuildError("the template's config sheet has no sheetData")
    sheet = sheet_xml[:match.start()] + "<sheetData>" + "".join(cells) + "</sheetData>" + sheet_xml[match.end():]
    sheet = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:B{len(rows)}"', sheet, count=1)
    sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           f'count="{len(rows) + sum(not isinstance(v, bool) for _, v in rows)}" uniqueCount="{len(strings)}">'
           + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")
    return sheet, sst


def workbook_xml(text: str) -> str:
    text = _replace_once(text, f'name="{TEMPLATE_CONFIG_SHEET}"', f'name="{CONFIG_SHEET}"', "xl/workbook.xml")
    # the template author's folder (x15ac:absPath), meaningless in a shipped add-in
    text, n = re.subn(r"<mc:AlternateContent\b(?:(?!</mc:AlternateContent>).)*?x15ac:absPath.*?</mc:AlternateContent>",
                      "", text, flags=re.S)
    if n != 1:
        raise BuildError("xl/workbook.xml of the template: expected one x15ac:absPath")
    return text


def core_xml(text: str) -> str:
    text = re.sub(r"<dc:title\s*/>|<dc:title>.*?</dc:title>", "<dc:title>tierbook</dc:title>", text, count=1)
    text = re.sub(r"<dc:creator>.*?</dc:creator>", "<dc:creator>tierbook</dc:creator>", text, count=1)
    text = re.sub(r"<cp:lastModifiedBy>.*?</cp:lastModifiedBy>", "<cp:lastModifiedBy>tierbook</cp:lastModifiedBy>",
                  text, count=1)
    return text


def rels_xml(text: str) -> str:
    """Point the template's ribbon relationship at customUI14.xml (the Office 2010+ part
    its relationship type is for)."""
    pattern = re.compile(r'<Relationship [^>]*Target="customUI/customUI\.xml"[^>]*/>')
    found = pattern.findall(text)
    if len(found) != 1 or CUSTOMUI_REL not in found[0]:
        raise BuildError("_rels/.rels of the template: expected one ui/extensibility relationship to customUI.xml")
    return pattern.sub(found[0].replace("customUI/customUI.xml", CUSTOMUI_PART), text)


# --------------------------------------------------------------------------- the VBA project


def _decompress(data: bytes) -> bytes:
    from oletools.olevba import decompress_stream

    return bytes(decompress_stream(bytearray(data)))


def compress(data: bytes) -> bytes:
    """MS-OVBA compression ([MS-OVBA] 2.4.1): a signature byte, then one compressed
    chunk per 4096 bytes of DATA, each a run of flag bytes and 8 tokens (a literal byte,
    or a copy token: the longest earlier match in the chunk, the nearest of equals).
    Written here: ms-ovba's compressor does not round-trip the template's modules."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), 4096):
        chunk = data[start:start + 4096]
        body, i, seen = bytearray(), 0, {}
        while i < len(chunk):
            flag_at, flags = len(body), 0
            body.append(0)
            for bit in range(8):
                if i >= len(chunk):
                    break
                bits = max((i - 1).bit_length(), 4) if i > 1 else 4
                max_length = (0xFFFF >> bits) + 3
                best, best_at = 0, 0
                for candidate in reversed(seen.get(chunk[i:i + 3], ())):
                    n = 0
                    while n < max_length and i + n < len(chunk) and chunk[candidate + n] == chunk[i + n]:
                        n += 1
                    if n > best:
                        best, best_at = n, candidate
                        if n == max_length:
                            break
                step = best if best >= 3 else 1
                if best >= 3:
                    flags |= 1 << bit
                    body += struct.pack("<H", ((i - best_at - 1) << (16 - bits)) | (best - 3))
                else:
                    body.append(chunk[i])
                for k in range(i, i + step):
                    seen.setdefault(chunk[k:k + 3], []).append(k)
                i += step
            body[flag_at] = flags
        if len(body) <= 4096:
            out += struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + body
        else:  # incompressible: stored (only whole 4096-byte chunks can be)
            out += struct.pack("<H", 0x3000 | (4098 - 3)) + chunk.ljust(4096, b"\0")
    return bytes(out)


def _records(data: bytes) -> list[tuple[int, bytes]]:
    """The records of a decompressed dir stream, each as (id, its raw bytes)."""
    out, i = [], 0
    while i < len(data):
        rid, size = struct.unpack_from("<HI", data, i)
        if rid == 0x0009:  # PROJECTVERSION: Reserved (4) is not a size; Major (4) and Minor (2) follow
            size = 6
        out.append((rid, data[i:i + 6 + size]))
        i += 6 + size
    if i != len(data):
        raise BuildError("the template's dir stream is truncated")
    return out


def _value(raw: bytes) -> bytes:
    return raw[6:]


@dataclass
class _Module:
    name: str
    records: list[tuple[int, bytes]]  # from MODULENAME to the module Terminator (0x002B)

    @property
    def stream(self) -> str:
        return next(_value(r).decode(CODEPAGE) for i, r in self.records if i == 0x001A)

    @property
    def offset(self) -> int:
        return next(struct.unpack("<I", _value(r))[0] for i, r in self.records if i == 0x0031)

    def with_offset(self, offset: int) -> "_Module":
        records = [(i, struct.pack("<HII", 0x0031, 4, offset) if i == 0x0031 else r) for i, r in self.records]
        return _Module(self.name, records)

    def raw(self) -> bytes:
        return b"".join(r for _, r in self.records)


def _std_module(name: str) -> _Module:
    """A new standard module's records ([MS-OVBA] 2.3.4.2.3.2): its name, stream name
    and empty doc string (each in the code page and in UTF-16), source at offset 0 (no
    compiled cache), help context 0, cookie 0xFFFF, type procedural."""
    def record(rid: int, value: bytes) -> tuple[int, bytes]:
        return rid, struct.pack("<HI", rid, len(value)) + value

    mbcs, wide = name.encode(CODEPAGE), name.encode("utf-16-le")
    return _Module(name, [
        record(0x0019, mbcs), record(0x0047, wide),  # MODULENAME, MODULENAMEUNICODE
        record(0x001A, mbcs), record(0x0032, wide),  # MODULESTREAMNAME (+ unicode)
        record(0x001C, b""), record(0x0048, b""),  # MODULEDOCSTRING (+ unicode)
        record(0x0031, struct.pack("<I", 0)),  # MODULEOFFSET
        record(0x001E, struct.pack("<I", 0)),  # MODULEHELPCONTEXT
        record(0x002C, struct.pack("<H", 0xFFFF)),  # MODULECOOKIE
        record(0x0021, b""),  # MODULETYPE: procedural
        record(0x002B, b""),  # Terminator
    ])


def _split_dir(records: list[tuple[int, bytes]]):
    ids = [i for i, _ in records]
    start = ids.index(0x000F)  # PROJECTMODULES, then PROJECTCOOKIE, then the modules
    if ids[start + 1] != 0x0013 or ids[-1] != 0x0010:
        raise BuildError("the template's dir stream is not laid out as MS-OVBA says")
    head, cookie = records[:start], records[start + 1]
    modules, current = [], None
    for rid, raw in records[start + 2:-1]:
        if rid == 0x0019:
            current = _Module(_value(raw).decode(CODEPAGE), [])
            modules.append(current)
        if current is None:
            raise BuildError("the template's dir stream has a module record outside a module")
        current.records.append((rid, raw))
    if len(modules) != struct.unpack("<H", _value(records[start][1]))[0]:
        raise BuildError("the template's dir stream counts its modules wrong")
    return head, cookie, modules, records[-1]


#: The VBA module of the function wrappers, named as xlwings' ImportPythonUDFs names it.
UDF_WRAPPER_MODULE = "xlwings_udfs"

_WRAPPER_PROBE = r"""
import io, sys, types
# xlwings.udfs is the desktop (Windows) generator of the VBA wrappers; only its COM
# imports need Windows, and generate_vba_wrapper uses none of them.
for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["win32com.client"].Dispatch = None
sys.modules["pythoncom"].CoInitialize = lambda: None
sys.modules["pywintypes"].com_error = Exception
import xlwings as xw
import xlwings.udfs as udfs
xw.func, xw.arg, xw.ret, xw.sub = udfs.xlfunc, udfs.xlarg, udfs.xlret, udfs.xlsub
module_name = sys.argv[1]
module = __import__(module_name, fromlist=["_"])
for name in dir(module):  # object handles (CLASSIFY) are Office.js only: desktop xlwings has none
    f = getattr(module, name)
    if hasattr(f, "__xlfunc__") and "ObjectHandle" in str(getattr(f, "__annotations__", {}).get("return", "")):
        del f.__xlfunc__
out = io.StringIO()
vba = udfs.VBAWriter(out)
vba.writeln('Attribute VB_Name = "%s"' % sys.argv[2])
vba.writeln("'Autogenerated code by xlwings - changes will be lost with next import!")
vba.writeln('#Const App = "Microsoft Excel" \'Adjust when using outside of Excel')
udfs.generate_vba_wrapper(module_name, module, out, types.SimpleNamespace(Name="tierbook.xlam"))
sys.stdout.write(out.getvalue())
"""


def udf_wrappers(module: str = UDF_MODULES) -> bytes:
    """The VBA wrappers of MODULE's Excel functions, generated by xlwings' own generator
    (xlwings.udfs.generate_vba_wrapper, what ImportPythonUDFsToAddin runs in Excel), so
    that the add-in ships with =SEGMENT() and the others ready: no import step in Excel
    and no trust in the VBA project object model. Run in a fresh Python without
    XLWINGS_ON_SERVER, where @xw.func is the desktop decorator."""
    env = {k: v for k, v in os.environ.items() if k != "XLWINGS_ON_SERVER"}
    done = subprocess.run([sys.executable, "-c", _WRAPPER_PROBE, module, UDF_WRAPPER_MODULE], capture_output=True,
                          env=env, timeout=300)
    if done.returncode != 0:
        raise BuildError(f"xlwings could not generate the function wrappers of {module}: "
                         + done.stderr.decode(errors="replace").strip().splitlines()[-1])
    text = done.stdout.decode("utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
    if "XLPy.CallUDF" not in text:
        raise BuildError(f"{module} has no Excel functions to wrap")
    return text.encode(CODEPAGE)


def vba_project(template_bin: bytes, dispatcher: bytes, wrappers: bytes | None = None) -> bytes:
    """The template's VBA project with its sample module replaced by the dispatcher, the
    function wrappers added as a module (when given), PROJECT_NAME set and the project
    renamed: a new compound file."""
    import olefile

    ole = olefile.OleFileIO(template_bin)
    streams = {"/".join(p): ole.openstream(p).read() for p in ole.listdir(streams=True, storages=False)}
    head, cookie, modules, end = _split_dir(_records(_decompress(streams["VBA/dir"])))
    names = [m.name for m in modules]
    if TEMPLATE_MODULE not in names or "xlwings" not in names:
        raise BuildError(f"the template's VBA project has modules {names}; expected xlwings and {TEMPLATE_MODULE}")

    # the project's name (PROJECTNAME record, and Name= in the PROJECT stream)
    name = VBA_PROJECT_NAME.encode(CODEPAGE)
    head = [(i, struct.pack("<HI", 0x0004, len(name)) + name if i == 0x0004 else r) for i, r in head]

    module_streams: dict[str, bytes] = {}
    kept: list[_Module] = []
    for module in modules:
        data = streams[f"VBA/{module.stream}"]
        if module.name == TEMPLATE_MODULE:
            new = _std_module(DISPATCHER_MODULE)
            module_streams[new.stream] = compress(dispatcher)
            kept.append(new)
        elif module.name == "xlwings":
            source = _decompress(data[module.offset:])
            text, n = PROJECT_NAME_LINE.subn(rf'\g<1>"{PROJECT_NAME}"', source.decode(CODEPAGE))
            if n != 1:
                raise BuildError('the template\'s xlwings module has no line PROJECT_NAME = "myaddin"')
            module_streams[module.stream] = compress(text.encode(CODEPAGE))
            kept.append(module.with_offset(0))
        else:  # kept byte for byte (ThisWorkbook, Sheet2, Dictionary)
            module_streams[module.stream] = data
            kept.append(module)
    if wrappers is not None:
        new = _std_module(UDF_WRAPPER_MODULE)
        module_streams[new.stream] = compress(wrappers)
        kept.append(new)

    count = struct.pack("<HIH", 0x000F, 2, len(kept))
    dir_stream = b"".join(r for _, r in head) + count + cookie[1] + b"".join(m.raw() for m in kept) + end[1]

    project = streams["PROJECT"].decode(CODEPAGE)
    modules_line = f"Module={DISPATCHER_MODULE}\r\n" + (f"Module={UDF_WRAPPER_MODULE}\r\n" if wrappers is not None else "")
    project = _replace_once(project, f"Module={TEMPLATE_MODULE}\r\n", modules_line, "PROJECT")
    project = _replace_once(project, f'Name="{TEMPLATE_PROJECT_NAME}"\r\n', f'Name="{VBA_PROJECT_NAME}"\r\n', "PROJECT")
    project = re.sub(rf"^{TEMPLATE_MODULE}=[^\r\n]*\r\n", "", project, flags=re.M)  # its [Workspace] line
    project_wm = b"".join(m.name.encode(CODEPAGE) + b"\0" + m.name.encode("utf-16-le") + b"\0\0" for m in kept) + b"\0\0"

    out = {"PROJECT": project.encode(CODEPAGE), "PROJECTwm": project_wm,
           "VBA/_VBA_PROJECT": streams["VBA/_VBA_PROJECT"], "VBA/dir": compress(dir_stream)}
    if struct.unpack_from("<H", out["VBA/_VBA_PROJECT"], 2)[0] != 0xFFFF:
        raise BuildError("the template's _VBA_PROJECT carries compiled code; this build can only write source")
    out.update({f"VBA/{name}": data for name, data in module_streams.items()})
    return compound_file(out)


# --------------------------------------------------------------------------- the compound file


_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_SECTOR, _MINI, _CUTOFF = 512, 64, 4096


def _cfb_key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())  # [MS-CFB] 2.6.4: shorter first, then by upper case


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A version 3 compound file ([MS-CFB]) holding STREAMS ("storage/name" → bytes):
    small streams in the mini stream, siblings in a red-black tree, zero dates and
    class ids, so equal input gives equal bytes."""
    # the directory: entry 0 the root, then every storage and stream
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": []}]
    by_path = {"": 0}
    for path in sorted(streams, key=lambda p: [_cfb_key(x) for x in p.split("/")]):
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            if key not in by_path:
                entry = {"name": parts[depth - 1], "type": 2 if depth == len(parts) else 1, "children": []}
                if len(entry["name"]) > 31:
                    raise BuildError(f"compound file name too long: {entry['name']}")
                by_path[key] = len(entries)
                entries.append(entry)
                entries[by_path["/".join(parts[:depth - 1])]]["children"].append(by_path[key])
            if depth == len(parts):
                entries[by_path[key]]["data"] = streams[path]

    # children of a storage: a balanced binary search tree, its last level red
    for entry in entries:
        entry.setdefault("left", _FREE), entry.setdefault("right", _FREE), entry.setdefault("color", 1)
    for entry in entries:
        kids = sorted(entry["children"], key=lambda k: _cfb_key(entries[k]["name"]))
        depth: dict[int, int] = {}

        def tree(lo: int, hi: int, level: int) -> int:
            if lo >= hi:
                return _FREE
            mid = (lo + hi) // 2
            node = kids[mid]
            depth[node] = level
            entries[node]["left"] = tree(lo, mid, level + 1)
            entries[node]["right"] = tree(mid + 1, hi, level + 1)
            return node

        entry["child"] = tree(0, len(kids), 0)
        if kids:
            height = max(depth.values())
            if len(kids) != 2 ** (height + 1) - 1:  # not a perfect tree: the last level is red
                for node, level in depth.items():
                    entries[node]["color"] = 0 if level == height else 1

    # the mini stream (streams under 4096 bytes, in 64-byte sectors) and its FAT
    mini, minifat = bytearray(), []
    for entry in entries:
        data = entry.get("data")
        if data is not None and len(data) < _CUTOFF:
            if not data:
                entry["start"] = _END
                continue
            first, n = len(mini) // _MINI, -(-len(data) // _MINI)
            entry["start"] = first
            minifat += [first + k + 1 for k in range(n - 1)] + [_END]
            mini += data + b"\0" * (n * _MINI - len(data))
    entries[0]["data_size"] = len(mini)

    # the sectors: FAT, directory, mini FAT, mini stream, then the big streams
    def sectors(size: int) -> int:
        return -(-size // _SECTOR)

    dir_n = sectors(len(entries) * 128)
    minifat_n = sectors(len(minifat) * 4)
    mini_n = sectors(len(mini))
    big = [e for e in entries if e.get("data") is not None and len(e["data"]) >= _CUTOFF]
    big_n = sum(sectors(len(e["data"])) for e in big)
    fat_n = 1
    while fat_n * (_SECTOR // 4) < fat_n + dir_n + minifat_n + mini_n + big_n:
        fat_n += 1
    if fat_n > 109:
        raise BuildError("compound file too large for a header-only DIFAT")

    fat: list[int] = [_FAT] * fat_n
    body = bytearray()

    def chain(data: bytes) -> int:
        if not data:
            return _END
        first, n = len(fat), sectors(len(data))
        fat.extend([first + k + 1 for k in range(n - 1)] + [_END])
        body.extend(data + b"\0" * (n * _SECTOR - len(data)))
        return first

    dir_start = len(fat)
    fat.extend([dir_start + k + 1 for k in range(dir_n - 1)] + [_END])  # directory, written last
    body.extend(b"\0" * (dir_n * _SECTOR))
    minifat_start = chain(b"".join(struct.pack("<I", v) for v in minifat + [_FREE] * (-len(minifat) % (_SECTOR // 4))))
    entries[0]["start"] = chain(bytes(mini))
    for entry in big:
        entry["start"] = chain(entry["data"])
    fat += [_FREE] * (fat_n * (_SECTOR // 4) - len(fat))

    directory = bytearray()
    for entry in entries:
        name = entry["name"].encode("utf-16-le") + b"\0\0"
        size = entry["data_size"] if entry["type"] == 5 else len(entry.get("data", b""))
        start = entry.get("start", _END if entry["type"] == 5 else 0)
        directory += struct.pack("<64sHBBIII16sIQQIQ", name, len(name), entry["type"], entry["color"],
                                 entry["left"], entry["right"], entry["child"], b"\0" * 16, 0, 0, 0, start, size)
    directory += b"".join(struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, _FREE, _FREE, _FREE, b"\0" * 16,
                                      0, 0, 0, 0, 0) for _ in range(dir_n * 4 - len(entries)))
    body[0:len(directory)] = directory

    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x003E, 3,
                         0xFFFE, 9, 6, b"\0" * 6, 0, fat_n, dir_start, 0, _CUTOFF,
                         minifat_start if minifat else _END, minifat_n, _END, 0)
    header += b"".join(struct.pack("<I", k) for k in range(fat_n)) + b"\xff" * 4 * (109 - fat_n)
    return header + b"".join(struct.pack("<I", v) for v in fat) + bytes(body)


# --------------------------------------------------------------------------- the add-in


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0
    info.external_attr = 0
    return info


def build_bytes(template: Path | None = None, button_list: Sequence | None = None,
                dispatcher: Path = DISPATCHER_SOURCE, wrappers: bytes | None = None) -> bytes:
    """The add-in file's bytes."""
    template = template or template_path()
    button_list = buttons() if button_list is None else button_list
    with zipfile.ZipFile(template) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
    expected = {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/worksheets/sheet1.xml",
                "xl/sharedStrings.xml", "xl/vbaProject.bin", "customUI/customUI.xml", "docProps/core.xml"}
    if not expected <= set(parts):
        raise BuildError(f"{template.name} lacks {sorted(expected - set(parts))}")

    sheet, sst = config_parts(parts["xl/worksheets/sheet1.xml"].decode("utf-8"))
    out = {
        "[Content_Types].xml": parts.pop("[Content_Types].xml"),
        "_rels/.rels": rels_xml(parts.pop("_rels/.rels").decode("utf-8")).encode("utf-8"),
        "xl/workbook.xml": workbook_xml(parts.pop("xl/workbook.xml").decode("utf-8")).encode("utf-8"),
        "xl/worksheets/sheet1.xml": sheet.encode("utf-8"),
        "xl/sharedStrings.xml": sst.encode("utf-8"),
        "xl/vbaProject.bin": vba_project(parts.pop("xl/vbaProject.bin"), dispatcher_source(dispatcher),
                                         udf_wrappers() if wrappers is None else wrappers),
        "docProps/core.xml": core_xml(parts.pop("docProps/core.xml").decode("utf-8")).encode("utf-8"),
        CUSTOMUI_PART: customui_xml(button_list),
    }
    del parts["customUI/customUI.xml"], parts["xl/worksheets/sheet1.xml"], parts["xl/sharedStrings.xml"]
    out.update(parts)  # theme, styles, app.xml, workbook rels: as in the template

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        first = ["[Content_Types].xml", "_rels/.rels"]
        for name in first + sorted(set(out) - set(first)):
            zf.writestr(_zip_info(name), out[name], compresslevel=9)
    return buffer.getvalue()


def build(output: Path = OUTPUT, template: Path | None = None, button_list: Sequence | None = None) -> Path:
    """Write the add-in to OUTPUT (atomically); returns OUTPUT."""
    data = build_bytes(template, button_list)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, prefix=".tierbook-", suffix=".xlam", delete=False) as tmp:
        tmp.write(data)
    os.chmod(tmp.name, 0o644)  # a temporary file is private; the add-in is not
    os.replace(tmp.name, output)
    return output


def members(data: bytes | Path) -> dict[str, bytes]:
    """An add-in's members, uncompressed, in order: what --check and the tests compare
    (independent of the zlib build that compressed them)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with zipfile.ZipFile(source) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"where to write (default {OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--template", type=Path, help=f"the template (default: {TEMPLATE_NAME} of the installed xlwings)")
    parser.add_argument("--check", action="store_true", help="only compare OUT with a fresh build; exit 1 if they differ")
    args = parser.parse_args(argv)
    if args.check:
        fresh = members(build_bytes(args.template))
        if not args.out.is_file() or members(args.out) != fresh:
            print(f"{args.out} is stale: run python scripts/build_xlam.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    path = build(args.out, args.template)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
