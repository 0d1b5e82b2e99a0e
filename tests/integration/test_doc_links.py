#!/usr/bin/env python3
"""The documentation as a user's clone has it: every relative link of README.md and
docs/**/*.md (markdown links and paths in backticks that start with ./ or ../) names a file or
folder inside the repository, and none leaves it (a clone has nothing beside
itself). Prints one line per offence; exits 1 if there is any."""
import os
import re
import sys

SRC = os.path.realpath(os.environ.get("EZSHM_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", ".."))
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`(\.\.?/[^`\s]+)`")


def documents():
    yield os.path.join(SRC, "README.md")
    for folder, _, files in os.walk(os.path.join(SRC, "docs")):
        yield from (os.path.join(folder, f) for f in sorted(files) if f.endswith(".md"))


def main():
    bad, links = [], 0
    for doc in documents():
        text = open(doc, encoding="utf-8").read()
        for target in LINK.findall(text) + CODE_PATH.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue   # a URL, or an anchor in the same page
            links += 1
            path = os.path.realpath(os.path.join(os.path.dirname(doc), target.split("#")[0]))
            where = os.path.relpath(doc, SRC)
            if os.path.commonpath([path, SRC]) != SRC:
                bad.append(f"{where}: {target} leaves the repository")
            elif not os.path.exists(path):
                bad.append(f"{where}: {target} does not exist")
    for line in bad:
        print(f"FAIL  {line}")
    print(f"{links} relative links checked, {len(bad)} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
