package main

// The CRI v1 adapter: every v1 RPC is forwarded to dockershim's v1alpha2 implementation, with the
// request and the response converted by a pointer cast.
//
// Why the cast is sound: in k8s.io/cri-api v0.23.17, runtime/v1/api.proto and
// runtime/v1alpha2/api.proto differ only in their package name (and comments), and api.pb.go of
// each is generated from them by the same generator, so every message type in v1 has a twin in
// v1alpha2 with the same fields, in the same order, of the same (twin) types, with the same
// protobuf tags. Two Go struct types with identical layouts can be reinterpreted through
// unsafe.Pointer; Kubernetes 1.23 itself converted between these two packages this way
// (pkg/kubelet/cri/remote/conversion.go, (*v1.X)(unsafe.Pointer(from))).
//
// It is not taken on trust: checkLayouts (run at start-up, before serving, and by the tests)
// walks every method of the v1 RuntimeService and ImageService interfaces, finds the v1alpha2
// method of the same name, and compares the request and response types field by field,
// recursively: names, offsets, sizes, kinds and struct tags (which carry the protobuf field
// numbers and wire types). A difference stops the program before it serves anything.

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	runtimev1 "k8s.io/cri-api/pkg/apis/runtime/v1"
	runtimev1alpha2 "k8s.io/cri-api/pkg/apis/runtime/v1alpha2"
)

// alpha is what dockershim's DockerService implements.
type alpha interface {
	runtimev1alpha2.RuntimeServiceServer
	runtimev1alpha2.ImageServiceServer
}

type v1Adapter struct {
	s alpha
}

var (
	_ runtimev1.RuntimeServiceServer = (*v1Adapter)(nil)
	_ runtimev1.ImageServiceServer   = (*v1Adapter)(nil)
)

// forward calls f with req reinterpreted as its v1alpha2 twin and returns the response
// reinterpreted as its v1 twin. Only the type pairs of the interfaces below are used, and
// checkLayouts verifies all of them.
func forward[RespV1, ReqV1, ReqA, RespA any](ctx context.Context, req *ReqV1,
	f func(context.Context, *ReqA) (*RespA, error)) (*RespV1, error) {
	resp, err := f(ctx, (*ReqA)(unsafe.Pointer(req)))
	return (*RespV1)(unsafe.Pointer(resp)), err
}

// Version is the one call whose answer is changed: dockershim reported Docker's Engine API
// version (e.g. "1.41.0") as RuntimeApiVersion; on the v1 service this says "v1", the CRI
// version actually spoken, as CRI v1 runtimes (cri-dockerd, containerd, CRI-O) do.
func (a *v1Adapter) Version(ctx context.Context, r *runtimev1.VersionRequest) (*runtimev1.VersionResponse, error) {
	resp, err := forward[runtimev1.VersionResponse](ctx, r, a.s.Version)
	if err != nil {
		return nil, err
	}
	out := *resp
	out.RuntimeApiVersion = "v1"
	return &out, nil
}

func (a *v1Adapter) RunPodSandbox(ctx context.Context, r *runtimev1.RunPodSandboxRequest) (*runtimev1.RunPodSandboxResponse, error) {
	return forward[runtimev1.RunPodSandboxResponse](ctx, r, a.s.RunPodSandbox)
}

func (a *v1Adapter) StopPodSandbox(ctx context.Context, r *runtimev1.StopPodSandboxRequest) (*runtimev1.StopPodSandboxResponse, error) {
	return forward[runtimev1.StopPodSandboxResponse](ctx, r, a.s.StopPodSandbox)
}

func (a *v1Adapter) RemovePodSandbox(ctx context.Context, r *runtimev1.RemovePodSandboxRequest) (*runtimev1.RemovePodSandboxResponse, error) {
	return forward[runtimev1.RemovePodSandboxResponse](ctx, r, a.s.RemovePodSandbox)
}

func (a *v1Adapter) PodSandboxStatus(ctx context.Context, r *runtimev1.PodSandboxStatusRequest) (*runtimev1.PodSandboxStatusResponse, error) {
	return forward[runtimev1.PodSandboxStatusResponse](ctx, r, a.s.PodSandboxStatus)
}

func (a *v1Adapter) ListPodSandbox(ctx context.Context, r *runtimev1.ListPodSandboxRequest) (*runtimev1.ListPodSandboxResponse, error) {
	return forward[runtimev1.ListPodSandboxResponse](ctx, r, a.s.ListPodSandbox)
}

func (a *v1Adapter) CreateContainer(ctx context.Context, r *runtimev1.CreateContainerRequest) (*runtimev1.CreateContainerResponse, error) {
	return forward[runtimev1.CreateContainerResponse](ctx, r, a.s.CreateContainer)
}

func (a *v1Adapter) StartContainer(ctx context.Context, r *runtimev1.StartContainerRequest) (*runtimev1.StartContainerResponse, error) {
	return forward[runtimev1.StartContainerResponse](ctx, r, a.s.StartContainer)
}

func (a *v1Adapter) StopContainer(ctx context.Context, r *runtimev1.StopContainerRequest) (*runtimev1.StopContainerResponse, error) {
	return forward[runtimev1.StopContainerResponse](ctx, r, a.s.StopContainer)
}

func (a *v1Adapter) RemoveContainer(ctx context.Context, r *runtimev1.RemoveContainerRequest) (*runtimev1.RemoveContainerResponse, error) {
	return forward[runtimev1.RemoveContainerResponse](ctx, r, a.s.RemoveContainer)
}

func (a *v1Adapter) ListContainers(ctx context.Context, r *runtimev1.ListContainersRequest) (*runtimev1.ListContainersResponse, error) {
	return forward[runtimev1.ListContainersResponse](ctx, r, a.s.ListContainers)
}

func (a *v1Adapter) ContainerStatus(ctx context.Context, r *runtimev1.ContainerStatusRequest) (*runtimev1.ContainerStatusResponse, error) {
	return forward[runtimev1.ContainerStatusResponse](ctx, r, a.s.ContainerStatus)
}

func (a *v1Adapter) UpdateContainerResources(ctx context.Context, r *runtimev1.UpdateContainerResourcesRequest) (*runtimev1.UpdateContainerResourcesResponse, error) {
	return forward[runtimev1.UpdateContainerResourcesResponse](ctx, r, a.s.UpdateContainerResources)
}

func (a *v1Adapter) ReopenContainerLog(ctx context.Context, r *runtimev1.ReopenContainerLogRequest) (*runtimev1.ReopenContainerLogResponse, error) {
	return forward[runtimev1.ReopenContainerLogResponse](ctx, r, a.s.ReopenContainerLog)
}

func (a *v1Adapter) ExecSync(ctx context.Context, r *runtimev1.ExecSyncRequest) (*runtimev1.ExecSyncResponse, error) {
	return forward[runtimev1.ExecSyncResponse](ctx, r, a.s.ExecSync)
}

func (a *v1Adapter) Exec(ctx context.Context, r *runtimev1.ExecRequest) (*runtimev1.ExecResponse, error) {
	return forward[runtimev1.ExecResponse](ctx, r, a.s.Exec)
}

func (a *v1Adapter) Attach(ctx context.Context, r *runtimev1.AttachRequest) (*runtimev1.AttachResponse, error) {
	return forward[runtimev1.AttachResponse](ctx, r, a.s.Attach)
}

func (a *v1Adapter) PortForward(ctx context.Context, r *runtimev1.PortForwardRequest) (*runtimev1.PortForwardResponse, error) {
	return forward[runtimev1.PortForwardResponse](ctx, r, a.s.PortForward)
}

func (a *v1Adapter) ContainerStats(ctx context.Context, r *runtimev1.ContainerStatsRequest) (*runtimev1.ContainerStatsResponse, error) {
	return forward[runtimev1.ContainerStatsResponse](ctx, r, a.s.ContainerStats)
}

func (a *v1Adapter) ListContainerStats(ctx context.Context, r *runtimev1.ListContainerStatsRequest) (*runtimev1.ListContainerStatsResponse, error) {
	return forward[runtimev1.ListContainerStatsResponse](ctx, r, a.s.ListContainerStats)
}

func (a *v1Adapter) PodSandboxStats(ctx context.Context, r *runtimev1.PodSandboxStatsRequest) (*runtimev1.PodSandboxStatsResponse, error) {
	return forward[runtimev1.PodSandboxStatsResponse](ctx, r, a.s.PodSandboxStats)
}

func (a *v1Adapter) ListPodSandboxStats(ctx context.Context, r *runtimev1.ListPodSandboxStatsRequest) (*runtimev1.ListPodSandboxStatsResponse, error) {
	return forward[runtimev1.ListPodSandboxStatsResponse](ctx, r, a.s.ListPodSandboxStats)
}

func (a *v1Adapter) UpdateRuntimeConfig(ctx context.Context, r *runtimev1.UpdateRuntimeConfigRequest) (*runtimev1.UpdateRuntimeConfigResponse, error) {
	return forward[runtimev1.UpdateRuntimeConfigResponse](ctx, r, a.s.UpdateRuntimeConfig)
}

func (a *v1Adapter) Status(ctx context.Context, r *runtimev1.StatusRequest) (*runtimev1.StatusResponse, error) {
	return forward[runtimev1.StatusResponse](ctx, r, a.s.Status)
}

func (a *v1Adapter) ListImages(ctx context.Context, r *runtimev1.ListImagesRequest) (*runtimev1.ListImagesResponse, error) {
	return forward[runtimev1.ListImagesResponse](ctx, r, a.s.ListImages)
}

func (a *v1Adapter) ImageStatus(ctx context.Context, r *runtimev1.ImageStatusRequest) (*runtimev1.ImageStatusResponse, error) {
	return forward[runtimev1.ImageStatusResponse](ctx, r, a.s.ImageStatus)
}

func (a *v1Adapter) PullImage(ctx context.Context, r *runtimev1.PullImageRequest) (*runtimev1.PullImageResponse, error) {
	return forward[runtimev1.PullImageResponse](ctx, r, a.s.PullImage)
}

func (a *v1Adapter) RemoveImage(ctx context.Context, r *runtimev1.RemoveImageRequest) (*runtimev1.RemoveImageResponse, error) {
	return forward[runtimev1.RemoveImageResponse](ctx, r, a.s.RemoveImage)
}

func (a *v1Adapter) ImageFsInfo(ctx context.Context, r *runtimev1.ImageFsInfoRequest) (*runtimev1.ImageFsInfoResponse, error) {
	return forward[runtimev1.ImageFsInfoResponse](ctx, r, a.s.ImageFsInfo)
}

// checkLayouts verifies that, for every method of the v1 service interfaces, the v1alpha2
// interface has a method of the same name whose request and response types have the same memory
// layout and protobuf tags as the v1 ones. It returns how many type pairs it compared.
func checkLayouts() (int, error) {
	pairs := [][2]reflect.Type{
		{reflect.TypeOf((*runtimev1.RuntimeServiceServer)(nil)).Elem(), reflect.TypeOf((*runtimev1alpha2.RuntimeServiceServer)(nil)).Elem()},
		{reflect.TypeOf((*runtimev1.ImageServiceServer)(nil)).Elem(), reflect.TypeOf((*runtimev1alpha2.ImageServiceServer)(nil)).Elem()},
	}
	seen := map[[2]reflect.Type]bool{}
	for _, p := range pairs {
		v1, alpha := p[0], p[1]
		if v1.NumMethod() != alpha.NumMethod() {
			return 0, fmt.Errorf("%s has %d methods, %s has %d", v1, v1.NumMethod(), alpha, alpha.NumMethod())
		}
		for i := 0; i < v1.NumMethod(); i++ {
			m := v1.Method(i)
			am, ok := alpha.MethodByName(m.Name)
			if !ok {
				return 0, fmt.Errorf("v1alpha2 has no method %s", m.Name)
			}
			// Interface method types have no receiver: (ctx, *Req) (*Resp, error).
			if m.Type.NumIn() != 2 || am.Type.NumIn() != 2 || m.Type.NumOut() != 2 || am.Type.NumOut() != 2 {
				return 0, fmt.Errorf("%s: unexpected signature %s / %s", m.Name, m.Type, am.Type)
			}
			if err := sameLayout(m.Type.In(1), am.Type.In(1), seen); err != nil {
				return 0, fmt.Errorf("%s request: %w", m.Name, err)
			}
			if err := sameLayout(m.Type.Out(0), am.Type.Out(0), seen); err != nil {
				return 0, fmt.Errorf("%s response: %w", m.Name, err)
			}
		}
	}
	return len(seen), nil
}

// sameLayout reports whether a value of type a can be reinterpreted as type b: same kind, size
// and alignment; for structs the same fields (name, offset, tag) of recursively same layout.
// In tags, an enum's proto name (enum=runtime.v1alpha2.X vs enum=runtime.v1.X) may differ by the
// package: it names the enum for reflection only and is not part of the wire encoding.
// Named types from the two CRI packages pair up by their structure, not their package.
func sameLayout(a, b reflect.Type, seen map[[2]reflect.Type]bool) error {
	if a == b {
		return nil
	}
	key := [2]reflect.Type{a, b}
	if seen[key] {
		return nil
	}
	seen[key] = true
	if a.Kind() != b.Kind() || a.Size() != b.Size() || a.Align() != b.Align() {
		return fmt.Errorf("%s (%s, %d bytes) vs %s (%s, %d bytes)", a, a.Kind(), a.Size(), b, b.Kind(), b.Size())
	}
	if a.Name() != b.Name() {
		return fmt.Errorf("type names differ: %s vs %s", a, b)
	}
	switch a.Kind() {
	case reflect.Ptr, reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Array && a.Len() != b.Len() {
			return fmt.Errorf("%s vs %s: array lengths differ", a, b)
		}
		return sameLayout(a.Elem(), b.Elem(), seen)
	case reflect.Map:
		if err := sameLayout(a.Key(), b.Key(), seen); err != nil {
			return err
		}
		return sameLayout(a.Elem(), b.Elem(), seen)
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			return fmt.Errorf("%s has %d fields, %s has %d", a, a.NumField(), b, b.NumField())
		}
		for i := 0; i < a.NumField(); i++ {
			fa, fb := a.Field(i), b.Field(i)
			if fa.Name != fb.Name || fa.Offset != fb.Offset || fa.Anonymous != fb.Anonymous ||
				string(fa.Tag) != strings.ReplaceAll(string(fb.Tag), "=runtime.v1alpha2.", "=runtime.v1.") {
				return fmt.Errorf("%s.%s (offset %d, tag %q) vs %s.%s (offset %d, tag %q)",
					a, fa.Name, fa.Offset, fa.Tag, b, fb.Name, fb.Offset, fb.Tag)
			}
			if err := sameLayout(fa.Type, fb.Type, seen); err != nil {
				return fmt.Errorf("%s.%s: %w", a, fa.Name, err)
			}
		}
		return nil
	case reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		// Distinct interface/func/chan types are never reinterpreted safely; CRI messages have none.
		return fmt.Errorf("%s vs %s: %s fields differ in type", a, b, a.Kind())
	default:
		// Scalars (bool, ints, floats, string) of the same kind and size, e.g. the two packages'
		// enum types (int32).
		return nil
	}
}
