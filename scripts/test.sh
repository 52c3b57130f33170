#!/usr/bin/env bash
# Install tierbook with its test dependencies into .venv and run the whole test suite.
# Extra arguments go to pytest (for example: bash scripts/test.sh -k ledger).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,excel,scale]'
# (scale: DuckDB and PySpark for tests/test_scale.py, whose Spark test starts a local JVM.)
# lifetimes is only the CDNOW anchor check's reference; its pinned dependencies are stale,
# so it goes in without them (what its import needs is in the test extra).
.venv/bin/python -m pip install -q --no-deps lifetimes==0.11.3
# The workbook tests open every generated file in a real spreadsheet application; the
# object-handle tests run xlwings Server's object cache in a real Redis (started by them);
# the ribbon transport tests and the Excel stand-in's tests run JavaScript in node (npm
# installs their packages); the Spark test needs a Java runtime (Debian's OpenJDK 17); the
# download test clicks a link in Debian's chromium.
if ! command -v soffice >/dev/null || ! command -v pdftoppm >/dev/null || ! command -v redis-server >/dev/null \
        || ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v java >/dev/null \
        || ! [ -x /usr/bin/chromium ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        libreoffice-calc-nogui poppler-utils fonts-dejavu-core redis-server nodejs npm openjdk-17-jre-headless \
        chromium >/dev/null
fi
# The Excel stand-in's tests and the ribbon's type check need the npm packages pinned in
# package-lock.json (@types/office-js, typescript).
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null
exec .venv/bin/python -m pytest "$@"
