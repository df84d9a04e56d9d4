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

start_docker() {
  if [ -d /run/systemd/system ]; then
    systemctl "$1" docker
  else
    if [ "$1" = restart ]; then
      pkill -x dockerd || true
      for _ in $(seq 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
    fi
    echo "starting dockerd (no systemd here), log in /var/log/dockerd.log"
    setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "Docker did not start; see /var/log/dockerd.log" >&2; exit 1; }
}
docker info >/dev/null 2>&1 || start_docker start

# The test networks are dual-stack (IPv6 ULA next to IPv4): the kernel must have
# IPv6, and the engine must create IPv6 networks (older engines only with
# "ipv6": true in daemon.json).
if [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo 1)" != 0 ]; then
  echo "enabling IPv6 in the kernel (net.ipv6.conf.all.disable_ipv6=0)"
  sysctl -q -w net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
fi
ipv6_network() {
  docker network rm selfhosted-dyndns-ipv6-probe >/dev/null 2>&1 || true
  docker network create --ipv6 --subnet fd53:ffff::/64 selfhosted-dyndns-ipv6-probe >/dev/null 2>&1 &&
    docker network rm selfhosted-dyndns-ipv6-probe >/dev/null
}
if ! ipv6_network; then
  echo "enabling IPv6 in the Docker engine (/etc/docker/daemon.json)"
  mkdir -p /etc/docker
  python3 - <<'PY'
import json, pathlib
path = pathlib.Path("/etc/docker/daemon.json")
config = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
config.update({"ipv6": True, "fixed-cidr-v6": config.get("fixed-cidr-v6", "fd00:d0c::/64")})
path.write_text(json.dumps(config, indent=2) + "\n")
PY
  start_docker restart
  ipv6_network || { echo "Docker cannot create IPv6 networks; see /var/log/dockerd.log" >&2; exit 1; }
fi

scripts/build-images.sh 12 13
