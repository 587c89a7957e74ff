#!/usr/bin/env python3
"""Reports the classes and structs of the C++ tree with the most public methods.

What it counts: in every tracked header (*.h, *.hpp), each class or struct body
(nested ones separately, named Outer::Inner), the member-function declarations in its
public sections — a struct starts public, a class private, and `public:` /
`protected:` / `private:` switch. Operators and static functions count; constructors,
destructors, `= delete`d functions and friends do not, nor do data members (a
std::function member is data). It is a rough parser — comments, strings and
preprocessor lines are blanked, templates are not expanded, macros are not seen — meant
to show where an interface is growing, not to be exact.

    scripts/largest-classes.py [--top N] [ROOT]

Always exits 0 (a report, not a check), unless ROOT cannot be read.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

HEAD = re.compile(r"\b(class|struct)\s+(?:\[\[[^\]]*\]\]\s*)?(\w+)\s*(?:final\s*)?(?::[^;{}()]*)?\{")
ACCESS = re.compile(r"(public|protected|private)\s*:(?!:)")
NESTED = re.compile(r"^(?:template\s*<.*>\s*)?(?:class|struct|union|enum)\b", re.S)
SKIP = re.compile(r"^(?:using|typedef|friend|static_assert|namespace)\b")


def blank(text):
    """Comments, string and character literals, and preprocessor lines become spaces,
    so braces and semicolons inside them cannot confuse the scan (offsets are kept)."""
    out = list(text)
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#":
            j = i
            while j < n and (text[j] != "\n" or text[j - 1] == "\\"):
                j += 1
            out[i:j] = " " * (j - i)
            i = j
            continue
        if c == "\n":
            line_start = True
            i += 1
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = [ch if ch == "\n" else " " for ch in text[i:j]]
            i = j
        elif c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator: 13'600
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out[i + 1 : j] = " " * (j - i - 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def match_close(s, i):
    """Index just past the bracket group opening at s[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[s[i]]]
    i += 1
    while i < len(s) and stack:
        c = s[i]
        if c in pairs:
            stack.append(pairs[c])
        elif c == stack[-1]:
            stack.pop()
        i += 1
    return i


def is_function(head):
    """A declaration head names a function when a '(' comes before any '=' outside
    template brackets, or it declares an operator."""
    if re.search(r"\boperator\b", head):
        return True
    angle = 0
    for c in head:
        if c == "<":
            angle += 1
        elif c == ">" and angle:
            angle -= 1
        elif angle == 0 and c == "=":
            return False
        elif angle == 0 and c == "(":
            return True
    return False


def counts_as_method(head, class_name):
    head = " ".join(head.split())
    head = re.sub(r"^template\s*<.*?>\s*", "", head)
    if not head or SKIP.match(head) or not is_function(head):
        return False
    if re.search(r"=\s*delete\b", head):
        return False
    name = re.search(r"(~?\w+|operator\W+)\s*\(", head)
    if name and name.group(1).lstrip("~") == class_name:
        return False
    return True


def public_methods(body, class_name, public):
    """Counts public method declarations at the top level of a class body."""
    count, i, n = 0, 0, len(body)
    while i < n:
        while i < n and body[i].isspace():
            i += 1
        m = ACCESS.match(body, i)
        if m:
            public = m.group(1) == "public"
            i = m.end()
            continue
        # The declaration runs to the first ';' or '{' outside parentheses and brackets.
        j = i
        while j < n and body[j] not in ";{":
            j = match_close(body, j) if body[j] in "([" else j + 1
        head = body[i:j]
        if j >= n:
            break
        if body[j] == ";":
            i = j + 1
        elif NESTED.match(head.strip()):
            i = match_close(body, j)
            while i < n and body[i] != ";":  # "} name;" after a nested type
                i += 1
            i += 1
        elif is_function(head):
            i = match_close(body, j)
            if re.search(r"\)[^()]*(?<!:):(?!:)", head):
                # A constructor's initializer list: the brace just skipped was a member's
                # initializer; skip the others, then the body.
                while True:
                    while i < n and body[i].isspace():
                        i += 1
                    if i < n and body[i] == ",":
                        while i < n and body[i] not in "({":
                            i += 1
                        i = match_close(body, i) if i < n else i
                    elif i < n and body[i] == "{":
                        i = match_close(body, i)
                        break
                    else:
                        break
        else:  # a brace-initialised data member: skip to its ';'
            i = match_close(body, j)
            while i < n and body[i] != ";":
                i = match_close(body, i) if body[i] in "([{" else i + 1
            i += 1
            continue
        if public and counts_as_method(head, class_name):
            count += 1
    return count


def classes_in(path, text):
    s = blank(text)
    spans = []
    for m in HEAD.finditer(s):
        if re.search(r"\benum\s*$", s[: m.start()]):
            continue
        open_brace = m.end() - 1
        spans.append((m.group(2), m.group(1), open_brace, match_close(s, open_brace)))
    for name, kind, start, end in spans:
        outer = [o for o, _, os, oe in spans if os < start and end <= oe]
        full = "::".join(outer + [name])
        yield full, public_methods(s[start + 1 : end - 1], name, kind == "struct")


def headers(root):
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "*.h", "*.hpp"],
                             check=True, capture_output=True, text=True).stdout.split()
        return [root / p for p in out]
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for p in root.rglob("*.h") if "build" not in p.parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=Path(__file__).resolve().parent.parent, type=Path)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    rows = []
    for path in headers(args.root):
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, count in classes_in(path, text):
            rows.append((count, name, str(path.relative_to(args.root))))
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    print(f"Classes with the most public methods (top {args.top} of {len(rows)}):")
    width = max((len(r[1]) for r in rows[: args.top]), default=5)
    for count, name, file in rows[: args.top]:
        print(f"  {count:4d}  {name:<{width}}  {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
