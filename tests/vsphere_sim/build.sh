#!/usr/bin/env bash
# Build the vSphere API simulator (tests/vsphere_sim/bin/vcsim) from main.go,
# using Go in GOPATH mode against the Debian-packaged govmomi source.
# Skips the build when the binary is newer than main.go.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin/vcsim"
gopath="${VCSIM_GOPATH:-/usr/share/gocode}"

if [[ -x "$bin" && "$bin" -nt "$here/main.go" ]]; then
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' not found; install it: apt-get install -y golang-go golang-github-vmware-govmomi-dev" >&2
    exit 1
fi
if [[ ! -d "$gopath/src/github.com/vmware/govmomi/simulator" ]]; then
    echo "build.sh: govmomi source not found under $gopath/src/github.com/vmware/govmomi;" \
         "install it: apt-get install -y golang-github-vmware-govmomi-dev golang-go" >&2
    exit 1
fi

mkdir -p "$here/bin"
cd "$here"
# Write to a temporary name first so an interrupted build never leaves a
# binary that looks up to date.
GO111MODULE=off GOPATH="$gopath" GOFLAGS= go build -o "$bin.tmp" .
mv -f "$bin.tmp" "$bin"
