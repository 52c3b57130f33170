"""python -m tierbook.server [--port N]: the same as `tierbook serve`."""

import argparse
import sys

from tierbook.server import ServeError, serve

parser = argparse.ArgumentParser(prog="python -m tierbook.server")
parser.add_argument("--port", type=int, default=8000)
args = parser.parse_args()
try:
    serve(args.port)
except ServeError as error:
    sys.exit(f"tierbook: error: {error}")
