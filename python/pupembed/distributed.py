"""Embed a photo collection across a Dask cluster, in shards, resumably.

    python3 -m pupembed.distributed embed PHOTOS... -o JOB [--shard-size 10000] [--model M]
        [--scheduler ADDRESS | --scheduler-file FILE | --local N] [--large-input on|off] [--json]

    import pupembed.distributed
    summary = pupembed.distributed.embed(["photos/"], "job", client=client)   # a dask.distributed Client
    pupembed.Gallery("dogs.db", create=True).import_job("job")

The job folder is the one `pupembed embed --shard I/N` writes (see `pupembed embed --help`): each
shard is a Dask task that embeds its photos and writes its .tsv and .npy whole or not at all, so a
rerun skips finished shards and a task whose worker died runs again elsewhere. Dask schedules; this
module only makes the job, submits the unfinished shards and follows them. Each worker loads the
model once (a worker plugin: the model is read from its file on the worker, never pickled) and
runs one shard at a time with cores / workers-on-its-machine threads. The photos and the job folder
must be on storage every worker reaches under the same paths. `pupembed index import JOB --db G`
(or Gallery.import_job) then loads the shards into a gallery.
"""
import argparse
import collections
import json
import os
import sys
import time

import pupembed


from distributed import WorkerPlugin  # noqa: E402 (Debian's python3-distributed)


class ModelPlugin(WorkerPlugin):
    """The model loaded once per worker, from its file (never pickled), with the worker's share of
    its machine's cores: os.cpu_count() / the workers on that machine (each runs one task at a time)."""

    name = "pupembed-model"

    def __init__(self, model_path, workers_by_host):
        self.model_path = model_path
        self.workers_by_host = workers_by_host

    def setup(self, worker):
        sharing = self.workers_by_host.get(worker.address.split("://")[-1].rsplit(":", 1)[0], 1)
        pupembed.set_num_threads(max(1, (os.cpu_count() or 1) // sharing))
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


def _main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m pupembed.distributed",
                                     description="Embed photos into a job folder on a Dask cluster, in shards; "
                                                 "a rerun skips finished shards. Then: pupembed index import JOB --db G.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("embed", help="embed photos into a job folder")
    run.add_argument("photos", nargs="+", metavar="PHOTOS", help="photo files and folders (searched recursively)")
    run.add_argument("-o", "--output", required=True, metavar="JOB", help="the job folder (made when absent)")
    run.add_argument("-m", "--model", help="model file (default: $PUPEMBED_MODEL, else the shipped default model)")
    run.add_argument("--shard-size", type=int, help="photos per shard of a new job (default 10000)")
    run.add_argument("--large-input", choices=["on", "off"],
                     help="on: large photos at the model's large input (default for a new job); off: every photo at its base input")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786")
    where.add_argument("--scheduler-file", metavar="FILE", help="the file `dask scheduler --scheduler-file FILE` writes")
    where.add_argument("--local", type=int, metavar="N", help="a local cluster of N worker processes (default: one per core)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.shard_size is not None and args.shard_size < 1:
        parser.error("--shard-size must be at least 1")
    if args.local is not None and args.local < 1:
        parser.error("--local must be at least 1")
    client = None
    try:
        if args.scheduler or args.scheduler_file:
            from distributed import Client

            client = Client(args.scheduler) if args.scheduler else Client(scheduler_file=args.scheduler_file)
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
    else:
        added = f", {summary['photos_added']} photos new to the job" if 0 < summary["photos_added"] < summary["photos"] else ""
        print(f"{summary['job']}: {summary['shards_embedded']} shards embedded, {summary['shards_skipped']} done before{added} "
              f"(of {summary['shards']}); {summary['photos_embedded']} photos, {summary['photos_failed']} failed "
              f"(see shard-*.failed.tsv), {summary['photos_per_second']:.0f} photos/s on {summary['workers']} workers "
              f"in {_duration(summary['seconds'])}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
