#!/usr/bin/env python3
"""Replaces the text between two marker comments of a Markdown file.

Usage: doc_section.py FILE NAME [--check] < new_text
The section is everything between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
(each on its own line). Writes FILE with stdin in its place; with --check,
writes nothing and exits 1 when FILE's section differs from stdin. Exits 2 when
the markers are missing or out of order. Used by tools/cross/sizes.sh and
tools/cross/perf/icount.sh, so that running either twice gives the same file.
"""
import sys


def main():
    path, name = sys.argv[1], sys.argv[2]
    check = "--check" in sys.argv[3:]
    begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->\n"
    text = open(path, encoding="utf-8").read()
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        print(f"doc_section: {path} lacks '{begin.strip()}' ... '{end.strip()}'", file=sys.stderr)
        return 2
    new = sys.stdin.read()
    if new and not new.endswith("\n"):
        new += "\n"
    updated = text[: i + len(begin)] + new + text[j:]
    if check:
        if updated != text:
            print(f"doc_section: {path}'s {name} section is out of date", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        open(path, "w", encoding="utf-8").write(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
