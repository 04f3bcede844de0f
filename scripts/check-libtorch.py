#!/usr/bin/env python3
"""Checks that LibTorch stays behind the layers that run networks (model, inference, train): no
source file of core, io, gallery, serve, the command (tools/) or the Python module includes a
LibTorch header, directly or through our headers. Debian puts ATen and c10 in /usr/include, so a
stray include would compile without LibTorch's include folders; hence each file is preprocessed
with its target's own flags (from the build's compile_commands.json) and `-H`, which lists every
header opened, and a LibTorch one fails the check with the chain of includes that led to it.

    scripts/check-libtorch.py BUILD_DIR        (run by the tests: ctest -R libtorch_containment)

First it makes sure the check can fail: a file that includes <ATen/Parallel.h>, preprocessed with
the same flags, must be caught. Exit status: 0 clean, 1 a hit (or the check could not run)."""
import concurrent.futures
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

# The targets whose sources must not see LibTorch, and where their sources live.
GUARDED = {
    "pupembed_core": "src/core/",
    "pupembed_io": "src/io/",
    "pupembed_gallery": "src/gallery/",
    "pupembed_serve": "src/serve/",
    "pupembed_cli": "tools/",
    "pupembed_launcher": "tools/",
    "pupembed_python": "python/",
}
LIBTORCH = re.compile(r"/(torch|ATen|c10|caffe2)/")
DROPPED_WITH_VALUE = {"-o", "-MT", "-MF", "-MQ"}
DROPPED = {"-c", "-MD", "-MMD"}


def flags_of(entry):
    """The entry's compiler and flags, without its input, output and dependency-file options."""
    words = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in DROPPED_WITH_VALUE:
            skip = True
        elif word not in DROPPED and word != entry["file"] and not word.endswith(entry["file"]):
            kept.append(word)
    return kept


def chain_to_libtorch(flags, directory, source):
    """The includes from `source` to the first LibTorch header it opens, or None."""
    done = subprocess.run(flags + ["-E", "-H", "-o", os.devnull, source], cwd=directory, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{source}: cannot be preprocessed:\n{done.stderr[-2000:]}")
    stack = []  # (depth, header) of the headers open at each line
    for line in done.stderr.splitlines():
        match = re.match(r"^(\.+) (\S+)$", line)
        if not match:
            continue
        depth, header = len(match.group(1)), match.group(2)
        del stack[depth - 1:]
        stack.append(header)
        if LIBTORCH.search(os.path.normpath(header)):
            return stack
    return None


def sources_of(entry, root):
    """The project sources an entry compiles: the file itself, or those a unity file includes."""
    path = pathlib.Path(entry["file"])
    if "/Unity/unity_" in str(path):
        return [pathlib.Path(p) for p in re.findall(r'#include "([^"]+)"', path.read_text())]
    return [path]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = pathlib.Path(sys.argv[1]).resolve()
    root = pathlib.Path(__file__).resolve().parents[1]
    database = build / "compile_commands.json"
    if not database.is_file():
        print(f"check-libtorch: {database} is missing (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)")
        return 1
    jobs = []  # (target, flags, directory, source)
    for entry in json.loads(database.read_text()):
        output = entry.get("output", "")
        if not output:
            words = shlex.split(entry.get("command", ""))
            output = words[words.index("-o") + 1] if "-o" in words else ""
        match = re.search(r"CMakeFiles/([^/]+)\.dir/", output)
        if not match or match.group(1) not in GUARDED:
            continue
        target = match.group(1)
        for source in sources_of(entry, root):
            jobs.append((target, flags_of(entry), entry["directory"], str(source)))
    found = {target for target, *_ in jobs}
    missing = sorted({"pupembed_core", "pupembed_io", "pupembed_gallery", "pupembed_serve", "pupembed_cli"} - found)
    if missing:
        print(f"check-libtorch: no compile commands for {', '.join(missing)} in {database}")
        return 1

    # The check must be able to fail: a stray include with a guarded target's own flags is caught.
    target, flags, directory, _ = next(job for job in jobs if job[0] == "pupembed_gallery")
    with tempfile.NamedTemporaryFile("w", suffix=".cpp") as stray:
        stray.write("#include <ATen/Parallel.h>\nint main() { return 0; }\n")
        stray.flush()
        if not chain_to_libtorch(flags, directory, stray.name):
            print("check-libtorch: a file including <ATen/Parallel.h> was not caught; the check is broken")
            return 1

    hits = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        chains = pool.map(lambda job: (job, chain_to_libtorch(job[1], job[2], job[3])), jobs)
        for (target, _, _, source), chain in chains:
            if chain:
                shown = [os.path.relpath(p, root) if p.startswith(str(root)) else p for p in [source, *chain]]
                hits.append(f"{shown[0]} ({target}) includes LibTorch: " + " -> ".join(shown[1:]))
    for hit in hits:
        print(hit)
    print(f"check-libtorch: {len(jobs)} files of {len(found)} targets (core, io, gallery, serve, tools, python): "
          f"{len(hits)} include LibTorch")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
