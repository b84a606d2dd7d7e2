// The cluster case's Docker-socket workload (ci/e2e/cluster.sh): what a CI agent or a log
// shipper does with a hostPath-mounted /var/run/docker.sock, reduced to one request. It lists
// the Docker Engine's containers through the socket (GET /containers/json, the API that
// `docker ps` calls) and prints one line per container, then sleeps until SIGTERM. Standard
// library only, built static (CGO_ENABLED=0).
//
//	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o dockerps dockerps.go
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

const socket = "/var/run/docker.sock"

type container struct {
	ID    string   `json:"Id"`
	Names []string `json:"Names"`
	State string   `json:"State"`
}

func list() ([]container, error) {
	client := http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := client.Get("http://docker/containers/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /containers/json: %s", resp.Status)
	}
	var cs []container
	return cs, json.NewDecoder(resp.Body).Decode(&cs)
}

func main() {
	cs, err := list()
	if err != nil {
		fmt.Printf("dockerps: %s: %v\n", socket, err)
		os.Exit(1)
	}
	fmt.Printf("dockerps: %d containers through %s\n", len(cs), socket)
	for _, c := range cs {
		fmt.Printf("dockerps: %.12s %s %v\n", c.ID, c.State, c.Names)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
