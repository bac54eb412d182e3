#!/usr/bin/env bash
# Build the local control-plane binaries (Pulumi CLI, kube-apiserver,
# kube-controller-manager, etcd, kwok) from the pinned Go modules next to this
# script, into a per-user cache keyed by those pins:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mlops-iac/controlplane/<hash>/bin/
#
# Usage: tools/controlplane/build.sh [GROUP...]
#   GROUP is one of: pulumi kubernetes etcd kwok (default: all of them).
# kubernetes builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
# A binary already in the cache is not built again. Progress goes to stderr;
# the last line on stdout is the bin dir. With MLOPS_IAC_BUILD_DRY_RUN=1 nothing is
# built: a missing binary is exit code 3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
all_groups=(pulumi kubernetes etcd kwok)
if [[ $# -gt 0 ]]; then groups=("$@"); else groups=("${all_groups[@]}"); fi

log() { printf '[controlplane] %s\n' "$*" >&2; }

# Pinned version of a module, read from a group's go.mod (single source of truth).
modver() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# Prints "NAME<TAB>IMPORT_PATH<TAB>LDFLAGS" lines for one group.
recipe() {
  local v ld k
  case "$1" in
    pulumi)
      v="$(modver pulumi github.com/pulumi/pulumi/pkg/v3)"
      printf 'pulumi\tgithub.com/pulumi/pulumi/pkg/v3/cmd/pulumi\t-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=%s\n' "$v"
      ;;
    kubernetes)
      v="$(modver kubernetes k8s.io/kubernetes)"          # e.g. v1.37.2
      local minor="${v#v1.}"; minor="${minor%%.*}"
      ld=""
      for k in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        ld+=" -X $k.gitVersion=$v -X $k.gitMajor=1 -X $k.gitMinor=$minor -X $k.gitTreeState=clean"
      done
      printf 'kube-apiserver\tk8s.io/kubernetes/cmd/kube-apiserver\t%s\n' "${ld# }"
      printf 'kube-controller-manager\tk8s.io/kubernetes/cmd/kube-controller-manager\t%s\n' "${ld# }"
      printf 'kube-scheduler\tk8s.io/kubernetes/cmd/kube-scheduler\t%s\n' "${ld# }"
      printf 'kubectl\tk8s.io/kubernetes/cmd/kubectl\t%s\n' "${ld# }"
      ;;
    etcd)
      # package main of the etcd server lives at the root of go.etcd.io/etcd/server/v3
      printf 'etcd\tgo.etcd.io/etcd/server/v3\t\n'
      ;;
    kwok)
      # sigs.k8s.io/kwok/pkg/consts.Version already holds the release number.
      printf 'kwok\tsigs.k8s.io/kwok/cmd/kwok\t\n'
      ;;
    *) log "unknown group: $1 (known: ${all_groups[*]})"; return 2 ;;
  esac
}

command -v go >/dev/null || { log "go not found on PATH"; exit 1; }

# Cache key: every group's go.mod/go.sum (all groups, so the dir is stable
# whatever subset is built) plus the build recipe (names, import paths, ldflags).
key="$(
  cd "$here"
  for g in "${all_groups[@]}"; do
    printf '== %s\n' "$g"; cat "$g/go.mod" "$g/go.sum"; recipe "$g"
  done | sha256sum | cut -c1-16
)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mlops-iac/controlplane/$key"
bin="$cache/bin"
mkdir -p "$bin"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -buildvcs=false"
for g in "${groups[@]}"; do
  rec="$(recipe "$g")"
  while IFS=$'\t' read -r name pkg ldflags; do
    if [[ -x "$bin/$name" ]]; then
      log "$name: cached"
      continue
    fi
    if [[ -n "${MLOPS_IAC_BUILD_DRY_RUN:-}" ]]; then
      log "$name: not built yet (MLOPS_IAC_BUILD_DRY_RUN is set); run $0"
      exit 3
    fi
    log "$name: building $pkg (group $g) ..."
    tmp="$(mktemp "$bin/.$name.XXXXXX")"
    start=$SECONDS
    if ! (cd "$here/$g" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg"); then
      rm -f "$tmp"
      log "$name: build FAILED"
      exit 1
    fi
    chmod 0755 "$tmp"
    mv -f "$tmp" "$bin/$name"
    log "$name: built in $((SECONDS - start)) s ($(du -h "$bin/$name" | cut -f1))"
  done <<<"$rec"
done

# kwok ships its simulation stages as YAML inside its module; take those of the pinned
# version (fast node initialisation, heartbeats, pods ready, Job pods complete, deletion).
if [[ " ${groups[*]} " == *" kwok "* && ! -s "$bin/kwok-stages.yaml" ]]; then
  kwok_dir="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat \
      pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n'; cat "$kwok_dir/kustomize/stage/$stage.yaml"
  done >"$bin/kwok-stages.yaml.tmp"
  mv "$bin/kwok-stages.yaml.tmp" "$bin/kwok-stages.yaml"
  log "kwok-stages.yaml: written from $kwok_dir"
fi

echo "$bin"
