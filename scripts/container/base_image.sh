#!/usr/bin/env bash
# A Debian base image for the serving image, made from Debian's package archive with
# debootstrap and loaded with `docker import`: no container image registry needed.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/container/base_image.sh [--tag IMAGE] [--suite SUITE] [--mirror URL] [--rebuild]

Makes the local image IMAGE (default aezoo-base:bookworm): Debian SUITE (default bookworm),
debootstrap variant minbase plus python3, python3-venv and ca-certificates, without apt
lists, docs and man pages. Does nothing when the Docker daemon already has IMAGE.

The root filesystem tarball is cached in $AEZOO_CONTAINER_CACHE (default
~/.cache/aezoo/container): a new daemon re-imports it in seconds instead of running
debootstrap again (about 1.5 min). --rebuild ignores both caches.

Needs root (debootstrap), debootstrap (Debian package `debootstrap`), the Debian mirror
(default http://deb.debian.org/debian; the Release file is checked against
debian-archive-keyring) and a running Docker daemon. DOCKER names the docker client
(default: docker).
EOF
}

tag=aezoo-base:bookworm
suite=bookworm
mirror=http://deb.debian.org/debian
rebuild=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "base_image.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

docker=${DOCKER:-docker}
packages=python3,python3-venv,ca-certificates
cache=${AEZOO_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aezoo/container}
tarball=$cache/debian-$suite-minbase-python3.tar

if [ "$rebuild" = 0 ] && "$docker" image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag: present"
  exit 0
fi

if [ "$rebuild" = 1 ] || [ ! -s "$tarball" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "base_image.sh: debootstrap needs root (uid is $(id -u))" >&2
    exit 1
  fi
  command -v debootstrap >/dev/null || {
    echo "base_image.sh: debootstrap not found (apt-get install debootstrap)" >&2
    exit 1
  }
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "debootstrap $suite (minbase + $packages) from $mirror ..."
  start=$SECONDS
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    echo "base_image.sh: debootstrap failed (log above)" >&2
    exit 1
  fi
  # What an image never needs: package caches and lists, docs, man and info pages.
  rm -rf "$work"/rootfs/var/cache/apt/*.bin "$work"/rootfs/var/cache/apt/archives/*.deb \
    "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/usr/share/doc/* \
    "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/info/*
  tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  echo "debootstrap done in $((SECONDS - start)) s: $tarball ($(du -h "$tarball" | cut -f1))"
fi

# An imported image has no environment at all: PATH and the locale are set here.
"$docker" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase --include=$packages $suite $mirror" \
  "$tarball" "$tag" >/dev/null
echo "base image $tag: imported from $tarball"
