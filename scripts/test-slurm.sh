#!/usr/bin/env bash
# Runs examples/slurm/embed-array.sbatch and index-array.sbatch on a real Slurm (Debian's slurm-wlm 22.05 and munge): a
# one-node cluster whose daemons (munged, slurmctld, slurmd) run from a temporary folder on
# loopback ports of their own, started here and stopped by their process ids at the end. Then:
#   1. a 4-task array embeds 120 val photos (shards of 10); every shard done, the import gives
#      every photo once;
#   2. the same array again: every task skips all its shards;
#   3. a new job of every val photo (shards of 100): task 2 is cancelled once it has finished a
#      shard, the array ends with shards missing, task 2 alone is submitted again (--array=2
#      with PARTS=4), and the job is
#      complete: every photo once, no temporary file;
#   4. examples/slurm/index-array.sbatch on the gallery of that job: the IVF-PQ index planned in 4
#      shards, encoded by a 4-task array, merged: the same index file as one `index build`.
# Run by hand as root (not in CI): scripts/test-slurm.sh. Needs build/pupembed (scripts/setup.sh)
# and installs slurm-wlm and munge from apt when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${PUPEMBED_SHARED:-$PWD/../shared}"
val="$shared/data/stanford-dogs-64/val"
pupembed="$PWD/build/pupembed"
[[ $EUID -eq 0 ]] || { echo "test-slurm.sh: run as root (slurmd runs jobs as their users)" >&2; exit 1; }
[[ -x "$pupembed" ]] || { echo "test-slurm.sh: no $pupembed; run scripts/setup.sh first" >&2; exit 1; }
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null
fi

work="$(mktemp -d /tmp/pupembed-slurm.XXXXXX)"
chmod 755 "$work"
pids=()
stop_daemons() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null || true
  done
  if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap stop_daemons EXIT

# munge: a key of our own, its socket in the folder.
mkdir -m 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --foreground --force --key-file="$work/munge/munge.key" --socket="$work/munge/socket" \
  --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/seed" > "$work/munge/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S "$work/munge/socket" ]] && break; sleep 0.1; done
[[ -S "$work/munge/socket" ]] || { cat "$work/munge/munged.log"; exit 1; }

# Slurm: one node (this machine, as 127.0.0.1), one partition, ports of our own.
node="$(hostname -s)"
cpus="$(nproc)"
memory="$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)"
mkdir -p "$work/state" "$work/spool" "$work/out"
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=pupembed-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i -f "$SLURM_CONF" > "$work/slurmctld.stdout" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > "$work/slurmd.stdout" 2>&1 &
pids+=($!)
for _ in $(seq 150); do
  sinfo -h -o %T 2> /dev/null | grep -qx idle && break
  sleep 0.2
done
sinfo -h -o %T | grep -qx idle || { tail -20 "$work/slurmctld.log" "$work/slurmd.log"; exit 1; }
echo "slurm: $(sinfo -h -o '%P %D node(s) %c CPUs %T') (munged ${pids[0]}, slurmctld ${pids[1]}, slurmd ${pids[2]})"

# 120 photos of 12 breeds.
photos="$work/photos"
for breed in $(ls "$val" | sort | sed -n 1,12p); do
  mkdir -p "$photos/$breed"
  find "$val/$breed" -type f | sort | sed -n 1,10p | xargs -I{} cp {} "$photos/$breed/"
done
count="$(find "$photos" -type f | wc -l)"

# submit ARRAY JOB PHOTOS SHARD_SIZE [--wait]: submits the example's array for job folder JOB and
# prints its id; with --wait, once it has ended. Each task gets one CPU (tasks run side by side).
submit() {
  sbatch --parsable ${5:-} --array="$1" --cpus-per-task=1 --output="$work/out/%A_%a.out" \
    --export=ALL,PHOTOS="$3",JOB="$2",PUPEMBED="$pupembed",SHARD_SIZE="$4",PARTS=4 examples/slurm/embed-array.sbatch || true
}
shards_done() { find "$1" -maxdepth 1 -name 'shard-*.npy' | wc -l; }
shard_count() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["shard_count"])' "$1/manifest.json"; }
imported_rows() {  # rows of an import of job $1 into a fresh gallery; fails on a repeated photo
  rm -f "$work/check.db"
  "$pupembed" index import "$1" --db "$work/check.db" --json |
    python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["rows"] == r["size"] == r["added"], r; print(r["rows"])'
}
fail() { echo "FAIL: $*" >&2; tail -n 5 "$work"/out/*.out >&2 || true; exit 1; }

# 1. The whole job as a 4-task array.
start=$SECONDS
array="$(submit 0-3 "$work/job" "$photos" 10 --wait)"
echo "1. array $array: $(shards_done "$work/job") of 12 shards done in $((SECONDS - start)) s; the tasks said:"
for task in 0 1 2 3; do echo "   task $task: $(grep -m1 'shards to embed' "$work/out/${array}_$task.out")"; done
[[ "$(shards_done "$work/job")" -eq 12 ]] || fail "the array left shards undone"
rows="$(imported_rows "$work/job")"
[[ "$rows" -eq "$count" ]] || fail "the import has $rows photos, not $count"
echo "   import: $rows photos, each once"

# 2. The same array again: nothing to do.
start=$SECONDS
array="$(submit 0-3 "$work/job" "$photos" 10 --wait)"
for task in 0 1 2 3; do
  grep -q "^part $task/4 done: 0 shards embedded, 3 were done already" "$work/out/${array}_$task.out" ||
    fail "task $task of the rerun did not skip its shards: $(cat "$work/out/${array}_$task.out")"
done
echo "2. rerun, array $array: every task skipped its 3 shards ($((SECONDS - start)) s with Slurm's scheduling)"

# 3. A new job of every val photo; task 2 cancelled once it has finished a shard (2, its first).
count="$(find "$val" -type f | wc -l)"
array="$(submit 0-3 "$work/job3" "$val" 100)"
for _ in $(seq 1200); do
  [[ -f "$work/job3/shard-00002.npy" ]] && break
  sleep 0.05
done
[[ "$(squeue -h -j "${array}_2" -o %T)" == RUNNING ]] || fail "task 2 is not running after its first shard"
scancel "${array}_2"
while squeue -h -j "$array" 2> /dev/null | grep -q .; do sleep 0.2; done
total="$(shard_count "$work/job3")"
missing=$((total - $(shards_done "$work/job3")))
echo "3. array $array, $count photos in $total shards; task 2 cancelled after its first shard: $missing shards missing"
[[ $missing -gt 0 ]] || fail "task 2 finished before it was cancelled"
array="$(submit 2 "$work/job3" "$val" 100 --wait)"
echo "   task 2 again (array $array): $(grep -m1 'done:' "$work/out/${array}_2.out")"
[[ "$(shards_done "$work/job3")" -eq "$total" ]] || fail "the job is not complete"
temporaries="$(find "$work/job3" -name '*.tmp.*' | wc -l)"
[[ "$temporaries" -eq 0 ]] || fail "$temporaries temporary files left"
rows="$(imported_rows "$work/job3")"
failed="$(cat "$work"/job3/shard-*.failed.tsv | grep -vc '^#' || true)"
[[ $((rows + failed)) -eq "$count" ]] || fail "the import has $rows photos and $failed failed, not $count"
echo "   complete: $total shards, $rows photos each once ($failed unreadable), no temporary file"

# 4. That gallery's IVF-PQ index in 4 shards, by an array, against one process.
db="$work/check.db"
"$pupembed" index build --db "$db" --index ivfpq --json > /dev/null
mv "$db.ivfpq" "$work/one-process.ivfpq"
rm "$db.vectors"
"$pupembed" index build --db "$db" --shards 4 > /dev/null
start=$SECONDS
array="$(sbatch --parsable --wait --array=0-3 --cpus-per-task=1 --output="$work/out/%A_%a.out" \
  --export=ALL,DB="$db",PUPEMBED="$pupembed" examples/slurm/index-array.sbatch || true)"
for task in 0 1 2 3; do echo "   task $task: $(grep -m1 '^shard' "$work/out/${array}_$task.out")"; done
"$pupembed" index build --db "$db" --merge > /dev/null || fail "the merge of the array's shards failed"
cmp -s "$db.ivfpq" "$work/one-process.ivfpq" || fail "the index merged from the array's shards is not the one-process index"
echo "4. index array $array: 4 shards encoded in $((SECONDS - start)) s and merged into the index one process builds"
echo "test-slurm.sh: passed"
