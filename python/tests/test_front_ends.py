"""The three front ends (the command, the server, the Python module) ask the library one question the
same way: on a fixed gallery of 15 real photos, search by photo, search by id and puppy algebra with
weights and parentheses (ids, and a photo) give the same ids and distances from each, and the same
as the command gave before the one query path (front_end_answers.json, made by commit 3cd2370's
command with `PUPEMBED_BIN=OLD/pupembed python3 test_front_ends.py --write-reference OUT`)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import urllib.request
import uuid

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("PUPEMBED_SHARED", ROOT.parent / "shared"))
VAL = SHARED / "data" / "stanford-dogs-64" / "val"
REAL = SHARED / "data" / "imagewoof-320-dev"
COMMAND = os.environ.get("PUPEMBED_BIN", str(ROOT / "build" / "pupembed"))
REFERENCE = pathlib.Path(__file__).with_name("front_end_answers.json")
BREEDS = ("n02085620-Chihuahua", "n02085936-Maltese_dog", "n02110958-pug")

pytestmark = pytest.mark.skipif(not VAL.is_dir() or not REAL.is_dir(), reason=f"{VAL} or {REAL} is absent")


def query_photo():
    """A beagle from the real-photo set: not in the gallery."""
    return str(sorted((REAL / "n02088364-beagle").iterdir())[0])


# (name, kind, argument, k): the questions every front end is asked.
QUESTIONS = [
    ("search by photo", "search", "PHOTO", 5),
    ("search by id", "search", "#3", 4),
    ("algebra of ids", "algebra", "#1 + #7 - 0.5*(#12 - 2*#3)", 3),
    ("algebra with a photo", "algebra", "pup + 0.5*(#2 - #9)", 4),
]


def make_gallery(folder):
    """The fixed gallery: 5 photos of each of 3 breeds, added by the command (ids 1 to 15 in path order)."""
    for breed in BREEDS:
        (folder / "photos" / breed).mkdir(parents=True)
        for path in sorted((VAL / breed).iterdir())[:5]:
            shutil.copy(path, folder / "photos" / breed)
    db = folder / "g.db"
    subprocess.run([COMMAND, "index", "add", str(folder / "photos"), "--db", str(db)], check=True, capture_output=True)
    return str(db)


def command_answers(db):
    answers = {}
    for name, kind, argument, k in QUESTIONS:
        argument = argument.replace("PHOTO", query_photo()).replace("pup", f"'{query_photo()}'")
        done = subprocess.run([COMMAND, kind, argument, "-k", str(k), "--db", db, "--json"], capture_output=True, text=True,
                              check=True)
        results = json.loads(done.stdout)["results"]
        answers[name] = {"ids": [r["id"] for r in results], "distances": [r["distance"] for r in results]}
    return answers


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    body = b""
    for key, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
    for key, path in files.items():
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{os.path.basename(path)}"\r\n'
                 "Content-Type: image/jpeg\r\n\r\n").encode() + pathlib.Path(path).read_bytes() + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def server_answers(db):
    server = subprocess.Popen([COMMAND, "serve", "--db", db, "--port", "0", "--workers", "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert "serving" in line, (line, server.stderr.read() if server.poll() is not None else "")
        base = line.split(" at ", 1)[1].split()[0].rstrip("/")
        answers = {}
        for name, kind, argument, k in QUESTIONS:
            files = {}
            if kind == "search" and argument == "PHOTO":
                fields, files = {"k": k}, {"image": query_photo()}
            elif kind == "search":
                fields = {"k": k, "id": argument}
            else:
                fields = {"k": k, "expression": argument}
                if "pup" in argument:
                    files = {"pup": query_photo()}
            body, content_type = multipart(fields, files)
            request = urllib.request.Request(f"{base}/api/{kind}", data=body, headers={"Content-Type": content_type})
            with urllib.request.urlopen(request, timeout=120) as response:
                reply = json.loads(response.read())
            if kind == "algebra":
                # "inputs" is the old name of "terms", sent too for one release.
                assert reply["terms"] == reply["inputs"] and len(reply["terms"]) >= 2
            results = reply["results"]
            answers[name] = {"ids": [r["id"] for r in results], "distances": [r["distance"] for r in results]}
        return answers
    finally:
        server.terminate()
        server.wait(timeout=60)


def python_answers(db):
    import pupembed

    gallery = pupembed.Gallery(db)
    answers = {}
    for name, kind, argument, k in QUESTIONS:
        if kind == "search":
            D, I = gallery.search(query_photo() if argument == "PHOTO" else argument, k=k)
        else:
            D, I = gallery.algebra(argument, k=k, photos={"pup": query_photo()})
        count = int((I[0] >= 0).sum())
        answers[name] = {"ids": I[0, :count].tolist(), "distances": D[0, :count].tolist()}
    return answers


def same(a, b, tolerance):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name]["ids"] == b[name]["ids"], name
        np.testing.assert_allclose(a[name]["distances"], b[name]["distances"], atol=tolerance, err_msg=name)


def test_command_server_and_python_give_the_same_answers_as_before(tmp_path):
    db = make_gallery(tmp_path)
    command = command_answers(db)
    server = server_answers(db)
    python = python_answers(db)
    assert all(len(command[name]["ids"]) == k for name, _, _, k in QUESTIONS)
    same(command, server, 1e-6)
    same(command, python, 1e-6)
    same(command, json.loads(REFERENCE.read_text())["answers"], 1e-5)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write-reference"] or len(sys.argv) != 3:
        sys.exit("usage: PUPEMBED_BIN=.../pupembed python3 test_front_ends.py --write-reference OUT.json")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        answers = command_answers(make_gallery(pathlib.Path(folder)))
    version = subprocess.run([COMMAND, "--version"], capture_output=True, text=True).stdout.strip()
    pathlib.Path(sys.argv[2]).write_text(json.dumps({"made_by": version, "answers": answers}, indent=1) + "\n")
