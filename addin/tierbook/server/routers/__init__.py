"""Routes tierbook adds to xlwings Server (xlwings Server loads routers/custom.py)."""
