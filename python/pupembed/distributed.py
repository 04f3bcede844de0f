"""Embed a photo collection across a Dask cluster, in shards, resumably; and build a gallery's
compressed index there.

    python3 -m pupembed.distributed embed PHOTOS... -o JOB [--shard-size 10000] [--model M]
        [--scheduler ADDRESS | --scheduler-file FILE | --local N] [--large-input on|off] [--json]
    python3 -m pupembed.distributed index --db GALLERY [--shards N] [--lists L]
        [--scheduler ADDRESS | --scheduler-file FILE | --local N] [--json]

    import pupembed.distributed
    summary = pupembed.distributed.embed(["photos/"], "job", client=client)   # a dask.distributed Client
    pupembed.Gallery("dogs.db", create=True).import_job("job")
    pupembed.distributed.build_index("dogs.db", client=client)

The job folder is the one `pupembed embed --shard I/N` writes (see `pupembed embed --help`): each
shard is a Dask task that embeds its photos and writes its .tsv and .npy whole or not at all, so a
rerun skips finished shards and a task whose worker died runs again elsewhere. Dask schedules; this
module only makes the job, submits the unfinished shards and follows them. Each worker loads the
model once (a worker plugin: the model is read from its file on the worker, never pickled) and
runs one shard at a time with cores / workers-on-its-machine threads. The photos and the job folder
must be on storage every worker reaches under the same paths. `pupembed index import JOB --db G`
(or Gallery.import_job) then loads the shards into a gallery.

build_index builds the gallery's IVF-PQ index in shards (`pupembed index build --help`): trained
here, each shard of rows encoded by a task from the float16 vectors the plan writes beside the
gallery (never the database), merged here into the index one `index build --index ivfpq` makes.
"""
import argparse
import collections
import json
import os
import sys
import time

import pupembed


from distributed import WorkerPlugin  # noqa: E402 (Debian's python3-distributed)


def _use_worker_share(worker, workers_by_host):
    """Sets this process's threads to its worker's share of its machine's cores: os.cpu_count() / the
    workers on that machine (each runs one task at a time)."""
    sharing = workers_by_host.get(worker.address.split("://")[-1].rsplit(":", 1)[0], 1)
    pupembed.set_num_threads(max(1, (os.cpu_count() or 1) // sharing))


class ModelPlugin(WorkerPlugin):
    """The model loaded once per worker, from its file (never pickled), with the worker's share of
    its machine's cores: os.cpu_count() / the workers on that machine (each runs one task at a time)."""

    name = "pupembed-model"

    def __init__(self, model_path, workers_by_host):
        self.model_path = model_path
        self.workers_by_host = workers_by_host

    def setup(self, worker):
        _use_worker_share(worker, self.workers_by_host)
        worker.pupembed_model = pupembed.Model(self.model_path)

    def teardown(self, worker):
        worker.pupembed_model = None


def _embed_shard(job, shard):
    """A task: shard `shard` of `job`, on this worker's model."""
    from distributed import get_worker

    return get_worker().pupembed_model.embed_job_shard(job, shard)


def _workers_by_host(client):
    return dict(collections.Counter(info["host"] for info in client.scheduler_info()["workers"].values()))


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def embed(photos, job, client=None, model=None, shard_size=None, large_input=None, local=None, progress=True,
          retries=2):
    """Embeds `photos` (files and folders, searched as the command searches them) into the job folder
    `job` on a Dask cluster: `client` (a distributed.Client), else a LocalCluster of `local` worker
    processes (default: one per core) made for the run. Finished shards are skipped; photos the job
    lacks are added to it as new shards (finished ones never move). Returns a summary: shards,
    shards_embedded, shards_skipped, photos, photos_added, photos_embedded, photos_failed, workers, seconds
    (all of it), run_seconds (from the first task submitted to the last done) and photos_per_second
    (over run_seconds, as `pupembed embed` counts its images/s)."""
    from distributed import Client, LocalCluster, as_completed  # noqa: F811

    started = time.perf_counter()
    model_path = model or pupembed.default_model_path()
    paths = pupembed.image_paths([os.fsdecode(p) for p in ([photos] if isinstance(photos, (str, bytes, os.PathLike)) else photos)])
    info = pupembed.open_job(os.fsdecode(job), paths, model=model_path, shard_size=shard_size, large_input=large_input)
    for path in info["refused"]:
        print(f"skipped {path}: a tab or newline in its name", file=sys.stderr)
    shards = info["unfinished"]
    summary = {"job": os.fsdecode(job), "shards": info["shard_count"], "shards_skipped": info["shard_count"] - len(shards),
               "shards_embedded": 0, "photos": info["photos"], "photos_added": info["photos_added"], "photos_embedded": 0,
               "photos_failed": 0, "workers": 0}
    own_cluster = None
    if shards and client is None:  # a finished job needs no cluster
        own_cluster = LocalCluster(n_workers=local or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
        client = Client(own_cluster)
    try:
        if shards:
            summary["workers"] = len(client.scheduler_info()["workers"])
            client.register_worker_plugin(ModelPlugin(model_path, _workers_by_host(client)), name=ModelPlugin.name)
            futures = client.map(_embed_shard, [summary["job"]] * len(shards), shards, retries=retries, pure=False)
            run_started = time.perf_counter()
            done_photos = done_shards = 0
            line_end = "\r" if sys.stderr.isatty() else "\n"
            for future in as_completed(futures):
                report = future.result()
                summary["shards_embedded"] += 0 if report["skipped"] else 1
                summary["photos_embedded"] += report["embedded"]
                summary["photos_failed"] += report["failed"]
                done_photos += report["embedded"] + report["failed"]
                done_shards += 1
                if progress:
                    elapsed = time.perf_counter() - run_started
                    rate = done_photos / elapsed if elapsed > 0 else 0
                    eta = (len(shards) - done_shards) * info["shard_size"] / rate if rate > 0 else 0
                    print(f"shards {done_shards}/{len(shards)} ({summary['shards_skipped']} done before), "
                          f"{rate:.0f} photos/s, ETA {_duration(eta)}  ", end=line_end, file=sys.stderr, flush=True)
            if progress and line_end == "\r":
                print(file=sys.stderr)
            summary["run_seconds"] = time.perf_counter() - run_started
            # Every task has ended: what killed workers left half-written can go.
            pupembed.remove_job_temporaries(summary["job"])
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    summary["seconds"] = time.perf_counter() - started
    # Over the run of the tasks, as `pupembed embed` counts its images/s (not loading models,
    # starting a cluster or listing photos).
    summary.setdefault("run_seconds", 0.0)
    done = summary["photos_embedded"] + summary["photos_failed"]
    summary["photos_per_second"] = done / summary["run_seconds"] if summary["run_seconds"] > 0 else 0.0
    return summary


def _add_index_shard(gallery, shard, shards, workers_by_host):
    """A task: shard `shard` of the gallery's IVF-PQ plan, with this worker's share of its machine's cores."""
    from distributed import get_worker

    _use_worker_share(get_worker(), workers_by_host)
    return pupembed.add_index_shard(gallery, shard, shards)


def build_index(gallery, client=None, shards=None, lists=None, local=None, progress=True, retries=2):
    """Builds the IVF-PQ index of the gallery at `gallery` (a path) in shards on a Dask cluster, as
    `pupembed index build --shards N`, `--shard I/N` and `--merge` do: this process (where the gallery
    is) writes its vectors and trains the index (kept when a plan for the gallery as it is exists
    already), each unfinished shard is a task, and this process merges them into the gallery's index
    and records it. The gallery's folder must be reachable by every worker under the same path.
    `client`: a distributed.Client, else a LocalCluster of `local` worker processes (default: one per
    core). `shards`: default 4 a worker (so that a lost worker costs little and the last tasks end
    together), at most one per 10,000 photos. `lists`: k-means cells (default as `index build`).
    Returns a summary: photos, shards, shards_encoded, shards_skipped, photos_encoded, workers, plan
    (Gallery.plan_index_shards' report), merge (merge_index_shards'), seconds (all of it),
    run_seconds (from the first task submitted to the last done) and photos_per_second (the photos
    encoded over run_seconds)."""
    from distributed import Client, LocalCluster, as_completed  # noqa: F811

    started = time.perf_counter()
    path = os.fsdecode(gallery)
    g = pupembed.Gallery(path)
    own_cluster = None
    if client is None:
        own_cluster = LocalCluster(n_workers=local or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
        client = Client(own_cluster)
    try:
        workers = len(client.scheduler_info()["workers"])
        if shards is None:
            shards = max(1, min(4 * max(workers, 1), len(g) // 10000))
        plan = g.plan_index_shards(shards, lists)
        todo = pupembed.unfinished_index_shards(path)
        summary = {"gallery": path, "photos": plan["photos"], "shards": shards, "shards_encoded": 0,
                   "shards_skipped": shards - len(todo), "photos_encoded": 0, "workers": workers, "plan": plan}
        run_started = time.perf_counter()
        if todo:
            by_host = _workers_by_host(client)
            futures = client.map(_add_index_shard, [path] * len(todo), todo, [shards] * len(todo), [by_host] * len(todo),
                                 retries=retries, pure=False)
            line_end = "\r" if sys.stderr.isatty() else "\n"
            done_rows = 0
            for done, future in enumerate(as_completed(futures), 1):
                report = future.result()
                summary["shards_encoded"] += 0 if report["skipped"] else 1
                summary["photos_encoded"] += 0 if report["skipped"] else report["rows"]
                done_rows += report["rows"]
                if progress:
                    elapsed = time.perf_counter() - run_started
                    rate = done_rows / elapsed if elapsed > 0 else 0
                    print(f"index shards {done}/{len(todo)} ({summary['shards_skipped']} done before), {rate:.0f} photos/s  ",
                          end=line_end, file=sys.stderr, flush=True)
            if progress and line_end == "\r":
                print(file=sys.stderr)
        summary["run_seconds"] = time.perf_counter() - run_started
        summary["merge"] = g.merge_index_shards()
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    summary["seconds"] = time.perf_counter() - started
    # Over the run of the tasks, the photos of the shards encoded (not those skipped).
    summary["photos_per_second"] = summary["photos_encoded"] / summary["run_seconds"] if summary["run_seconds"] > 0 else 0.0
    return summary


def _main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m pupembed.distributed",
                                     description="Embed photos into a job folder on a Dask cluster, in shards; "
                                                 "a rerun skips finished shards. Then: pupembed index import JOB --db G. "
                                                 "`index` builds a gallery's IVF-PQ index in shards there.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("embed", help="embed photos into a job folder")
    run.add_argument("photos", nargs="+", metavar="PHOTOS", help="photo files and folders (searched recursively)")
    run.add_argument("-o", "--output", required=True, metavar="JOB", help="the job folder (made when absent)")
    run.add_argument("-m", "--model", help="model file (default: $PUPEMBED_MODEL, else the shipped default model)")
    run.add_argument("--shard-size", type=int, help="photos per shard of a new job (default 10000)")
    run.add_argument("--large-input", choices=["on", "off"],
                     help="on: large photos at the model's large input (default for a new job); off: every photo at its base input")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    index = commands.add_parser("index", help="build a gallery's IVF-PQ index in shards, on the cluster")
    index.add_argument("--db", required=True, metavar="GALLERY", help="the gallery (its folder reachable by every worker)")
    index.add_argument("--shards", type=int, help="shards of rows (default: 4 a worker, at most one per 10,000 photos)")
    index.add_argument("--lists", type=int, help="k-means cells (default: about 4 sqrt(photos), a power of two)")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    for command in (run, index):
        where = command.add_mutually_exclusive_group()
        where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786")
        where.add_argument("--scheduler-file", metavar="FILE", help="the file `dask scheduler --scheduler-file FILE` writes")
        where.add_argument("--local", type=int, metavar="N", help="a local cluster of N worker processes (default: one per core)")
    args = parser.parse_args(argv)
    if args.command == "embed" and args.shard_size is not None and args.shard_size < 1:
        parser.error("--shard-size must be at least 1")
    if args.command == "index" and args.shards is not None and args.shards < 1:
        parser.error("--shards must be at least 1")
    if args.local is not None and args.local < 1:
        parser.error("--local must be at least 1")
    client = None
    try:
        if args.scheduler or args.scheduler_file:
            from distributed import Client

            client = Client(args.scheduler) if args.scheduler else Client(scheduler_file=args.scheduler_file)
        if args.command == "index":
            summary = build_index(args.db, client=client, shards=args.shards, lists=args.lists, local=args.local)
        else:
            summary = embed(args.photos, args.output, client=client, model=args.model, shard_size=args.shard_size,
                            large_input=None if args.large_input is None else args.large_input == "on", local=args.local)
    except pupembed.Error as error:
        print(f"pupembed.distributed: error: {error}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    elif args.command == "index":
        merged = summary["merge"]
        print(f"{summary['gallery']}: ivfpq index of {summary['photos']} photos from {summary['shards']} shards "
              f"({summary['shards_encoded']} encoded, {summary['shards_skipped']} done before) on {summary['workers']} workers "
              f"in {_duration(summary['seconds'])}: {summary['photos_per_second']:.0f} photos/s encoded, "
              f"{merged['memory_bytes'] / 1e6:.1f} MB in memory; searches with index='auto' now use it")
    else:
        added = f", {summary['photos_added']} photos new to the job" if 0 < summary["photos_added"] < summary["photos"] else ""
        print(f"{summary['job']}: {summary['shards_embedded']} shards embedded, {summary['shards_skipped']} done before{added} "
              f"(of {summary['shards']}); {summary['photos_embedded']} photos, {summary['photos_failed']} failed "
              f"(see shard-*.failed.tsv), {summary['photos_per_second']:.0f} photos/s on {summary['workers']} workers "
              f"in {_duration(summary['seconds'])}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
