"""tierbook's custom functions for xlwings Server: exactly the functions of tierbook.excel."""

from tierbook.excel import (classify_handle, lifecycle, movement, next_contact, quadrant, segment, segments, size_tier,
                            vip_months)

__all__ = ["segment", "lifecycle", "quadrant", "next_contact", "vip_months", "size_tier", "segments", "movement",
           "classify_handle"]
