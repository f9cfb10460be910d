//go:build tools

// The Kubernetes API server the manifests are checked against (deploy/k8s/live/run.sh): built from the Go module
// proxy, with the staging modules k8s.io/kubernetes replaces locally taken at their published versions.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
