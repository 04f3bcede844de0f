"""Many queries in one Gallery.search call against a loop of single searches, from Python.

    build/bench/bench_batch_search --rounds 1 --keep /tmp/batch.db     # a 100,000-photo gallery
    PYTHONPATH=build/python python3 bench/python_batch_search.py /tmp/batch.db [--queries 1000] [-k 10]

The queries are the gallery's own first vectors plus a little noise. Alternately, in each of 3
rounds: the loop (gallery.search(X[i:i+1], k) for each row) and one call (gallery.search(X, k)),
both on every core (pupembed.set_num_threads(0)); the answers must be the same ids."""
import argparse
import time

import numpy as np

import pupembed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("gallery")
parser.add_argument("--queries", type=int, default=1000)
parser.add_argument("-k", type=int, default=10)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()

gallery = pupembed.Gallery(args.gallery)
_, vectors = gallery.vectors()
rng = np.random.default_rng(1)
X = vectors[: args.queries] + rng.normal(0, 0.02, (args.queries, vectors.shape[1])).astype(np.float32)
gallery.search(X[:1], args.k)  # the index snapshot, made once
loop_rates, batch_rates, same = [], [], True
for _ in range(args.rounds):
    start = time.perf_counter()
    loop = np.concatenate([gallery.search(X[i:i + 1], args.k)[1] for i in range(len(X))])
    loop_rates.append(len(X) / (time.perf_counter() - start))
    start = time.perf_counter()
    _, batch = gallery.search(X, args.k)
    batch_rates.append(len(X) / (time.perf_counter() - start))
    same = same and np.array_equal(loop, batch)
loop_rate, batch_rate = float(np.median(loop_rates)), float(np.median(batch_rates))
print(f"{len(gallery)} photos, {len(X)} queries, k {args.k}, {pupembed.get_num_threads()} threads, median of {args.rounds}:")
print(f"  loop of gallery.search(X[i:i+1], k): {loop_rate:8.0f} queries/s  {[round(r) for r in loop_rates]}")
print(f"  gallery.search(X, k):                {batch_rate:8.0f} queries/s  {[round(r) for r in batch_rates]}"
      f"  ({batch_rate / loop_rate:.1f}x)")
print(f"  same answers: {'yes' if same else 'NO'}")
raise SystemExit(0 if same else 1)
