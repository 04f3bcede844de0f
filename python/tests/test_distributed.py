"""pupembed.distributed on a real Dask LocalCluster (2 worker processes on loopback) over a few
hundred real photos: the job equals `pupembed embed`, a rerun skips every shard, a bad photo is
listed, another model is refused, and a worker killed with SIGKILL in the middle of a run does not
stop the job: it completes with every photo exactly once and no temporary file left. A gallery's
IVF-PQ index built by Dask tasks in shards is the index one `pupembed index build` makes."""
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import pupembed

distributed = pytest.importorskip("distributed")
import pupembed.distributed  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("PUPEMBED_SHARED", ROOT.parent / "shared"))
VAL = SHARED / "data" / "stanford-dogs-64" / "val"
WEIGHTS = SHARED / "weights" / "squeezenet1.1-imagenet"
COMMAND = os.environ.get("PUPEMBED_BIN", str(ROOT / "build" / "pupembed"))
BREEDS = ["n02085620-Chihuahua", "n02085936-Maltese_dog", "n02088364-beagle", "n02099601-golden_retriever",
          "n02106662-German_shepherd", "n02110958-pug"]

pytestmark = pytest.mark.skipif(not VAL.is_dir(), reason=f"{VAL} is absent")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Up to 34 photos of each of 6 breeds (about 200), and one file that is no photo."""
    folder = tmp_path_factory.mktemp("photos")
    for breed in BREEDS:
        (folder / breed).mkdir()
        for path in sorted((VAL / breed).iterdir())[:34]:
            shutil.copy(path, folder / breed)
    (folder / BREEDS[0] / "zz-not-a-photo.jpg").write_bytes(b"not a jpeg")
    return folder


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


def photo_count(photos):
    """The photos of the fixture (less the file that is no photo)."""
    return sum(1 for p in photos.rglob("*.jpg")) - 1


def job_rows(job):
    """Every embedded photo's path and vector, shard by shard, and the failures."""
    paths, vectors, failed = [], [], []
    for table in sorted(job.glob("shard-*.tsv")):
        if table.name.endswith(".failed.tsv"):
            failed += [line.split("\t")[0] for line in table.read_text().splitlines()[1:]]
            continue
        paths += [line.split("\t")[0] for line in table.read_text().splitlines()[1:]]
        vectors.append(np.load(table.with_suffix(".npy")))
    return paths, np.concatenate(vectors), failed


def test_a_job_equals_embed_and_a_rerun_skips_it(photos, client, tmp_path):
    job = tmp_path / "job"
    summary = pupembed.distributed.embed([str(photos)], job, client=client, shard_size=50, progress=False)
    count = photo_count(photos)
    shards = (count + 1 + 49) // 50
    assert count > 150 and summary["shards"] == summary["shards_embedded"] == shards and summary["workers"] == 2
    assert summary["photos_embedded"] == count and summary["photos_failed"] == 1
    paths, vectors, failed = job_rows(job)
    assert failed == [str(photos / BREEDS[0] / "zz-not-a-photo.jpg")]
    subprocess.run([COMMAND, "embed", str(photos), "-o", str(tmp_path / "e.npy"), "--skip-bad"], check=True,
                   capture_output=True)
    expected = np.load(tmp_path / "e.npy")
    expected_paths = [line.split("\t")[0] for line in (tmp_path / "e.tsv").read_text().splitlines()
                      if line and not line.startswith("#")]
    assert paths == [str(pathlib.Path(p).resolve()) for p in expected_paths]
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    # A rerun skips every finished shard, without a cluster or a photo read.
    again = pupembed.distributed.embed([str(photos)], job, progress=False)
    assert again["shards_skipped"] == shards and again["photos_embedded"] == 0 and again["workers"] == 0
    # The shards load into a gallery as index add would fill it.
    gallery = pupembed.Gallery(str(tmp_path / "g.db"), create=True)
    imported = gallery.import_job(str(job))
    assert imported["rows"] == imported["added"] == len(gallery) == count
    # One more photo: a new shard after the last; the finished ones are not touched.
    finished = {p.name: p.stat().st_mtime_ns for p in job.glob("shard-*.npy")}
    shutil.copy(sorted((VAL / BREEDS[1]).iterdir())[40], photos / BREEDS[1] / "0-new.jpg")
    try:
        grown = pupembed.distributed.embed([str(photos)], job, client=client, shard_size=50, progress=False)
    finally:
        (photos / BREEDS[1] / "0-new.jpg").unlink()
    assert grown["photos_added"] == 1 and grown["shards"] == shards + 1 and grown["shards_embedded"] == 1
    assert {p.name: p.stat().st_mtime_ns for p in job.glob("shard-*.npy") if p.name in finished} == finished
    imported = gallery.import_job(str(job))
    assert imported["added"] == 1 and len(gallery) == count + 1
    # Another model is refused, saying so.
    if WEIGHTS.is_dir():
        other = tmp_path / "other.pt"
        subprocess.run([COMMAND, "import-imagenet", str(WEIGHTS), "-o", str(other)], check=True, capture_output=True)
        with pytest.raises(pupembed.Error, match="another model file"):
            pupembed.distributed.embed([str(photos)], job, client=client, model=str(other), progress=False)


def test_a_killed_worker_does_not_stop_the_job(photos, client, tmp_path):
    job = tmp_path / "job"
    outcome = {}

    def run():
        try:
            outcome["summary"] = pupembed.distributed.embed([str(photos)], job, client=client, shard_size=8, progress=False)
        except Exception as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    runner = threading.Thread(target=run)
    runner.start()
    # Once two shards are done, a worker dies the hardest way; the nanny starts another.
    for _ in range(6000):
        if len(list(job.glob("shard-*.npy"))) >= 2 or not runner.is_alive():
            break
        time.sleep(0.01)
    pids = client.run(os.getpid)
    done_at_kill = len(list(job.glob("shard-*.npy")))
    assert runner.is_alive(), "the run ended before a worker could be killed"
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    runner.join(timeout=600)
    assert "error" not in outcome, outcome.get("error")
    info = pupembed.job_info(str(job))
    count = photo_count(photos)
    assert info["unfinished"] == [] and info["shard_count"] == (count + 1 + 7) // 8 > done_at_kill
    paths, vectors, failed = job_rows(job)
    assert len(paths) == len(set(paths)) == vectors.shape[0] == count and len(failed) == 1
    assert not [p for p in job.iterdir() if ".tmp." in p.name]


def test_an_index_built_in_shards_on_dask_is_the_one_build_makes(client, tmp_path):
    db = tmp_path / "g.pupembed"
    gallery = pupembed.Gallery(str(db), create=True)
    gallery.add([str(VAL / breed) for breed in sorted(os.listdir(VAL))[:9]])  # about 320 real photos
    assert len(gallery) >= 300
    subprocess.run([COMMAND, "index", "build", "--db", str(db), "--index", "ivfpq", "--lists", "8"], check=True,
                   capture_output=True)
    index_file, vector_file = pathlib.Path(f"{db}.ivfpq"), pathlib.Path(f"{db}.vectors")
    single = index_file.read_bytes()
    index_file.unlink()
    vector_file.unlink()

    # A run stopped after one shard: the rerun keeps the plan and that shard.
    plan = gallery.plan_index_shards(3, lists=8)
    assert plan["shards"] == 3 and plan["lists"] == 8 and not plan["kept"]
    assert pupembed.add_index_shard(str(db), 1, 3)["rows"] == len(gallery) * 2 // 3 - len(gallery) // 3
    assert pupembed.unfinished_index_shards(str(db)) == [0, 2]
    summary = pupembed.distributed.build_index(str(db), client=client, shards=3, lists=8, progress=False)
    assert summary["plan"]["kept"] and summary["shards_skipped"] == 1 and summary["shards_encoded"] == 2
    assert summary["merge"]["photos"] == len(gallery) and summary["workers"] == 2
    assert index_file.read_bytes() == single
    assert not pathlib.Path(f"{db}.ivfpq-shards").exists()
    # The gallery searches with it (recorded as its choice), as a fresh process opens it.
    searched = pupembed.Gallery(str(db))
    assert searched.stats()["index"] == "ivfpq"
    D, I = searched.search([5], k=3)
    assert I.shape == (1, 3) and I[0, 0] != 5 and np.all(D[0] >= 0)
    with pytest.raises(pupembed.Error, match="has no index shards planned"):
        pupembed.add_index_shard(str(db), 0, 3)
