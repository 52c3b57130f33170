"""tierbook's scripts for xlwings Server: exactly the ribbon scripts of tierbook.excel.

The /xlwings/custom-scripts-call/<name> route calls any attribute of this module, so it
holds nothing else. Each script runs in a worker thread (off_loop): xlwings Server calls
scripts inside its event loop, where a run of Segment customers would hold up every
custom function call for its whole length."""

from tierbook.excel import edit_settings, plan_reactivation, reactivation_results, segment_customers, segment_workbooks
from tierbook.server.transport import off_loop

edit_settings, plan_reactivation, reactivation_results, segment_customers, segment_workbooks = (
    off_loop(edit_settings), off_loop(plan_reactivation), off_loop(reactivation_results), off_loop(segment_customers),
    off_loop(segment_workbooks))

__all__ = ["segment_customers", "segment_workbooks", "edit_settings", "plan_reactivation", "reactivation_results"]
