"""tierbook's custom functions for xlwings Server: exactly the functions of tierbook.excel,
found by their xlwings decorator (tierbook.excel.entry_points), not listed again here."""

from tierbook.excel import entry_points

globals().update(_found := entry_points("__xlfunc__"))
__all__ = list(_found)
del entry_points, _found
