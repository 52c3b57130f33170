"""tierbook's scripts for xlwings Server: exactly the ribbon scripts of tierbook.excel.

The /xlwings/custom-scripts-call/<name> route calls any attribute of this module, so it
holds nothing else."""

from tierbook.excel import (edit_settings, plan_reactivation, reactivation_results, segment_customers,
                            segment_workbooks)

__all__ = ["segment_customers", "segment_workbooks", "edit_settings", "plan_reactivation", "reactivation_results"]
