"""A pytest plugin (`-p without_pyarrow`) that makes pyarrow and fastexcel unimportable, as in
xlwings Lite (Pyodide): loaded before pandas and tierbook, so both run without them."""

import sys

for name in ("pyarrow", "pyarrow.compute", "fastexcel"):
    sys.modules[name] = None  # `import name` now raises ImportError
