#!/usr/bin/env bash
# Build the control-plane tier's binaries from pinned Go sources, each group into its own
# cache folder keyed by that group's pins, and link them all into one bin folder:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mlops-iac/controlplane/<group>-<hash>/   one per group
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mlops-iac/controlplane/<hash>/bin/       all of them
#
# Usage: tools/controlplane/build.sh [GROUP...]   (default: every group)
#   pulumi               the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3)
#   language-python      its Python language host + pulumi-language-python-exec, from
#                        ../shared/vendor/pulumi-language-python-<tag> (not served by the proxy)
#   kubernetes-provider  pulumi-resource-kubernetes (./pulumi-kubernetes: our main package,
#                        whose embedded schema `go run ./gen` writes in a build copy)
#   random-provider      pulumi-resource-random, from ../shared/vendor/pulumi-random-provider
#   kubernetes           kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   etcd, kwok
#   seaweedfs            weed, the object store the process tier (tests/process) runs
#   actionlint           the GitHub Actions workflow checker (tests of the shipped workflows)
#   pulumi-yaml          pulumi-language-yaml, the YAML language host (the multi-language tier)
#   argo-rollouts        the Argo Rollouts controller (rollouts-controller; endpoints' rollouts)
#   rollouts-gatewayapi  its Gateway API traffic-router plugin (gatewayapi-plugin), from
#                        ../shared/vendor/rollouts-plugin-trafficrouter-gatewayapi-<tag>
# A group already in the cache is not built again (a change to its go.mod, go.sum, sources or
# recipe makes a new key). Progress goes to stderr; the last line on stdout is the bin folder.
# With MLOPS_IAC_BUILD_DRY_RUN=1 nothing is built: a missing binary is exit code 3.
# MLOPS_IAC_VENDOR overrides where the vendored sources are (default: ../shared/vendor
# beside the checkout).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vendor="${MLOPS_IAC_VENDOR:-$(cd "$here/../../.." && pwd)/shared/vendor}"
all_groups=(pulumi language-python kubernetes-provider random-provider kubernetes etcd kwok seaweedfs actionlint pulumi-yaml argo-rollouts rollouts-gatewayapi)
if [[ $# -gt 0 ]]; then groups=("$@"); else groups=("${all_groups[@]}"); fi

# The plugin versions the Python SDKs ask for (their pulumi-plugin.json); the engine must
# find exactly these, so the binaries report them.
KUBERNETES_PLUGIN_VERSION=4.34.2
RANDOM_PLUGIN_VERSION=4.21.4
LANGUAGE_PYTHON_TAG=v3.259.0
ROLLOUTS_GATEWAYAPI_TAG=v0.15.0

log() { printf '[controlplane] %s\n' "$*" >&2; }

# The folder a group builds from.
source_dir() {
  case "$1" in
    language-python) echo "$vendor/pulumi-language-python-$LANGUAGE_PYTHON_TAG" ;;
    random-provider) echo "$vendor/pulumi-random-provider" ;;
    kubernetes-provider) echo "$here/pulumi-kubernetes" ;;
    rollouts-gatewayapi) echo "$vendor/rollouts-plugin-trafficrouter-gatewayapi-$ROLLOUTS_GATEWAYAPI_TAG" ;;
    *) echo "$here/$1" ;;
  esac
}

# Pinned version of a module, read from a group's go.mod (single source of truth).
modver() { (cd "$(source_dir "$1")" && GOTOOLCHAIN="$(toolchain "$1")" go list -m -f '{{.Version}}' "$2"); }

# Prints "NAME<TAB>PACKAGE<TAB>LDFLAGS" lines for one group; PACKAGE is relative to the
# group's (build copy of its) source folder or an import path.
recipe() {
  local v ld k
  case "$1" in
    pulumi)
      v="$(modver pulumi github.com/pulumi/pulumi/pkg/v3)"
      printf 'pulumi\tgithub.com/pulumi/pulumi/pkg/v3/cmd/pulumi\t-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=%s\n' "$v"
      ;;
    language-python)
      printf 'pulumi-language-python\t.\t-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=%s\n' "$LANGUAGE_PYTHON_TAG"
      ;;
    kubernetes-provider)
      printf 'pulumi-resource-kubernetes\t.\t-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=%s\n' "$KUBERNETES_PLUGIN_VERSION"
      ;;
    random-provider)
      printf 'pulumi-resource-random\t./cmd/pulumi-resource-random\t-X github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version=%s\n' "$RANDOM_PLUGIN_VERSION"
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
    seaweedfs)
      printf 'weed\tgithub.com/seaweedfs/seaweedfs/weed\t\n'
      ;;
    pulumi-yaml)
      v="$(modver pulumi-yaml github.com/pulumi/pulumi-yaml)"
      printf 'pulumi-language-yaml\tgithub.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml\t-X github.com/pulumi/pulumi-yaml/pkg/version.Version=%s\n' "${v#v}"
      ;;
    argo-rollouts)
      v="$(modver argo-rollouts github.com/argoproj/argo-rollouts)"
      printf 'rollouts-controller\tgithub.com/argoproj/argo-rollouts/cmd/rollouts-controller\t-X github.com/argoproj/argo-rollouts/utils/version.version=%s\n' "${v#v}"
      ;;
    rollouts-gatewayapi)
      printf 'gatewayapi-plugin\t.\t\n'
      ;;
    actionlint)
      # It reports the module version from its build info.
      printf 'actionlint\tgithub.com/rhysd/actionlint/cmd/actionlint\t\n'
      ;;
    *) log "unknown group: $1 (known: ${all_groups[*]})"; return 2 ;;
  esac
}

# Generated files a group needs before `go build`, written into its build copy.
prepare() {
  case "$1" in
    kubernetes-provider) VERSION="$KUBERNETES_PLUGIN_VERSION" go run ./gen ;;
    random-provider) (cd cmd/pulumi-resource-random && VERSION="$RANDOM_PLUGIN_VERSION" go run ./generate.go) ;;
  esac
}

# The Go toolchain a group needs when the machine's is older than its go.mod's `go` line: the
# go command fetches it from the module proxy (golang.org/toolchain) once.
toolchain() {
  case "$1" in
    argo-rollouts) echo go1.26.10 ;;
    *) echo local ;;
  esac
}

# Files shipped beside a group's binaries (the Python host runs its exec script from there).
extras() {
  case "$1" in
    language-python) echo "pulumi-language-python-exec" ;;
  esac
}

# A group's cache key: every file of its source folder (Go sources, go.mod, go.sum, the
# vendored SOURCE) plus its recipe and this script's build settings.
group_key() {
  local dir
  dir="$(source_dir "$1")"
  {
    (cd "$dir" && find . -type f ! -name '*_test.go' ! -path './testdata/*' ! -path './test-programs/*' \
      -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    recipe "$1"
    printf 'flags: CGO_ENABLED=0 -trimpath -s -w; go: %s\n' "$(GOTOOLCHAIN="$(toolchain "$1")" go env GOVERSION)"
  } | sha256sum | cut -c1-16
}

command -v go >/dev/null || { log "go not found on PATH"; exit 1; }

root="${XDG_CACHE_HOME:-$HOME/.cache}/mlops-iac/controlplane"
mkdir -p "$root"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -buildvcs=false"

build_group() {
  local g="$1" out="$2" dir rec name pkg ldflags work tmp start
  dir="$(source_dir "$g")"
  [[ -f "$dir/go.mod" ]] || { log "$g: no go.mod in $dir"; return 1; }
  rec="$(recipe "$g")"
  work="$dir"
  if [[ "$g" == language-python || "$g" == *-provider ]]; then
    # Vendored folders are read-only and generators write beside their sources: build a copy.
    work="$out/.src"
    rm -rf "$work"
    cp -R "$dir" "$work"
    chmod -R u+w "$work"
    (cd "$work" && prepare "$g")
  fi
  while IFS=$'\t' read -r name pkg ldflags; do
    log "$name: building $pkg (group $g) ..."
    tmp="$(mktemp "$out/.$name.XXXXXX")"
    start=$SECONDS
    if ! (cd "$work" && GOTOOLCHAIN="$(toolchain "$g")" go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg"); then
      rm -f "$tmp"
      log "$name: build FAILED"
      return 1
    fi
    chmod 0755 "$tmp"
    mv -f "$tmp" "$out/$name"
    log "$name: built in $((SECONDS - start)) s ($(du -h "$out/$name" | cut -f1))"
    printf '%s %s\n' "$name" "$((SECONDS - start))" >>"$out/build-seconds-$g"
  done <<<"$rec"
  for name in $(extras "$g"); do
    install -m 0755 "$dir/$name" "$out/$name"
  done
  if [[ "$g" == kwok ]]; then
    # kwok ships its simulation stages as YAML inside its module; take those of the pinned
    # version (fast node initialisation, heartbeats, pods ready, Job pods complete, deletion).
    local kwok_dir stage
    kwok_dir="$(cd "$dir" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
    for stage in node/fast/node-initialize node/heartbeat/node-heartbeat \
        pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
      printf -- '---\n'; cat "$kwok_dir/kustomize/stage/$stage.yaml"
    done >"$out/kwok-stages.yaml"
  fi
  if [[ "$g" == argo-rollouts ]]; then
    # The controller's CRDs (Rollout, AnalysisTemplate, ...) as its module ships them.
    local rollouts_dir crd
    rollouts_dir="$(cd "$dir" && GOTOOLCHAIN="$(toolchain "$g")" go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)"
    for crd in rollout analysis-template cluster-analysis-template analysis-run experiment; do
      printf -- '---\n'; cat "$rollouts_dir/manifests/crds/$crd-crd.yaml"
    done >"$out/argo-rollouts-crds.yaml"
  fi
  [[ "$work" == "$dir" ]] || rm -rf "$work"
  touch "$out/.complete"
}

declare -A group_dir=()
for g in "${all_groups[@]}"; do
  group_dir[$g]="$root/$g-$(group_key "$g")"
done

for g in "${groups[@]}"; do
  [[ -n "${group_dir[$g]:-}" ]] || { log "unknown group: $g (known: ${all_groups[*]})"; exit 2; }
  out="${group_dir[$g]}"
  if [[ -f "$out/.complete" ]]; then
    log "$g: cached in $out"
    continue
  fi
  if [[ -n "${MLOPS_IAC_BUILD_DRY_RUN:-}" ]]; then
    log "$g: not built yet (MLOPS_IAC_BUILD_DRY_RUN is set); run $0"
    exit 3
  fi
  mkdir -p "$out"
  start=$SECONDS
  build_group "$g" "$out"
  log "$g: group built in $((SECONDS - start)) s"
done

# One folder with every built group's files, hard-linked: the CLI finds the language host
# as a bundled plugin beside its own (resolved) path, and the host finds its exec script
# beside its own, so symlinks would not do.
# <key>/bin, so that <key> is the root the Automation API's PulumiCommand(root=...) expects.
bin="$root/$(for g in "${all_groups[@]}"; do echo "${group_dir[$g]}"; done | sha256sum | cut -c1-16)/bin"
mkdir -p "$bin"
for g in "${all_groups[@]}"; do
  out="${group_dir[$g]}"
  [[ -f "$out/.complete" ]] || continue
  for file in "$out"/*; do
    [[ -e "$bin/$(basename "$file")" ]] || ln "$file" "$bin/" 2>/dev/null || cp -p "$file" "$bin/"
  done
done
printf 'kubernetes %s\nrandom %s\n' "$KUBERNETES_PLUGIN_VERSION" "$RANDOM_PLUGIN_VERSION" \
  >"$bin/plugin-versions"

echo "$bin"
