#!/usr/bin/env bash
# Start a real one-node SLURM cluster on loopback, for sauti's tests (tests/test_slurm.py).
#
#   tests/slurm/start_slurm.sh [STATE_DIR]        (default /tmp/sauti-slurm)
#   SAUTI_SLURMCTLD_PORT / SAUTI_SLURMD_PORT       (default 6817 / 6818)
#
# Everything lives in STATE_DIR: slurm.conf, munge key and socket, spool, logs, pid files.
# Nothing under /etc is written, so a machine's own SLURM/munge set-up is left alone:
# clients find this cluster through SLURM_CONF=STATE_DIR/slurm.conf and PATH=STATE_DIR/bin:$PATH
# (the script prints both; see the srun note below),
# and slurm.conf points slurm at this cluster's own munge socket (AuthInfo).
# Daemons this script starts are recorded in STATE_DIR/started/, which is what
# stop_slurm.sh stops. Needs root and Debian/Ubuntu (apt-get); installs slurm-wlm's
# slurmctld, slurmd, slurm-client and munge when they are missing (about 12 s).
# Idempotent: a cluster that is already up is reused. Exit status 3: packages not installable.
#
# Partitions: `debug` (the default, CPU jobs) and `gpu`, both on the one node, which carries one
# GPU as a SLURM generic resource (GRES). There is no GPU: gres.conf points at a fake device file
# (STATE_DIR/dev/nvidia0, a copy of /dev/null), which is all slurmd 22.05 needs to count, allocate
# and hand out the GPU (CUDA_VISIBLE_DEVICES=0 in the job), so GPU requests (--gpus/--gres) are
# scheduled as on a real GPU node; the job itself then finds no CUDA and must cope (device auto).
set -euo pipefail

STATE=$(realpath -m "${1:-${SAUTI_SLURM_DIR:-/tmp/sauti-slurm}}")
PARTITION=debug
# Ports: two clusters (e.g. two test sessions) can run side by side on different ports.
CTLD_PORT=${SAUTI_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SAUTI_SLURMD_PORT:-6818}
T0=$SECONDS
say() { echo "start_slurm [$((SECONDS - T0)) s]: $*"; }
die() { echo "start_slurm: $*" >&2; exit 1; }
retry() { # retry SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds
  local tries=$(($1 * 5)); shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
running() { # running NAME: the pid recorded in started/NAME.pid is alive and is NAME
  local pidfile="$STATE/started/$1.pid"
  [ -s "$pidfile" ] && [ "$(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null)" = "$1" ]
}

[ "$(id -u)" = 0 ] || die "needs root (it installs Debian packages and runs slurmd)"

# -- packages -------------------------------------------------------------------------------
installed() {
  for tool in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged; do [ -x "$tool" ] || return 1; done
  command -v sbatch >/dev/null && command -v srun >/dev/null && command -v munge >/dev/null
}
if ! installed; then
  command -v apt-get >/dev/null || die "slurm and munge are missing and there is no apt-get to install them"
  need=" slurmctld slurmd slurm-client munge"
  say "installing$need"
  export DEBIAN_FRONTEND=noninteractive
  # no update when the package lists already know slurm (saves ~10 s on a warm machine)
  apt-cache show slurmd >/dev/null 2>&1 || apt-get update -qq || true
  # exit 3 = "this machine cannot have the packages" (the test then skips, saying so)
  apt-get install -y -qq --no-install-recommends $need >"$STATE.apt.log" 2>&1 || {
    echo "start_slurm: apt-get could not install$need (see $STATE.apt.log)" >&2; exit 3; }
  rm -f "$STATE.apt.log"
fi

mkdir -p "$STATE"/{started,log,spool,ctld,munge,dev}
chmod 755 "$STATE" # munged runs as user munge and must reach its folder
chown munge:munge "$STATE/munge"
chmod 755 "$STATE/munge"  # clients must reach the socket; the key itself is 0400

# -- munge: our own key, socket and daemon ----------------------------------------------------
SOCKET="$STATE/munge/munge.socket"
if [ ! -s "$STATE/munge/munge.key" ]; then
  dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge/munge.key" status=none
  chown munge:munge "$STATE/munge/munge.key"
  chmod 400 "$STATE/munge/munge.key"
fi
if ! running munged; then
  rm -f "$SOCKET" "$SOCKET.lock"
  runuser -u munge -- /usr/sbin/munged --key-file="$STATE/munge/munge.key" --socket="$SOCKET" \
    --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" \
    --seed-file="$STATE/munge/munged.seed" --num-threads=2
  retry 10 test -S "$SOCKET" || die "munged did not start (see $STATE/munge/munged.log)"
  cp "$STATE/munge/munged.pid" "$STATE/started/munged.pid"
  say "munged started"
fi
munge --socket="$SOCKET" -n | unmunge --socket="$SOCKET" >/dev/null || die "munge self-test failed"

# -- slurm.conf -------------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
# RealMemory must not exceed what slurmd finds, or the node is marked invalid
MEMORY=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
CONF="$STATE/slurm.conf"
# the fake GPU: a character device like /dev/null (major 1, minor 3) under the GPU's usual name
FAKE_GPU="$STATE/dev/nvidia0"
[ -c "$FAKE_GPU" ] || mknod "$FAKE_GPU" c 1 3 || die "cannot create the fake GPU device $FAKE_GPU (mknod)"
# slurmd reads gres.conf next to slurm.conf; AutoDetect=off: no NVML probing for real GPUs
cat >"$STATE/gres.conf.new" <<EOF
# written by sauti tests/slurm/start_slurm.sh: one fake GPU (see the header of the script)
AutoDetect=off
NodeName=$HOST Name=gpu File=$FAKE_GPU
EOF
cat >"$CONF.new" <<EOF
# written by sauti tests/slurm/start_slurm.sh
ClusterName=sauti
GresTypes=gpu
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# no accounting daemon: finished jobs must stay visible to squeue, which is what the
# executor's status checks (slurm-status-command: squeue) read
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
EOF
if cmp -s "$CONF.new" "$CONF" && cmp -s "$STATE/gres.conf.new" "$STATE/gres.conf"; then
  rm "$CONF.new" "$STATE/gres.conf.new"
else
  mv "$STATE/gres.conf.new" "$STATE/gres.conf"
  mv "$CONF.new" "$CONF"
  for daemon in slurmd slurmctld; do # a changed config needs fresh daemons
    if running "$daemon"; then
      kill "$(cat "$STATE/started/$daemon.pid")"
      retry 15 bash -c "! kill -0 $(cat "$STATE/started/$daemon.pid")" || true
    fi
  done
fi
export SLURM_CONF="$CONF"
# snakemake-executor-plugin-slurm-jobstep removes SLURM_* variables, SLURM_CONF included,
# before its srun inside the job; with the config outside /etc that srun would find no
# cluster. Clients that put STATE_DIR/bin first on PATH get an srun that restores it.
mkdir -p "$STATE/bin"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$CONF" "$(command -v srun)" >"$STATE/bin/srun"
chmod 755 "$STATE/bin/srun"

# -- daemons ----------------------------------------------------------------------------------
if ! running slurmctld; then
  /usr/sbin/slurmctld -f "$CONF"
  retry 30 test -s "$STATE/slurmctld.pid" || die "slurmctld did not start (see $STATE/log/slurmctld.log)"
  cp "$STATE/slurmctld.pid" "$STATE/started/slurmctld.pid"
  say "slurmctld started"
fi
retry 30 scontrol ping || die "slurmctld does not answer (see $STATE/log/slurmctld.log)"
if ! running slurmd; then
  /usr/sbin/slurmd -f "$CONF"
  retry 30 test -s "$STATE/slurmd.pid" || die "slurmd did not start (see $STATE/log/slurmd.log)"
  cp "$STATE/slurmd.pid" "$STATE/started/slurmd.pid"
  say "slurmd started"
fi
node_up() { sinfo -h -n "$HOST" -o %T | grep -qE '^(idle|mixed|allocated|completing)'; }
if ! retry 20 node_up; then
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  retry 10 node_up || die "node $HOST is not up: $(sinfo -h -o '%T %E') (see $STATE/log/slurmd.log)"
fi
say "cluster up ($(sinfo -h -o '%P %D node, %c CPUs, %G, %T' | paste -sd ';' -))"
echo "SLURM_CONF=$CONF PATH=$STATE/bin:\$PATH"
