#!/usr/bin/env bash
# Stop the cluster tests/slurm/start_slurm.sh started: cancel its jobs, then stop only the
# daemons recorded in STATE_DIR/started/ (each pid checked against the daemon's name first).
#
#   tests/slurm/stop_slurm.sh [STATE_DIR] [--purge]    (--purge also deletes STATE_DIR)
set -uo pipefail
STATE=${SAUTI_SLURM_DIR:-/tmp/sauti-slurm}
PURGE=0
for arg in "$@"; do
  if [ "$arg" = "--purge" ]; then PURGE=1; else STATE=$arg; fi
done
STATE=$(realpath -m "$STATE")
[ -f "$STATE/slurm.conf" ] || { echo "stop_slurm: no cluster in $STATE"; exit 0; }
export SLURM_CONF="$STATE/slurm.conf"

if [ -s "$STATE/started/slurmctld.pid" ] && scontrol ping >/dev/null 2>&1; then
  scancel --quiet --state=PENDING,RUNNING 2>/dev/null || true
fi
for daemon in slurmd slurmctld munged; do # clients first, munge last (slurm needs it to stop)
  pidfile="$STATE/started/$daemon.pid"
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$daemon" ]; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"
      echo "stop_slurm: $daemon ($pid) did not stop in 10 s, killed"
    else
      echo "stop_slurm: $daemon ($pid) stopped"
    fi
  fi
  rm -f "$pidfile"
done
if [ "$PURGE" = 1 ]; then
  rm -rf "$STATE"
  echo "stop_slurm: removed $STATE"
fi
exit 0
