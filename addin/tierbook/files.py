"""Writing files so that a failed run never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def replace_atomically(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call WRITE on a temporary file beside TARGET, then rename it over TARGET.

    The file gets the permissions a newly created file would get (mkstemp's are
    owner-only), so a replaced workbook stays readable by whoever could read it before.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
