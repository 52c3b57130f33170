"""`tierbook addin install`: put the desktop add-in where Excel opens it at start.

Mirrors `xlwings addin install --file tierbook.xlam`: the add-in is copied into the
user's Excel startup folder (XLSTART), and, as xlwings does for its own add-in, a user
config naming this Python interpreter is written when there is none yet (tierbook's is
separate from xlwings': the add-in's xlwings module has PROJECT_NAME "tierbook"). On
macOS the xlwings AppleScript that RunPython needs is copied too (`xlwings runpython
install`).

Where things go (xlwings asks a running Excel for Application.StartupPath; these are
its defaults, and DIR overrides the add-in's folder):

    Windows  %APPDATA%\\Microsoft\\Excel\\XLSTART\\tierbook.xlam
             %USERPROFILE%\\.tierbook\\tierbook.conf
    macOS    ~/Library/Group Containers/UBF8T346G9.Office/User Content.localized/Startup.localized/Excel/tierbook.xlam
             ~/Library/Containers/com.microsoft.Excel/Data/tierbook.conf
             ~/Library/Application Scripts/com.microsoft.Excel/xlwings-<version>.applescript

Other systems have no desktop Excel: there DIR is required and only the add-in is copied.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

ADDIN_NAME = "tierbook.xlam"
PROJECT_NAME = "tierbook"  # the add-in's xlwings PROJECT_NAME: tierbook.conf

MAC_STARTUP = ("Library/Group Containers/UBF8T346G9.Office/User Content.localized/"
               "Startup.localized/Excel")
MAC_CONFIG_DIR = "Library/Containers/com.microsoft.Excel/Data"
MAC_SCRIPTS = "Library/Application Scripts/com.microsoft.Excel"


class AddinInstallError(RuntimeError):
    """The add-in could not be installed; the message says what to do."""


def addin_path() -> Path:
    """The add-in shipped with tierbook."""
    path = Path(str(resources.files("tierbook") / "addin" / ADDIN_NAME))
    if not path.is_file():
        raise AddinInstallError(f"{ADDIN_NAME} is missing from the tierbook package ({path}): "
                                "build it with python scripts/build_xlam.py")
    return path


def _platform(platform: str | None) -> str:
    platform = platform or sys.platform
    return "windows" if platform.startswith("win") else "macos" if platform == "darwin" else platform


def startup_dir(platform: str | None = None, home: Path | None = None, environ: dict | None = None) -> Path:
    """Excel's user startup folder (its Application.StartupPath by default)."""
    kind, home, environ = _platform(platform), home or Path.home(), os.environ if environ is None else environ
    if kind == "windows":
        appdata = environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return base / "Microsoft" / "Excel" / "XLSTART"
    if kind == "macos":
        return home / MAC_STARTUP
    raise AddinInstallError(f"there is no desktop Excel on {platform or sys.platform}: give the folder to copy "
                            f"{ADDIN_NAME} into with --dir DIR")


def config_path(platform: str | None = None, home: Path | None = None, environ: dict | None = None) -> Path | None:
    """The user config file the add-in reads (xlwings' GetConfigFilePath with
    PROJECT_NAME tierbook); None where there is no desktop Excel."""
    kind, home, environ = _platform(platform), home or Path.home(), os.environ if environ is None else environ
    if kind == "windows":
        profile = environ.get("USERPROFILE")
        return (Path(profile) if profile else home) / f".{PROJECT_NAME}" / f"{PROJECT_NAME}.conf"
    if kind == "macos":
        return home / MAC_CONFIG_DIR / f"{PROJECT_NAME}.conf"
    return None


def config_lines(platform: str | None = None, interpreter: str | None = None,
                 environ: dict | None = None) -> list[str]:
    """What `xlwings config create` writes: the conda environment on Windows when
    running in one, else this interpreter."""
    kind, environ = _platform(platform), os.environ if environ is None else environ
    conda_env, conda_exe = environ.get("CONDA_DEFAULT_ENV"), environ.get("CONDA_EXE")
    if kind == "windows" and conda_env and conda_exe:
        conda_path = os.sep.join(conda_exe.split(os.sep)[:-2])  # without \Scripts\conda.exe
        return [f'"CONDA PATH","{conda_path}"\n', f'"CONDA ENV","{conda_env}"\n']
    key = "INTERPRETER_MAC" if kind == "macos" else "INTERPRETER_WIN"
    return [f'"{key}","{interpreter or sys.executable}"\n']


@dataclass
class Installed:
    """What install_addin wrote."""

    addin: Path
    config: Path | None = None  # the user config, when this run wrote it
    other: list[Path] = field(default_factory=list)  # the RunPython AppleScript on macOS


def _applescript() -> Path | None:
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        return None
    version = importlib.metadata.version("xlwings")
    path = Path(next(iter(spec.submodule_search_locations))) / f"xlwings-{version}.applescript"
    return path if path.is_file() else None


def install(target_dir: Path | None = None, *, platform: str | None = None, home: Path | None = None,
            environ: dict | None = None, interpreter: str | None = None, source: Path | None = None) -> Installed:
    """Copy the add-in into TARGET_DIR (default: Excel's startup folder), write the user
    config if there is none (Windows, macOS) and, on macOS, the RunPython AppleScript.
    Raises AddinInstallError with a message for the user."""
    source = source or addin_path()
    folder = Path(target_dir).expanduser() if target_dir is not None else startup_dir(platform, home, environ)
    target = folder / ADDIN_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except PermissionError as error:
        raise AddinInstallError(f"could not write {target} ({error.strerror}): if Excel is running, quit it "
                                "and try again") from None
    except OSError as error:
        raise AddinInstallError(f"could not write {target}: {error.strerror or error}") from None
    done = Installed(target)

    config = config_path(platform, home, environ)
    if config is not None and not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("".join(config_lines(platform, interpreter, environ)), encoding="utf-8")
        done.config = config
    if _platform(platform) == "macos":
        script = _applescript()
        if script is None:
            raise AddinInstallError("xlwings is not installed in this Python (RunPython needs its AppleScript): "
                                    "pip install xlwings")
        scripts = (home or Path.home()) / MAC_SCRIPTS
        scripts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(script, scripts / script.name)
        done.other.append(scripts / script.name)
    return done


def install_addin(target_dir: Path | None = None) -> Path:
    """`tierbook addin install [--dir DIR]`: the installed add-in's path."""
    return install(target_dir).addin
