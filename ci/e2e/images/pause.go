// The e2e VMs' pause image: the init process of a pod sandbox. It holds the pod's namespaces
// open, reaps orphaned children, and exits on SIGTERM or SIGINT, with nothing but Go's standard
// library, built static (CGO_ENABLED=0) so the image needs no other file.
//
//	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o pause pause.go
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		os.Stderr.WriteString("pause: warning: not running as PID 1\n")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every exited child (orphans are re-parented to PID 1 in the pod).
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
