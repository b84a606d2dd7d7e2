package main

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	runtimev1 "k8s.io/cri-api/pkg/apis/runtime/v1"
	runtimev1alpha2 "k8s.io/cri-api/pkg/apis/runtime/v1alpha2"
)

func TestLayoutsIdentical(t *testing.T) {
	n, err := checkLayouts()
	if err != nil {
		t.Fatal(err)
	}
	// 29 RPCs, each a request and a response, plus every nested message and enum reached.
	if n < 58 {
		t.Fatalf("compared only %d type pairs", n)
	}
	t.Logf("%d type pairs have identical layouts", n)
}

func TestLayoutCheckCatchesDifferences(t *testing.T) {
	type a struct {
		X int32 `protobuf:"varint,1,opt,name=x,proto3"`
		Y string
	}
	type b struct {
		X int32 `protobuf:"varint,2,opt,name=x,proto3"` // other field number
		Y string
	}
	type c struct {
		Y string
		X int32
	}
	for _, other := range []reflect.Type{reflect.TypeOf(b{}), reflect.TypeOf(c{})} {
		if err := sameLayout(reflect.TypeOf(a{}), other, map[[2]reflect.Type]bool{}); err == nil {
			t.Errorf("a vs %s: no difference found", other)
		}
	}
}

// populated returns a v1 request with nested messages, maps, slices and enums filled in.
func populated() *runtimev1.RunPodSandboxRequest {
	return &runtimev1.RunPodSandboxRequest{
		RuntimeHandler: "runc",
		Config: &runtimev1.PodSandboxConfig{
			Metadata:     &runtimev1.PodSandboxMetadata{Name: "p", Uid: "u", Namespace: "ns", Attempt: 3},
			Hostname:     "h",
			LogDirectory: "/var/log/pods/x",
			DnsConfig:    &runtimev1.DNSConfig{Servers: []string{"10.0.0.10"}, Searches: []string{"svc"}, Options: []string{"ndots:5"}},
			PortMappings: []*runtimev1.PortMapping{{Protocol: runtimev1.Protocol_UDP, ContainerPort: 53, HostPort: 5353, HostIp: "127.0.0.1"}},
			Labels:       map[string]string{"app": "x"},
			Annotations:  map[string]string{"a": "b"},
			Linux: &runtimev1.LinuxPodSandboxConfig{
				CgroupParent: "/kubepods",
				SecurityContext: &runtimev1.LinuxSandboxSecurityContext{
					NamespaceOptions: &runtimev1.NamespaceOption{Network: runtimev1.NamespaceMode_NODE, Pid: runtimev1.NamespaceMode_CONTAINER},
					RunAsUser:        &runtimev1.Int64Value{Value: 1000},
					Privileged:       true,
				},
				Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
			},
		},
	}
}

func TestRoundTripThroughBothPackages(t *testing.T) {
	v1 := populated()
	wire1, err := v1.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The same memory seen as v1alpha2 marshals to the same bytes...
	cast := (*runtimev1alpha2.RunPodSandboxRequest)(unsafe.Pointer(v1))
	wireA, err := cast.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wire1, wireA) {
		t.Fatalf("v1 and cast v1alpha2 encodings differ:\n%x\n%x", wire1, wireA)
	}
	// ...and the v1 bytes decoded by v1alpha2 equal the cast value.
	var decoded runtimev1alpha2.RunPodSandboxRequest
	if err := decoded.Unmarshal(wire1); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&decoded, cast) {
		t.Fatalf("decoded %v\nwant    %v", &decoded, cast)
	}
	if got := cast.Config.Linux.SecurityContext.NamespaceOptions.Network; got != runtimev1alpha2.NamespaceMode_NODE {
		t.Fatalf("enum through cast: %v", got)
	}
}

// fakeAlpha answers Version and ContainerStatus like dockershim would; other calls are not used.
type fakeAlpha struct {
	alpha
	gotStatusID string
}

func (f *fakeAlpha) Version(context.Context, *runtimev1alpha2.VersionRequest) (*runtimev1alpha2.VersionResponse, error) {
	return &runtimev1alpha2.VersionResponse{Version: "0.1.0", RuntimeName: "docker", RuntimeVersion: "20.10.24", RuntimeApiVersion: "1.41.0"}, nil
}

func (f *fakeAlpha) ContainerStatus(_ context.Context, r *runtimev1alpha2.ContainerStatusRequest) (*runtimev1alpha2.ContainerStatusResponse, error) {
	f.gotStatusID = r.ContainerId
	return &runtimev1alpha2.ContainerStatusResponse{Status: &runtimev1alpha2.ContainerStatus{
		Id: r.ContainerId, State: runtimev1alpha2.ContainerState_CONTAINER_RUNNING, ExitCode: 7,
		Image: &runtimev1alpha2.ImageSpec{Image: "busybox"}, Labels: map[string]string{"k": "v"},
	}}, nil
}

func TestAdapterForwards(t *testing.T) {
	f := &fakeAlpha{}
	a := &v1Adapter{s: f}
	v, err := a.Version(context.Background(), &runtimev1.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if v.RuntimeName != "docker" || v.RuntimeVersion != "20.10.24" || v.RuntimeApiVersion != "v1" {
		t.Fatalf("Version: %+v", v)
	}
	s, err := a.ContainerStatus(context.Background(), &runtimev1.ContainerStatusRequest{ContainerId: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if f.gotStatusID != "abc" || s.Status.Id != "abc" || s.Status.State != runtimev1.ContainerState_CONTAINER_RUNNING ||
		s.Status.ExitCode != 7 || s.Status.Image.Image != "busybox" || s.Status.Labels["k"] != "v" {
		t.Fatalf("ContainerStatus: %+v", s.Status)
	}
}

func TestUnknownFlagRejected(t *testing.T) {
	if _, err := parseFlags([]string{"--no-such-flag"}, io.Discard); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if _, err := parseFlags([]string{"--network-plugin=kubenet"}, io.Discard); err == nil {
		t.Fatal("--network-plugin=kubenet accepted")
	}
	o, err := parseFlags([]string{"--container-runtime-endpoint", "fd://", "--network-plugin=cni", "--v=3"}, io.Discard)
	if err != nil || o.endpoint != "fd://" || o.networkPlugin != "cni" || o.verbosity != 3 || o.cniBinDir != "/opt/cni/bin" {
		t.Fatalf("parse: %+v %v", o, err)
	}
}

func TestRuntimeConfigEncoding(t *testing.T) {
	for driver, want := range map[string]uint64{"systemd": cgroupDriverSystemd, "cgroupfs": cgroupDriverCgroupfs} {
		msg, err := runtimeConfigResponse(driver)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		// RuntimeConfigResponse: field 1 (linux), bytes.
		num, typ, n := protowire.ConsumeTag(b)
		if num != 1 || typ != protowire.BytesType || n < 0 {
			t.Fatalf("%s: outer tag %d/%d in %x", driver, num, typ, b)
		}
		inner, m := protowire.ConsumeBytes(b[n:])
		if m < 0 || n+m != len(b) {
			t.Fatalf("%s: bad outer length in %x", driver, b)
		}
		// LinuxRuntimeConfiguration: field 1 (cgroup_driver), varint, present even when 0.
		num, typ, n = protowire.ConsumeTag(inner)
		if num != 1 || typ != protowire.VarintType || n < 0 {
			t.Fatalf("%s: inner tag %d/%d in %x", driver, num, typ, inner)
		}
		v, m := protowire.ConsumeVarint(inner[n:])
		if m < 0 || n+m != len(inner) || v != want {
			t.Fatalf("%s: cgroup_driver %d, want %d (%x)", driver, v, want, b)
		}
	}
	if _, err := runtimeConfigResponse("weird"); err == nil {
		t.Fatal("unknown driver accepted")
	}
}
