#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying deploy/slurm/ and for the test
# sim-cli/tests/slurm.rs. Everything lives in one folder (default /tmp/licsim-slurm): the munge
# key and socket, slurm.conf, the daemons' state, logs and pid files. Nothing under /etc is
# touched; the clients find the cluster through SLURM_CONF.
#
#   deploy/slurm/local-cluster.sh start [DIR]   # starts munged, slurmctld, slurmd; prints the export line
#   deploy/slurm/local-cluster.sh stop [DIR]    # stops the three daemons (by their pid files)
#   deploy/slurm/local-cluster.sh env [DIR]     # prints: export SLURM_CONF=DIR/slurm.conf
#
# Needs root (slurmd launches jobs as their user) and Debian's packages:
#   apt-get install -y slurmctld slurmd slurm-client munge
# Environment: LICSIM_SLURM_PORT (default 6817; slurmd uses the next port), LICSIM_SLURM_CPUS
# (default: nproc).
set -euo pipefail

cmd=${1:-}
dir=${2:-${LICSIM_SLURM_DIR:-/tmp/licsim-slurm}}
port=${LICSIM_SLURM_PORT:-6817}
cpus=${LICSIM_SLURM_CPUS:-$(nproc)}
conf=$dir/slurm.conf

usage() {
    # The comment at the top of this file.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

# Stops the daemon whose pid is in file $1 (only that process), waiting up to 20 s.
stop_pid() {
    local f=$1 pid
    [[ -s $f ]] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 200); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$f: pid $pid did not stop after 20 s" >&2
            return 1
        fi
    fi
    rm -f "$f"
}

start() {
    local missing=()
    for b in munged mungekey slurmctld slurmd sinfo sbatch; do
        command -v "$b" >/dev/null || missing+=("$b")
    done
    if ((${#missing[@]})); then
        echo "not installed: ${missing[*]} (apt-get install -y slurmctld slurmd slurm-client munge)" >&2
        exit 2
    fi
    if [[ $(id -u) != 0 ]]; then
        echo "run as root: slurmd starts each job as the user who submitted it" >&2
        exit 2
    fi
    if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        echo "a cluster is already running from $dir (stop it first)" >&2
        exit 2
    fi
    mkdir -p "$dir"/{munge,state,spool,log}
    chmod 700 "$dir" "$dir/munge"

    # munge: a fresh key, a socket of our own.
    rm -f "$dir/munge/munge.key"
    mungekey --create --keyfile="$dir/munge/munge.key"
    chmod 600 "$dir/munge/munge.key"
    munged --force \
        --key-file="$dir/munge/munge.key" \
        --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed"

    cat >"$conf" <<CONF
# Written by deploy/slurm/local-cluster.sh: one node, localhost, for tests.
ClusterName=licsim-local
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$conf

    slurmctld -c -f "$conf"
    slurmd -N localhost -f "$conf"

    # Wait until the node takes jobs.
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -N -o %T 2>/dev/null | head -n1 || true)
        [[ $state == idle* || $state == mix* || $state == alloc* ]] && break
        sleep 1
    done
    if [[ $state != idle* && $state != mix* && $state != alloc* ]]; then
        echo "the node did not come up (state: ${state:-none}); logs in $dir/log" >&2
        exit 1
    fi
    echo "single-node Slurm cluster up (node localhost, $cpus CPUs, state $state); logs in $dir/log" >&2
    echo "export SLURM_CONF=$conf"
}

stop() {
    local rc=0
    stop_pid "$dir/slurmd.pid" || rc=1
    stop_pid "$dir/slurmctld.pid" || rc=1
    stop_pid "$dir/munge/munged.pid" || rc=1
    echo "stopped the cluster of $dir" >&2
    return $rc
}

case $cmd in
start) start ;;
stop) stop ;;
env) echo "export SLURM_CONF=$conf" ;;
*) usage ;;
esac
