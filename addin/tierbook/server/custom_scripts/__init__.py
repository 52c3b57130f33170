"""tierbook's scripts for xlwings Server: exactly the ribbon scripts of tierbook.excel,
found by their xlwings decorator (tierbook.excel.entry_points), not listed again here.

The /xlwings/custom-scripts-call/<name> route calls any attribute of this module, so it
holds nothing else. Each script runs in a worker thread (off_loop): xlwings Server calls
scripts inside its event loop, where a run of Segment customers would hold up every
custom function call for its whole length."""

from tierbook.excel import entry_points
from tierbook.server.transport import off_loop

globals().update(_found := {name: off_loop(script) for name, script in entry_points("__xlscript__").items()})
__all__ = list(_found)
del entry_points, off_loop, _found
