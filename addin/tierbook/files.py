"""Writing files so that a failed run never leaves half a file behind, never writes
over the user's input, and names files every system accepts."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
import unicodedata
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import InputError, SettingsError


class SameFileError(InputError):
    """A command was asked to write over one of the files it reads."""


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether A and B name the same file: the same path spelled differently, a symlink
    to it, a hard link, or (on a case-insensitive disk) a name differing only in case."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:  # one does not exist (yet)
        pass
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def refuse_overwrite(out: str | Path | None, *inputs: str | Path | None, what: str = "the output") -> None:
    """Raise SameFileError when OUT is one of INPUTS (see same_file): a run must never
    replace the file it reads."""
    if out is None:
        return
    for source in inputs:
        if source is not None and same_file(out, source):
            raise SameFileError(f"{what} {out} is the input file {source}: tierbook never writes over its input; "
                                f"choose another name")


def replace_atomically(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call WRITE on a temporary file beside TARGET, then rename it over TARGET.

    The file gets the permissions a newly created file would get (mkstemp's are
    owner-only), so a replaced workbook stays readable by whoever could read it before.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # a short prefix: TARGET's name may already be near the system's limit of 255 bytes
        fd, name = tempfile.mkstemp(prefix=f".{_cut_bytes(target.stem, 60)}-", suffix=".tmp", dir=target.parent)
    except OSError as error:  # permission denied, a read-only disk: one line naming TARGET, not the temporary file
        raise OSError(f"cannot write {target}: {error.strerror or error}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            write(tmp)
        except OSError as error:
            raise write_failure(error, target) or error
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        try:
            os.replace(tmp, target)
        except OSError as error:  # TARGET is a folder, or open and locked (Windows)
            raise OSError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- file names

_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f\x85\u2028\u2029]+')
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
#: Device names Windows reserves in any folder and with any extension (CON.xlsx is CON).
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                              *(f"COM{i}" for i in "0123456789¹²³"), *(f"LPT{i}" for i in "0123456789¹²³")})
#: Bytes (UTF-8) a file name may have with its suffix: most systems allow 255, and a
#: temporary name beside it and a " (2)" must still fit.
MAX_NAME_BYTES = 180


def _cut_bytes(text: str, limit: int) -> str:
    """TEXT cut to at most LIMIT bytes of UTF-8, at a character boundary, never leaving
    a dangling joiner, variation selector or combining mark at the end."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[:limit].decode("utf-8", "ignore")
    while cut and (unicodedata.combining(cut[-1]) or cut[-1] in "\u200d\ufe0e\ufe0f"
                   or 0x1F3FB <= ord(cut[-1]) <= 0x1F3FF):
        cut = cut[:-1]
    flags = len(cut) - len(re.sub("[\U0001f1e6-\U0001f1ff]+$", "", cut))
    if flags % 2:  # half a flag (a flag is two regional indicators)
        cut = cut[:-1]
    return cut


def safe_stem(name: object, *, fallback: str = "workbook", max_chars: int = 100,
              max_bytes: int = MAX_NAME_BYTES, suffix: str = "") -> str:
    """NAME as the stem of a file name every system accepts, Windows included: one line,
    each run of <>:"/\\|?* or control characters made one "_", no leading or trailing
    dot, space or "_", not a reserved device name (CON, nul, COM1, LPT1.backup get a
    leading "_"), at most MAX_CHARS characters and, with SUFFIX, MAX_BYTES bytes of UTF-8
    (a 120-character Chinese or emoji name is cut, not refused by the disk)."""
    text = unicodedata.normalize("NFC", "" if name is None else str(name))
    text = re.sub(r" {2,}", " ", _CONTROL.sub(" ", text))
    stem = _BAD_CHARS.sub("_", text).strip(" ._") or fallback
    if stem.split(".")[0].strip(" ").upper() in WINDOWS_RESERVED:
        stem = "_" + stem
    stem = stem[:max(1, max_chars - len(suffix))]
    stem = _cut_bytes(stem, max(8, max_bytes - len(suffix.encode("utf-8")))).rstrip(" .") or fallback
    return stem


def safe_filename(name: object, suffix: str = ".xlsx", **limits) -> str:
    """safe_stem(NAME) + SUFFIX: the one file-name rule of split, send and the outbox."""
    return safe_stem(name, suffix=suffix, **limits) + suffix


def unique_stem(stem: str, used: set[str]) -> str:
    """STEM, or "STEM (2)", "STEM (3)"... when a name equal to it but for case (as Windows
    and macOS compare names) is in USED; the one chosen is added to USED."""
    candidate, n = stem, 2
    while unicodedata.normalize("NFC", candidate).casefold() in used:
        candidate, n = f"{stem} ({n})", n + 1
    used.add(unicodedata.normalize("NFC", candidate).casefold())
    return candidate


@contextlib.contextmanager
def staged_folder(directory: str | Path, protect: Iterable[str | Path] = ()) -> Iterator[Path]:
    """A temporary folder inside DIRECTORY to write a set of files into; when the block
    ends without error they are moved into DIRECTORY together, else none is. A file
    that would replace one of PROTECT (the input) is refused before anything moves."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".tierbook-", dir=directory))
    try:
        yield stage
        staged = sorted(stage.iterdir())
        for path in staged:
            refuse_overwrite(directory / path.name, *protect, what="the file")
        for path in staged:
            os.replace(path, directory / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# --------------------------------------------------------------------------- failed writes

_tracked = threading.local()


def track_workbook(book: object) -> object:
    """Note an openpyxl workbook being written, so that a failed write can close its
    streams quietly (see failed_writes_reported)."""
    books = getattr(_tracked, "books", None)
    if books is not None:
        books.append(book)
    return book


def _discard(book: object) -> None:
    """Close the write-only sheets' XML streams and temporary files of BOOK, swallowing
    the errors they raise again: left to the garbage collector, each prints ~10 lines of
    "Exception ignored in: <generator ...>" after the run's own message."""
    for ws in getattr(book, "_sheets", ()):
        writer = getattr(ws, "_writer", None)
        for stream in (getattr(ws, "_rows", None), getattr(writer, "xf", None)):
            if stream is not None and hasattr(stream, "close"):
                try:
                    stream.close()
                except Exception:  # noqa: BLE001 - the disk that failed fails again here
                    pass
        out = getattr(writer, "out", None)
        if isinstance(out, str) and os.path.basename(out).startswith("tmp"):
            with contextlib.suppress(OSError):
                os.unlink(out)


_LXML_IO = {"IO_ENOSPC": "the disk is full", "IO_EFBIG": "the file is larger than the system allows",
            "IO_EACCES": "permission denied", "IO_EPERM": "permission denied", "IO_EROFS": "the disk is read-only",
            "IO_EIO": "an input/output error of the disk"}


_DISK_ERRORS = {getattr(errno, n) for n in ("ENOSPC", "EFBIG", "EDQUOT", "EROFS", "EIO") if hasattr(errno, n)}


def write_failure(error: BaseException, out: object) -> OSError | None:
    """The one-line OSError for a failed write of OUT (a disk error, or lxml's
    SerialisationError for one), or None when ERROR is not a write failure."""
    if type(error).__name__ == "SerialisationError" or type(error).__module__.startswith("lxml"):
        code = str(error).split(":")[0].strip()
        return OSError(f"cannot write {out}: {_LXML_IO.get(code, code or type(error).__name__)}")
    if isinstance(error, OSError) and error.errno in _DISK_ERRORS:  # the same words as lxml's, whichever layer failed
        reason = _LXML_IO.get("IO_" + errno.errorcode.get(error.errno, ""), error.strerror)
        return OSError(f"cannot write {out}: {reason}")
    return None


def failed_writes_reported(function: Callable) -> Callable:
    """Decorate a function that writes a workbook to OUT (its second argument): when the
    write fails (disk full, permission denied), the half-written workbook's streams are
    closed quietly and one OSError "cannot write OUT: reason" is raised instead."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        outer = getattr(_tracked, "books", None)
        _tracked.books = []
        try:
            return function(*args, **kwargs)
        except BaseException as error:
            for book in _tracked.books:
                _discard(book)
            failure = write_failure(error, kwargs.get("out", args[1] if len(args) > 1 else "the workbook"))
            if failure is None:
                raise
            raise failure from None
        finally:
            _tracked.books = outer
    return wrapper


# --------------------------------------------------------------------------- locks


@contextlib.contextmanager
def exclusive_lock(path: str | Path, busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold an exclusive lock on the file PATH (created if missing) for the block; when
    another process holds it, raise busy() at once instead of waiting."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+b")
    try:
        try:
            if os.name == "nt":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise busy() from None
        yield
    finally:
        handle.close()  # closing releases the lock


# --------------------------------------------------------------------------- the output root

OUTPUT_ROOT_ENV = "TIERBOOK_OUTPUT_ROOT"


#: Under xlwings Lite (Pyodide), the folder whose files Lite's menu > Files > Import/Export
#: lists for download (lite.xlwings.org/files): a file written anywhere else stays in the
#: browser's memory, where no one can reach it.
LITE_DATA = Path("/data")


def output_root() -> Path:
    """The folder the add-in may write into: $TIERBOOK_OUTPUT_ROOT, else ~/tierbook
    (under xlwings Lite /data/tierbook, which Lite offers for download)."""
    default = LITE_DATA / "tierbook" if sys.platform == "emscripten" else Path.home() / "tierbook"
    return Path(os.environ.get(OUTPUT_ROOT_ENV) or default).expanduser().resolve()


def output_folder(folder: str | Path | None, default: str) -> Path:
    """The folder a workbook's settings name (relative: inside the output root; empty:
    the root's DEFAULT subfolder), refused when it lies outside the output root: a
    workbook's settings (or a request to the add-in's server) never choose where on the
    disk files are written."""
    root = output_root()
    text = str(folder or "").strip()
    target = (root / (Path(text).expanduser() if text else Path(default))).resolve()
    if target != root and root not in target.parents:
        raise SettingsError(f'the folder "{text}" is outside the output folder {root}: choose a folder inside it, '
                            f"or set {OUTPUT_ROOT_ENV} to the folder tierbook may write into", "output_folder", folder=text)
    return target
