package main

// RPCs that are not in k8s.io/cri-api v0.23.17 reach grpc's unknown-service handler. One of them is
// answered here: RuntimeService/RuntimeConfig (CRI v1, added after 0.23), which current kubelets
// ask for the cgroup driver (1.36 still falls back to its own config when it is Unimplemented, and
// then reports 1.37.0 in its cri_losing_support metric). Everything else answers Unimplemented, as
// gRPC would, and each such method name is logged once, so a test can see what a newer kubelet
// asked for.

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"k8s.io/klog/v2"
)

const runtimeConfigMethod = "/runtime.v1.RuntimeService/RuntimeConfig"

// The CgroupDriver enum of CRI v1 (api.proto of cri-api 0.31 and later): SYSTEMD = 0, CGROUPFS = 1.
const (
	cgroupDriverSystemd  = 0
	cgroupDriverCgroupfs = 1
)

// runtimeConfigResponse returns the wire encoding of CRI v1's
//
//	message RuntimeConfigResponse { LinuxRuntimeConfiguration linux = 1; }
//	message LinuxRuntimeConfiguration { CgroupDriver cgroup_driver = 1; }
//
// as a wrapperspb.BytesValue ({bytes value = 1;}), whose encoding is the same bytes: field 1,
// length-delimited, holding the inner message. The inner message always carries its field, even
// for SYSTEMD (0), so the client sees linux set (kubelet ignores an absent linux).
func runtimeConfigResponse(cgroupDriver string) (*wrapperspb.BytesValue, error) {
	var d uint64
	switch cgroupDriver {
	case "systemd":
		d = cgroupDriverSystemd
	case "cgroupfs":
		d = cgroupDriverCgroupfs
	default:
		return nil, fmt.Errorf("docker reports cgroup driver %q, which CRI cannot express", cgroupDriver)
	}
	linux := protowire.AppendTag(nil, 1, protowire.VarintType)
	linux = protowire.AppendVarint(linux, d)
	return &wrapperspb.BytesValue{Value: linux}, nil
}

// unknownHandler answers RuntimeConfig with Docker's cgroup driver and everything else with
// Unimplemented.
func unknownHandler(cgroupDriver string) grpc.StreamHandler {
	var logged sync.Map
	return func(_ interface{}, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		if method == runtimeConfigMethod {
			// RuntimeConfigRequest has no fields; read it as Empty.
			if err := stream.RecvMsg(&emptypb.Empty{}); err != nil {
				return err
			}
			resp, err := runtimeConfigResponse(cgroupDriver)
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			return stream.SendMsg(resp)
		}
		if _, seen := logged.LoadOrStore(method, true); !seen {
			klog.InfoS("Unimplemented CRI method called (not in cri-api v0.23.17); answering Unimplemented", "method", method)
		}
		return status.Errorf(codes.Unimplemented, "method %s not implemented by the dockershim stand-in (CRI of Kubernetes 1.23)", method)
	}
}
