#!/usr/bin/env bash
# Build the Molecule base images from Debian's packages: debootstrap + docker import.
# No image registry is needed. An image that already exists is left alone.
# Usage: scripts/build-images.sh [12] [13]
set -euo pipefail

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,ca-certificates,procps

declare -A suite=([12]=bookworm [13]=trixie)

build() {
  local version=$1 image="selfhosted-dyndns/debian:$1" codename=${suite[$1]}
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "image $image is there"
    return
  fi
  local root
  root=$(mktemp -d /var/tmp/rootfs-"$codename".XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "building $image from $codename (debootstrap)"
  debootstrap --variant=minbase --include="$packages" "$codename" "$root" "$mirror" \
    >"$root.log" 2>&1 || { tail -n 30 "$root.log"; exit 1; }
  rm -f "$root.log"
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $codename main
deb $mirror $codename-updates main
deb http://deb.debian.org/debian-security $codename-security main
SOURCES
  # Containers start without a machine id or units that need real hardware.
  : >"$root/etc/machine-id"
  rm -f "$root"/etc/systemd/system/*.wants/getty@*.service
  chroot "$root" apt-get clean
  tar -C "$root" -c . | docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    - "$image" >/dev/null
  echo "built $image"
}

for version in "${@:-12 13}"; do
  build $version
done
