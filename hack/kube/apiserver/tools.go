//go:build tools

// Package tools pins kube-apiserver so the test harness can build it from Go
// modules: k8s.io/kubernetes cannot be `go install`ed because of its replace lines.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
