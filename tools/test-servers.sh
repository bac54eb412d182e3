#!/usr/bin/env bash
# Debian packages whose servers the workload tests start on 127.0.0.1 (the feature store's
# registry and online store): postgresql and redis-server. Installs only what is missing.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)

# The Pushgateway the drift monitor and trainer push to: the process tier (tests/process) runs
# it where the stack's Helm release would.
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)

# Prometheus itself: the rollout analysis' queries are evaluated by a real one against real
# model servers (tests/workloads/test_rollout_analysis.py).
command -v prometheus >/dev/null || missing+=(prometheus)

# Headless browser for the MLflow UI test (tests/workloads/test_registry_browser.py).
command -v chromium >/dev/null || missing+=(chromium)

if ((${#missing[@]} == 0)); then
  exit 0
fi
sudo=()
if [[ $EUID -ne 0 ]]; then
  sudo=(sudo)
fi
echo "installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
