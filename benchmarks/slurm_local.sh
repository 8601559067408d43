#!/usr/bin/env bash
# Start a real single-node SLURM on this Debian machine, run a small power grid through
# `snakemake --executor slurm`, run the same grid locally, and compare every output
# byte for byte. Run as root from the repository root:
#
#   bash benchmarks/slurm_local.sh
#
# Installs slurm-wlm and munge (apt) and the SLURM executor plugin (pip, the
# `cluster` extra) when missing; writes /etc/slurm/slurm.conf only if there is none
# (an existing cluster's config is left alone); starts munged, slurmctld and slurmd on
# localhost and stops the daemons it started on exit. Everything else happens in a
# temporary directory. Exit status 0 only if SLURM ran every job and all outputs match.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/power-slurm.XXXXXX)
HOST=$(hostname -s)
STARTED=()
CONF_WRITTEN=0

cleanup() {
    # Stop only the daemons this script started, and wait (at most 30 s) until they exit.
    for pid in "${STARTED[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ $CONF_WRITTEN == 1 ]]; then
        rm -f /etc/slurm/slurm.conf
    fi
}
trap cleanup EXIT

log() { printf '[slurm_local] %s\n' "$*"; }

# --- packages --------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi
if ! python -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    log "installing the SLURM executor plugin (extra 'cluster')"
    pip install -q "${REPO}[cluster]" || pip install -q snakemake-executor-plugin-slurm
fi

# --- munge -----------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --foreground &
    STARTED+=($!)
    for _ in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.2
    done
fi

# --- slurm.conf: this machine's cores and memory, one partition --------------------------
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
if [[ ! -e /etc/slurm/slurm.conf ]]; then
    CONF_WRITTEN=1
    cat >/etc/slurm/slurm.conf <<EOF
ClusterName=localcluster
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=local Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote /etc/slurm/slurm.conf (${CPUS} CPUs, ${MEM_MB} MB)"
fi

if ! scontrol ping 2>/dev/null | grep -q UP; then
    log "starting slurmctld and slurmd"
    /usr/sbin/slurmctld -D -i &
    STARTED+=($!)
    /usr/sbin/slurmd -D &
    STARTED+=($!)
fi
for _ in $(seq 1 60); do
    state=$(sinfo -h -n "${HOST}" -o %t 2>/dev/null || true)
    [[ $state == idle* || $state == mix* ]] && break
    sleep 1
done
sinfo
srun -N1 -n1 true # the cluster runs a job

# --- the same small grid, on SLURM and locally ---------------------------------------------
cat >"${WORK}/grid.yaml" <<'EOF'
power:
  generating_values: simulator
  n_therapists: [12, 24]
  patients_per_therapist: [4]
  max_sessions: [6]
  replicates: 8
  batch_size: 4
  seed: 7
EOF
for run in slurm local; do
    mkdir -p "${WORK}/${run}"
    git -C "${REPO}" ls-files -z --cached --others --exclude-standard | (cd "${REPO}" && xargs -0 cp --parents -t "${WORK}/${run}")
done
export PYTHONPATH="${REPO}/src${PYTHONPATH:+:${PYTHONPATH}}"
start=$(date +%s)
(cd "${WORK}/slurm" && snakemake power --executor slurm --workflow-profile workflow/profiles/slurm \
    --configfile config/config.yaml "${WORK}/grid.yaml" --jobs 8 \
    --slurm-no-account >"${WORK}/slurm_run.log" 2>&1) || {
    tail -40 "${WORK}/slurm_run.log"
    exit 1
}
log "SLURM run: $(($(date +%s) - start)) s"
submitted=$(grep -cE "has been submitted with SLURM jobid [0-9]+" "${WORK}/slurm_run.log" || true)
log "jobs submitted to SLURM: ${submitted}"
start=$(date +%s)
(cd "${WORK}/local" && snakemake power --cores all --configfile config/config.yaml "${WORK}/grid.yaml" -q)
log "local run: $(($(date +%s) - start)) s"

# --- compare ------------------------------------------------------------------------------
status=0
n=0
while IFS= read -r -d '' f; do
    rel=${f#"${WORK}/local/"}
    n=$((n + 1))
    if ! cmp -s "$f" "${WORK}/slurm/${rel}"; then
        log "DIFFERS: ${rel}"
        status=1
    fi
done < <(find "${WORK}/local/results/power" -type f -print0 | sort -z)
if [[ $submitted -lt 1 ]]; then
    log "no job went through SLURM"
    status=1
fi
if [[ $status == 0 ]]; then
    log "byte-identical: ${n} files under results/power (SLURM vs local)"
fi
log "work directory: ${WORK}"
exit $status
