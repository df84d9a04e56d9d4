#!/usr/bin/env bash
# Make a fresh Debian machine ready for `make demo` and `make test`:
# Debian packages, a running Docker engine, the Molecule base images.
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# knotd and its tools for the app's integration tests, which start their own
# knotd on loopback; the packaged service itself is not wanted on this machine.
command -v knotd >/dev/null || need+=(knot)
command -v knsupdate >/dev/null || need+=(knot-dnsutils)
if ((${#need[@]})); then
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  if [[ " ${need[*]} " == *" knot "* && -d /run/systemd/system ]]; then
    systemctl disable --now knot
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "starting dockerd (no systemd here), log in /var/log/dockerd.log"
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "Docker did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

scripts/build-images.sh 12 13
