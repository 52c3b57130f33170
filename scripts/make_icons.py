"""Draw tierbook's ribbon and manifest icons (16, 32, 64 and 80 px PNGs) without any image library.

The icon is a tier pyramid: three bars, the narrow gold one (VIP) on top of a teal and a
grey one, on a white rounded tile. Run it again after changing the drawing:

    python scripts/make_icons.py   # writes addin/tierbook/server/static/images/icons/tierbook-*.png
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "addin" / "tierbook" / "server" / "static" / "images" / "icons"
SIZES = (16, 32, 64, 80)
TILE = (255, 255, 255)
BARS = (  # (top, bottom, half width) in units of the icon's side, and the colour
    ((0.14, 0.34, 0.16), (0xE0, 0xA1, 0x1B)),  # VIP
    ((0.41, 0.61, 0.29), (0x1F, 0x6F, 0x8B)),  # Good
    ((0.68, 0.88, 0.42), (0x7A, 0x86, 0x8F)),  # Regular
)
SUPERSAMPLE = 4


def _pixel(x: float, y: float) -> tuple[int, int, int, int]:
    """The colour at (x, y) in the unit square, transparent outside the rounded tile."""
    r = 0.18
    cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
    if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
        return (0, 0, 0, 0)
    for (top, bottom, half), colour in BARS:
        if top <= y <= bottom and abs(x - 0.5) <= half:
            return (*colour, 255)
    return (*TILE, 255)


def draw(size: int) -> bytes:
    """The PNG file of the icon at SIZE × SIZE pixels (antialiased by supersampling)."""
    rows = []
    n = SUPERSAMPLE
    for py in range(size):
        row = bytearray([0])  # filter type 0 for each scanline
        for px in range(size):
            samples = [_pixel((px + (i + 0.5) / n) / size, (py + (j + 0.5) / n) / size) for i in range(n) for j in range(n)]
            alpha = sum(s[3] for s in samples)
            colour = [round(sum(s[k] * s[3] for s in samples) / alpha) if alpha else 0 for k in range(3)]
            row += bytes([*colour, round(alpha / len(samples))])
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        (ICONS / f"tierbook-{size}.png").write_bytes(draw(size))
        print(ICONS / f"tierbook-{size}.png")


if __name__ == "__main__":
    main()
