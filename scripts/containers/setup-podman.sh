#!/usr/bin/env bash
# Makes rootful podman usable on this kind of host: runc (crun fails on hybrid cgroups here),
# cgroupfs, and rlimits no higher than the host allows. Installs the tools when missing. Idempotent.
set -euo pipefail

need=()
# catatonit is the pause process of `podman kube play` pods; podman only recommends it.
for tool in podman runc catatonit debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
command -v unzip >/dev/null || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" uidmap >/dev/null
fi

conf=/etc/containers/containers.conf
mkdir -p /etc/containers
if ! grep -q '^runtime *= *"runc"' "$conf" 2>/dev/null; then
  cat >>"$conf" <<'CONF'

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi
