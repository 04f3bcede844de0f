"""Embedding speed from Python against `pupembed embed`, alternately in one run, on the same photos:
    PYTHONPATH=build/python python3 bench/python_embed.py [FOLDER] [ROUNDS]
(FOLDER: ../shared/data/stanford-dogs-64/val; ROUNDS: 3). Prints each round's images/s (decoding
included, model loading not, as the command counts) and the largest difference between the two
embeddings of each photo."""
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

import pupembed

root = pathlib.Path(__file__).resolve().parents[1]
folder = sys.argv[1] if len(sys.argv) > 1 else str(root.parent / "shared" / "data" / "stanford-dogs-64" / "val")
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
command = os.environ.get("PUPEMBED_BIN", str(root / "build" / "pupembed"))

model = pupembed.Model()
paths = pupembed.image_paths([folder])
print(f"{len(paths)} photos in {folder}; model {model.path}")
with tempfile.TemporaryDirectory() as scratch:
    output = os.path.join(scratch, "e.npy")
    for round_number in range(1, rounds + 1):
        done = subprocess.run([command, "embed", folder, "-o", output], capture_output=True, text=True, check=True)
        command_rate = float(re.search(r"; (\d+) images/s", done.stdout).group(1))
        start = time.perf_counter()
        vectors = model.embed(paths)
        python_rate = len(paths) / (time.perf_counter() - start)
        difference = float(np.abs(vectors - np.load(output)).max())
        print(f"round {round_number}: pupembed embed {command_rate:.0f} images/s, Python {python_rate:.0f} images/s "
              f"({100 * python_rate / command_rate:.0f}%), max abs difference {difference:g}")
