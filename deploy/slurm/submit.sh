#!/usr/bin/env bash
# Submits a sharded licsim sweep to Slurm: an array of SHARDS tasks (one shard each), then the
# merge, which starts only once every task has succeeded (--dependency=afterok).
#
#   deploy/slurm/submit.sh SCENARIO OUT [licsim run options...]
#
#   SHARDS=8                 shards (array tasks 0..SHARDS-1)
#   PARTS=OUT.parts          where the parts (and the jobs' Slurm output) go
#   CPUS_PER_TASK=1          CPUs (and licsim threads) per shard
#   LICSIM=licsim            the binary (sbatch passes the environment on to the jobs)
#   SBATCH_ARGS=""           more sbatch options for both jobs (--partition=..., --time=...)
#
# Run it from the folder the scenario path is relative to: the jobs run in the submission
# folder, and the merge reads the scenario again from the path recorded in the parts. PARTS
# and OUT must be on a file system every node sees. Prints the two job ids; the reports are in
# OUT when the merge job has ended (`squeue -j ID` is empty, `scontrol show job ID` says
# COMPLETED, or FAILED with exit code 1 when the plan failed its expectations).
set -euo pipefail

if (($# < 2)); then
    # The comment at the top of this file.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
fi
scenario=$1
out=$2
shift 2
shards=${SHARDS:-8}
parts=${PARTS:-$out.parts}
cpus=${CPUS_PER_TASK:-1}
here=$(cd "$(dirname "$0")" && pwd)
read -r -a extra <<<"${SBATCH_ARGS:-}"

if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
    echo "SHARDS=$shards: expected a positive number" >&2
    exit 2
fi
if [[ -e $parts ]] && compgen -G "$parts/part-*" >/dev/null; then
    echo "$parts already holds parts: remove them or choose another PARTS" >&2
    exit 2
fi
# Slurm does not create the folder of a job's output file.
mkdir -p "$parts"

array=$(sbatch --parsable "${extra[@]}" \
    --array="0-$((shards - 1))" \
    --cpus-per-task="$cpus" \
    --output="$parts/slurm-%A_%a.out" \
    "$here/shard.sbatch" "$scenario" "$parts" "$@")
array=${array%%;*}

merge=$(sbatch --parsable "${extra[@]}" \
    --dependency="afterok:$array" \
    --kill-on-invalid-dep=yes \
    --output="$parts/slurm-merge-%j.out" \
    --error="$parts/slurm-merge-%j.err" \
    "$here/merge.sbatch" "$parts" "$out")
merge=${merge%%;*}

echo "shards: job $array (array 0-$((shards - 1)), parts in $parts)" >&2
echo "merge:  job $merge (after every shard succeeded; reports in $out)" >&2
echo "$array $merge"
