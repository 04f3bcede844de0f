#!/usr/bin/env python3
"""Many users of one gallery at once, for a bounded time: threads sharing one pupembed.Gallery,
clients of one `pupembed serve`, or two processes with a Gallery each. Each run works on a fresh
gallery of PHOTOS for SECONDS, then checks the file (SQLite's integrity check, one row per photo
path, every vector finite and of unit length) and counts corrupt files, crashes (a signal) and
hangs (still running SECONDS + 120 s after its start). Prints one line per run and a summary.

  PYTHONPATH=build/python scripts/stress-gallery.py threads|server|processes PHOTOS [--runs 10] [--seconds 20]

threads: each run takes the next pair of operations (add, which takes a photo out first when all
are in so that it always writes; vectors, duplicates, search, remove, stats) and runs them in two threads, then all six in six threads in the last run; server: four
clients upload, search, read stats and the map while a `pupembed index add`/`index rm` loop
writes the same file; processes: two processes run all six operations each.
"""
import argparse
import itertools
import json
import os
import pathlib
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMAND = os.environ.get("PUPEMBED_BIN", str(ROOT / "build" / "pupembed"))
OPERATIONS = ["add", "vectors", "duplicates", "search", "remove", "stats"]


def operation(gallery, name, photos, rng):
    """One call of operation `name` on `gallery`."""
    import pupembed
    if name == "add":  # always writes: a photo of the sample is taken out first when all are in
        sample = rng.sample(photos, k=max(1, len(photos) // 3))
        ids, _ = gallery.vectors()
        if len(ids) == len(photos):
            gallery.remove([int(ids[rng.randrange(len(ids))])])
        gallery.add(sample)
    elif name == "vectors":
        ids, vectors = gallery.vectors()
        assert vectors.shape[0] == len(ids)
    elif name == "duplicates":
        gallery.duplicates(0.05)
    elif name == "search":
        ids, vectors = gallery.vectors()
        if len(ids):
            try:
                gallery.search(int(ids[rng.randrange(len(ids))]), k=5)
            except pupembed.Error as error:  # removed by another thread since: the right answer
                if "no image with id" not in str(error):
                    raise
            gallery.search(vectors[:1], k=5)
    elif name == "remove":
        ids, _ = gallery.vectors()
        if len(ids) > len(photos) // 2:
            gallery.remove([int(i) for i in rng.sample(list(ids), k=3)])
    elif name == "stats":
        gallery.stats()
        len(gallery)
    else:
        raise ValueError(name)


def worker(db, names, photos, seconds):
    """Runs `names` in one thread each on one Gallery for `seconds` (in this process)."""
    import pupembed
    gallery = pupembed.Gallery(db, create=True)
    stop = time.monotonic() + seconds
    errors, calls = [], [0]

    def loop(name, seed):
        rng = random.Random(seed)
        try:
            while time.monotonic() < stop:
                operation(gallery, name, photos, rng)
                calls[0] += 1
        except Exception as error:  # noqa: BLE001 - reported, then the run counts as failed
            errors.append(f"{name}: {error!r}")

    threads = [threading.Thread(target=loop, args=(name, i)) for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"calls": calls[0], "errors": errors}))


def check(db, photos):
    """'' when the gallery file is sound, else what is wrong."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
            if integrity != "ok":
                return f"integrity_check: {integrity}"
            rows = connection.execute("SELECT path, vector FROM images").fetchall()
    except sqlite3.Error as error:
        return f"sqlite: {error}"
    paths = [row[0] for row in rows]
    if len(set(paths)) != len(paths) or not set(paths) <= {os.path.abspath(p) for p in photos}:
        return "rows for unknown or repeated paths"
    for _, blob in rows:
        vector = np.frombuffer(blob, np.float32)
        if not np.all(np.isfinite(vector)) or abs(float(np.linalg.norm(vector)) - 1) > 1e-3:
            return "a vector that is not a unit vector"
    return ""


def spawn(args, seconds):
    """Runs this script's worker in a child process; (exit status or 'hang', its JSON line or None)."""
    child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = child.communicate(timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return "hang", None
    line = out.strip().splitlines()[-1] if out.strip() else None
    return child.returncode, (json.loads(line) if line else {"errors": [err.strip()[-300:]]})


def fresh_gallery(folder, photos):
    db = str(folder / "g.db")
    subprocess.run([COMMAND, "index", "add", *photos, "--db", db], check=True, capture_output=True)
    return db


def run_python(mode, photos, seconds, run, runs):
    pairs = list(itertools.combinations(OPERATIONS, 2))
    names = OPERATIONS if (mode == "processes" or run == runs - 1) else list(pairs[run % len(pairs)])
    with tempfile.TemporaryDirectory() as scratch:
        db = fresh_gallery(pathlib.Path(scratch), photos)
        args = ["--worker", db, ",".join(names), str(seconds), *photos]
        results = []
        if mode == "threads":
            results.append(spawn(args, seconds))
        else:
            with_results = [None, None]

            def one(i):
                with_results[i] = spawn(args, seconds)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            results = with_results
        damage = check(db, photos)
    return "+".join(names), results, damage


def run_server(photos, seconds):
    with tempfile.TemporaryDirectory() as scratch:
        folder = pathlib.Path(scratch)
        db = fresh_gallery(folder, photos[: len(photos) // 2])
        server = subprocess.Popen([COMMAND, "serve", "--db", db, "--port", "0", "--allow-upload-to-gallery"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = server.stdout.readline()
        port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
        base = f"http://127.0.0.1:{port}"
        stop = time.monotonic() + seconds
        errors, calls = [], [0]

        def request(path, body=None, content_type=None):
            req = urllib.request.Request(base + path, data=body, headers={"Content-Type": content_type} if content_type else {})
            with urllib.request.urlopen(req, timeout=60) as answer:
                return answer.read()

        def client(kind, seed):
            rng = random.Random(seed)
            try:
                while time.monotonic() < stop:
                    if kind == "upload":
                        request("/api/images", pathlib.Path(rng.choice(photos)).read_bytes(), "image/jpeg")
                    elif kind == "search":
                        stats = json.loads(request("/api/stats"))
                        request("/api/search", json.dumps({"id": f"#{rng.randint(1, stats['images'])}", "k": 5}).encode(),
                                "application/json")
                    elif kind == "map":
                        request("/api/map?method=pca")
                    calls[0] += 1
            except urllib.error.HTTPError as error:
                if error.code != 404:  # an id removed by the command meanwhile
                    errors.append(f"{kind}: {error} {error.read()[:200]!r}")
            except Exception as error:  # noqa: BLE001
                errors.append(f"{kind}: {error!r}")

        def writer():
            rng = random.Random(7)
            while time.monotonic() < stop:
                subprocess.run([COMMAND, "index", "add", *rng.sample(photos, k=5), "--db", db], capture_output=True)
                ids = json.loads(subprocess.run([COMMAND, "index", "stats", "--db", db, "--json"], capture_output=True,
                                                text=True).stdout or "{}").get("photos", 0)
                if ids > 3:
                    subprocess.run([COMMAND, "index", "rm", str(rng.randint(1, ids)), "--db", db], capture_output=True)
                calls[0] += 1

        threads = [threading.Thread(target=client, args=(kind, i)) for i, kind in enumerate(["upload", "search", "search", "map"])]
        threads.append(threading.Thread(target=writer))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        alive = server.poll() is None
        server.terminate()
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "hang"
        if not alive:
            code = server.returncode
        uploads = folder / "g.db.uploads"
        damage = check(db, photos + [str(p) for p in uploads.glob("*")] if uploads.is_dir() else photos)
        return "upload+search+search+map+index add/rm", [(0 if alive and code in (0, -15) else code,
                                                          {"calls": calls[0], "errors": errors})], damage


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        db, names, seconds, *photos = sys.argv[2:]
        worker(db, names.split(","), photos, float(seconds))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["threads", "server", "processes"])
    parser.add_argument("photos", nargs="+", help="photo files or folders (a few dozen photos are plenty)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    options = parser.parse_args()
    photos = subprocess.run([sys.executable, "-c", "import pupembed, sys; print('\\n'.join(pupembed.image_paths(sys.argv[1:])))",
                             *options.photos], capture_output=True, text=True, check=True).stdout.split()
    photos = [os.path.abspath(p) for p in photos]
    corrupt = crashes = hangs = failed = 0
    for run in range(options.runs):
        if options.mode == "server":
            names, results, damage = run_server(photos, options.seconds)
        else:
            names, results, damage = run_python(options.mode, photos, options.seconds, run, options.runs)
        codes = [code for code, _ in results]
        errors = [e for _, out in results if out for e in out.get("errors", [])]
        calls = sum((out or {}).get("calls", 0) for _, out in results)
        crashes += sum(1 for c in codes if isinstance(c, int) and c < 0)
        hangs += codes.count("hang")
        corrupt += bool(damage)
        failed += bool(errors)
        print(f"run {run + 1}: {names}: {calls} calls, exit {codes}, file {'sound' if not damage else damage}"
              + (f", errors: {errors[:3]}" if errors else ""), flush=True)
    print(f"{options.mode}: {options.runs} runs of {options.seconds:.0f} s: {corrupt} corrupt files, {crashes} crashes, "
          f"{hangs} hangs, {failed} runs with errors")
    return 0 if corrupt == crashes == hangs == failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
