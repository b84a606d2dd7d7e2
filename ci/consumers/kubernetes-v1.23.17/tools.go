//go:build tools

// Package tools only records, for `go mod tidy`, which programs this wrapper module builds.
// The build tag keeps it out of every real build (these are main packages, not importable).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"

	// Release builds generate pkg/generated/openapi/zz_generated.openapi.go with it; the 1.23
	// module zip does not carry that file (build.sh: build_kubernetes_123).
	_ "k8s.io/kube-openapi/cmd/openapi-gen"
)
