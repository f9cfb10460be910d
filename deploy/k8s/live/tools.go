//go:build tools

// The Kubernetes control plane the manifests are checked against (tests/live): built from the Go module proxy,
// with the staging modules k8s.io/kubernetes replaces locally taken at their published versions.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
