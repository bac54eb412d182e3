"""Developer tooling: a local control plane (kube-apiserver, etcd, controller-manager,
scheduler, kwok) for testing real deployments on a machine without Docker."""
