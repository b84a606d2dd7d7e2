// Command etcd is the etcd 3.5 server as its release builds it: the etcd repository's own main
// package at v3.5.x is this one call (go.etcd.io/etcd/v3, main.go). It is here, in the wrapper
// module of k8s.io/kubernetes v1.23.17, so that etcd is built at the go.etcd.io/etcd/server/v3
// version that release requires, with the same dependency versions as its control plane.
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
