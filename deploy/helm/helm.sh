#!/usr/bin/env bash
# helm for rendering and linting the chart offline: built from the Go module proxy (the one place this
# machine can get it from) into .cache/helm/<version>, then run with its state kept beside it.
# Usage: deploy/helm/helm.sh [helm arguments...]    e.g. deploy/helm/helm.sh lint deploy/helm/conveyor
# Building takes about 2 minutes on a new machine (modules and compile), seconds with Go's caches warm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=${CONVEYOR_HELM_VERSION:-v3.22.0}
prefix=$root/.cache/helm/$version
bin=$prefix/bin/helm
if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null; then
    echo "helm.sh: building helm $version needs Go (go install from the Go module proxy); install Go 1.24+" >&2
    exit 1
  fi
  echo "helm.sh: building helm $version into $prefix/bin (once)" >&2
  # The ldflags helm's own Makefile sets: without them `helm version` says "v3.22" and `helm template` and
  # `helm lint` assume Kubernetes 1.20. The Kubernetes minor is that of the client-go helm builds with.
  gomod=$(go mod download -json "helm.sh/helm/v3@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  k8s_minor=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2] }' "$gomod")
  ldflags="-X helm.sh/helm/v3/internal/version.version=$version"
  for pkg in lint/rules chartutil; do
    ldflags+=" -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMinor=$k8s_minor"
  done
  GOBIN=$prefix/bin go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version"
fi
# Repositories, plugins and caches live beside the binary, not in the user's home.
export HELM_CACHE_HOME=$prefix/home/cache HELM_CONFIG_HOME=$prefix/home/config HELM_DATA_HOME=$prefix/home/data
exec "$bin" "$@"
