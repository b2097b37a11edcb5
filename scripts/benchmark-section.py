"""Puts one section into docs/benchmarks.md (or FILE) in place of its earlier version: the text
between `<!-- NAME:` and `<!-- /NAME -->`, appended at the end when there was none. Used by
scripts/benchmark-agent, -memory, -envelope and -beside; scripts/benchmark keeps the sections it finds.

    python3 scripts/benchmark-section.py FILE NAME SECTION
"""
import os
import re
import sys

path, name, section = sys.argv[1:]
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pattern = re.compile(r"<!-- " + re.escape(name) + r":.*?<!-- /" + re.escape(name) + r" -->\n?", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section + "\n", text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
