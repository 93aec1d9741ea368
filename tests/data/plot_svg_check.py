#!/usr/bin/env python3
"""Checks an SVG figure written by `niti plot` (tests/plot.cmake).

usage: plot_svg_check.py FILE SERIES [WIDTH HEIGHT]

The file must parse as XML, its root must be an <svg> element (WIDTH x HEIGHT pixels when
given), and it must hold one data line per series and panel: for each of the first SERIES
palette colours exactly two stroked, unfilled paths with at least 3 vertices (the accuracy and
the loss line; the legend sample has 2), and no path at all in the next palette colour (no
extra series). The palette is a copy of PALETTE in src/tools/plot.c.
"""
import re
import sys
import xml.etree.ElementTree as ET

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
SVG = "{http://www.w3.org/2000/svg}"


def colour(style, prop):
    """The rgb() colour of a style property ("stroke" or "fill") as 0..255 ints, or None."""
    m = re.search(r"(?:^|;)\s*" + prop + r"\s*:\s*rgb\(([^)]*)\)", style)
    if not m:
        return None
    out = []
    for part in m.group(1).split(","):
        part = part.strip()
        out.append(round(float(part[:-1]) * 2.55) if part.endswith("%") else int(part))
    return tuple(out)


def main():
    if len(sys.argv) not in (3, 5):
        print(__doc__, file=sys.stderr)
        return 2
    path, series = sys.argv[1], int(sys.argv[2])
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        print(f"{path}: not well-formed XML: {e}", file=sys.stderr)
        return 1
    ok = True
    if root.tag != SVG + "svg":
        print(f"{path}: the root element is {root.tag}, not svg", file=sys.stderr)
        ok = False
    if len(sys.argv) == 5:
        for attr, want in (("width", sys.argv[3]), ("height", sys.argv[4])):
            got = re.sub(r"(px|pt)$", "", root.get(attr, ""))
            if got == "" or float(got) != float(want):
                print(f"{path}: {attr} is {root.get(attr)!r}, expected {want}", file=sys.stderr)
                ok = False

    # Paths outside <defs> (glyph outlines live there).
    defs = {id(p) for d in root.iter(SVG + "defs") for p in d.iter()}
    lines, any_paint = {}, {}
    for p in root.iter(SVG + "path"):
        if id(p) in defs:
            continue
        style = p.get("style", "")
        for prop in ("stroke", "fill"):
            c = colour(style, prop)
            if c:
                any_paint[c] = any_paint.get(c, 0) + 1
        stroke = colour(style, "stroke")
        if stroke and re.search(r"(^|;)\s*fill\s*:\s*none", style):
            vertices = len(re.findall(r"[ML]", p.get("d", "")))
            if vertices >= 3:
                lines[stroke] = lines.get(stroke, 0) + 1
    for k in range(series):
        n = lines.get(PALETTE[k % 10], 0)
        if n != 2:
            print(f"{path}: series {k + 1} (rgb{PALETTE[k % 10]}): {n} data lines, expected 2",
                  file=sys.stderr)
            ok = False
    if series < len(PALETTE) and any_paint.get(PALETTE[series], 0):
        print(f"{path}: {any_paint[PALETTE[series]]} paths in the colour of series "
              f"{series + 1}, expected {series} series", file=sys.stderr)
        ok = False
    print(f"{path}: {'ok' if ok else 'FAILED'} ({series} series; data lines by colour: "
          f"{ {'%02x%02x%02x' % c: n for c, n in lines.items()} })")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
