"""Files handed to the browser of an Office.js client (issue 20, item 5).

The add-in's server may run on another machine than Excel (Excel on the web through a
proxy, a server shared by a team): a folder on the server's disk is one the manager
never sees. So when a script makes files for an Office.js client (Segment workbooks),
the job writes them into a fresh folder of the server's temporary folder, as it would
into any folder, and offers them: each file, and one zip of all of them, gets a link
with an unguessable token (secrets.token_urlsafe), which the task pane shows.

How long the server keeps them (what a manager expects: the files are theirs once
downloaded, nothing of them stays behind on a server they cannot see):

- each link works once: the file is removed once it has been sent whole;
- the zip holds every file of the run; once it has been sent, the whole run is removed
  (its single links then answer "already downloaded": the files are in the zip);
- once every file of a run has been downloaded, one by one, the zip goes too;
- nothing is kept longer than $TIERBOOK_DOWNLOAD_MINUTES (default and most: 60 minutes
  after the run): a sweep on every request to the server and at its start removes
  older runs, also those of an earlier server process (by the folder's time).

This module is the library's side: the shelf of offered files and the hand-off of one
request (a context variable the server sets around a script call; `offer` puts the
files of a run on the shelf and into the request's list). The route that sends a file
is the server's (tierbook.server.routers.custom); nothing here imports the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
import unicodedata
import zipfile
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import quote

MINUTES_ENV = "TIERBOOK_DOWNLOAD_MINUTES"
#: Minutes a run's files are kept at most (and the default).
MAX_MINUTES = 60.0

CONTENT_TYPES = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 ".zip": "application/zip"}


class DownloadError(ValueError):
    """A setting of the downloads that cannot be used (named in the message)."""


def max_age(value: str | None = None) -> float:
    """Seconds a run's files are kept: $TIERBOOK_DOWNLOAD_MINUTES (VALUE if given), a
    number of minutes above 0 and at most 60; empty: 60. Anything else raises
    DownloadError naming the variable."""
    text = os.environ.get(MINUTES_ENV, "") if value is None else value
    if not text.strip():
        return MAX_MINUTES * 60
    try:
        minutes = float(text)
    except ValueError:
        minutes = float("nan")
    if not 0 < minutes <= MAX_MINUTES:  # (NaN fails too)
        raise DownloadError(f"{MINUTES_ENV} must be a number of minutes above 0 and at most {MAX_MINUTES:g} (the "
                            f"server keeps files for download no longer than an hour), got {text!r}")
    return minutes * 60


def download_name(name: str) -> str:
    """NAME as the file name a browser is given: one line without path separators,
    quotes or control characters (never a path: "../x" is "x"), at most 150 characters."""
    text = unicodedata.normalize("NFC", str(name))
    text = re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", text)
    text = Path(text.replace("\\", "/")).name  # the last part of anything like a path
    text = re.sub(r'[<>:"/\\|?*;]+', "_", text).strip(" .") or "download"
    if len(text) > 150:
        stem, dot, suffix = text.rpartition(".")
        text = (stem[:140] + dot + suffix) if dot and len(suffix) <= 8 else text[:150]
    return text


def content_disposition(name: str) -> str:
    """The Content-Disposition of an attachment called NAME (made a download_name):
    an ASCII filename for old clients and, for any other name, RFC 5987's filename*
    with the name in UTF-8."""
    name = download_name(name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()\-]+", "_", ascii_name).strip(" ._")
    suffix = Path(name).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", Path(name).suffix) else ""
    if not ascii_name or ascii_name == suffix.strip("."):
        ascii_name = "download" + suffix
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


@dataclass
class Entry:
    """One link: a file of a run, or the run's zip."""

    token: str
    path: Path
    name: str
    run: "_Run"
    is_zip: bool = False
    state: str = "ready"  # ready, sending, sent

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.path.suffix.lower(), "application/octet-stream")


@dataclass
class _Run:
    folder: Path
    created: float
    entries: list[Entry] = field(default_factory=list)


class Shelf:
    """The runs whose files wait for download, in folders of ROOT, each kept MAX_AGE
    seconds at most. Thread-safe: the server sends files while scripts offer others."""

    def __init__(self, root: str | Path | None = None, max_age_seconds: float | None = None):
        self._root = Path(root) if root is not None else None
        self.max_age = max_age() if max_age_seconds is None else max_age_seconds
        self.entries: dict[str, Entry] = {}
        self.runs: list[_Run] = []
        self.lock = threading.Lock()

    def _root_path(self) -> Path:
        if self._root is None:
            user = os.getuid() if hasattr(os, "getuid") else 0
            self._root = Path(tempfile.gettempdir()) / f"tierbook-downloads-{user}"
        return self._root

    @property
    def root(self) -> Path:
        """The shelf's folder (made on first use, private to this user: in a shared
        temporary folder another user's folder or a link of that name is refused)."""
        root = self._root_path()
        with contextlib.suppress(FileExistsError):
            root.mkdir(mode=0o700, parents=True)
        info = root.lstat()
        if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            raise DownloadError(f"{root} is not a folder of this user: tierbook keeps no files for download there")
        return root

    def new_folder(self) -> Path:
        """A fresh, empty folder on the shelf for the files of one run."""
        self.sweep()
        return Path(tempfile.mkdtemp(prefix="run-", dir=self.root))

    def offer(self, files: Sequence[str | Path], folder: str | Path, zip_name: str) -> list[Entry]:
        """Put FILES (written into FOLDER, a new_folder) on the shelf: one entry per file
        and, for more than one file, a zip of all of them called ZIP_NAME (inside it
        each file keeps its path below FOLDER). Returns the entries, the zip last."""
        folder = Path(folder).resolve()
        if folder.parent != self.root.resolve():
            raise DownloadError(f"{folder} is not a folder of the download shelf")
        paths = [Path(p).resolve() for p in files]
        if any(folder not in p.parents for p in paths):
            raise DownloadError("every file offered must lie in the run's folder")
        run = _Run(folder, time.time())
        for path in paths:
            run.entries.append(Entry(secrets.token_urlsafe(24), path, download_name(path.name), run))
        if len(paths) > 1:
            archive = folder / ".all.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:  # xlsx files are zips already
                for path in paths:
                    zipped.write(path, path.relative_to(folder).as_posix())
            run.entries.append(Entry(secrets.token_urlsafe(24), archive, download_name(zip_name), run, is_zip=True))
        with self.lock:
            self.runs.append(run)
            self.entries.update((e.token, e) for e in run.entries)
        return list(run.entries)

    def take(self, token: str) -> Entry | None:
        """The entry of TOKEN, now being sent (a second request for it meanwhile gets
        None); None for an unknown, expired or already sent token. Call sent() when the
        file has gone out whole, or release() when it could not be sent."""
        self.sweep()
        with self.lock:
            entry = self.entries.get(token) if isinstance(token, str) else None
            if entry is None or entry.state != "ready" or not entry.path.is_file():
                return None
            entry.state = "sending"
            return entry

    def release(self, entry: Entry) -> None:
        """ENTRY could not be sent: its link works again."""
        with self.lock:
            if entry.state == "sending":
                entry.state = "ready"

    def sent(self, entry: Entry) -> None:
        """ENTRY went out whole: its file is removed; after the zip, or once every file of
        its run has gone out, the whole run is."""
        with self.lock:
            entry.state = "sent"
            run = entry.run
            files = [e for e in run.entries if not e.is_zip]
            if entry.is_zip or all(e.state == "sent" for e in files):
                self._drop(run)
            else:
                with contextlib.suppress(OSError):
                    entry.path.unlink()

    def state(self, token: str) -> str | None:
        """"ready", "sending", "sent" (downloaded; kept as a word until its run goes) or None."""
        with self.lock:
            entry = self.entries.get(token)
            return entry.state if entry else None

    def _drop(self, run: _Run) -> None:
        for e in run.entries:
            if e.state != "sent":
                e.state = "sent"
        if run in self.runs:
            self.runs.remove(run)
        # (its tokens stay known as sent until the sweep forgets them: a second click
        # says "already downloaded", not "unknown")
        shutil.rmtree(run.folder, ignore_errors=True)

    def sweep(self, now: float | None = None) -> list[Path]:
        """Remove every run older than max_age at NOW (time.time()): its folder, and the
        folders on the shelf of an earlier server process, by their modification time;
        forget tokens of runs older than that. Returns the folders removed."""
        now = time.time() if now is None else now
        removed: list[Path] = []
        with self.lock:
            for run in [r for r in self.runs if now - r.created > self.max_age]:
                self.runs.remove(run)
                shutil.rmtree(run.folder, ignore_errors=True)
                removed.append(run.folder)
            for token in [t for t, e in self.entries.items() if now - e.run.created > self.max_age]:
                del self.entries[token]
            live = {r.folder for r in self.runs}
        if not self._root_path().exists():
            return removed  # nothing on the disk yet
        try:
            children = list(self.root.iterdir())
        except OSError:
            return removed
        for child in children:
            try:
                old = now - child.lstat().st_mtime > self.max_age
            except OSError:
                continue
            if old and child.resolve() not in live:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()
                removed.append(child)
        return removed


_SHELF: list[Shelf] = []


def shelf() -> Shelf:
    """The process's shelf (in the temporary folder; its limit from $TIERBOOK_DOWNLOAD_MINUTES)."""
    if not _SHELF:
        _SHELF.append(Shelf())
    return _SHELF[0]


# --------------------------------------------------------------------------- the hand-off of one request


@dataclass
class Handoff:
    """Where the files of the script a request runs go: onto SHELF, their links under
    URL_PREFIX (a path on the server's own origin), listed in DOWNLOADS for the answer.
    ORIGIN: the server's origin as the client sees it (for a link in a message).
    LISTED: the client shows DOWNLOADS itself (tierbook's ribbon route): no message."""

    url_prefix: str
    origin: str = ""
    listed: bool = False
    shelf: Shelf | None = None
    downloads: list[dict] = field(default_factory=list)


HANDOFF: ContextVar[Handoff | None] = ContextVar("tierbook_handoff", default=None)


@contextlib.contextmanager
def handing_off(handoff: Handoff) -> Iterator[Handoff]:
    """Scripts run within this block offer their files through HANDOFF."""
    token = HANDOFF.set(handoff)
    try:
        yield handoff
    finally:
        HANDOFF.reset(token)


def current() -> Handoff | None:
    """The hand-off of the request being served, if any."""
    return HANDOFF.get()


def offer(files: Sequence[str | Path], folder: str | Path, zip_name: str) -> list[dict]:
    """Offer FILES of one run (written into FOLDER, from the current hand-off's
    shelf's new_folder) for download: [{name, url, bytes, folder}], the zip of all of
    them last ({..., "zip": true}); also added to the hand-off's downloads."""
    handoff = current()
    if handoff is None:
        raise DownloadError("no request to hand the files to")
    target = handoff.shelf or shelf()
    listed = []
    for entry in target.offer(files, folder, zip_name):
        item = {"name": entry.name, "url": handoff.url_prefix + entry.token, "bytes": entry.path.stat().st_size}
        if entry.is_zip:
            item["zip"] = True
        else:
            item["folder"] = entry.path.parent.name
        listed.append(item)
    handoff.downloads.extend(listed)
    return listed
