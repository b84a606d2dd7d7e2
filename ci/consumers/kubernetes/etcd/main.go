// Command etcd is the etcd server as its release builds it: the etcd repository's own main
// package is this one call (go.etcd.io/etcd/v3, main.go). It is here, in the wrapper module,
// so that etcd is built at the version k8s.io/kubernetes requires (and kubeadm pins: 3.6.8 for
// 1.36) with the same dependency versions as the control plane, sharing the Go build cache.
// The root etcd module cannot be built from the proxy: its go.mod replaces its own submodules
// with folders that its module zip does not carry.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
