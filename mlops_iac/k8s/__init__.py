"""Pure builders for Kubernetes object fragments."""
