// Command cri-dockerd here is a test stand-in for Mirantis' cri-dockerd, which the Go module proxy
// does not serve. It runs the dockershim of k8s.io/kubernetes v1.23.17 (the code cri-dockerd was
// forked from) and serves it over gRPC as CRI v1, through the adapter in adapter.go, because
// current kubelets speak CRI v1 only and the 1.23 dockershim registers only v1alpha2.
//
// It is for builder's VM tests, not for production use. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	runtimev1 "k8s.io/cri-api/pkg/apis/runtime/v1"
	runtimev1alpha2 "k8s.io/cri-api/pkg/apis/runtime/v1alpha2"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/cri/streaming"
	"k8s.io/kubernetes/pkg/kubelet/dockershim"
	"k8s.io/kubernetes/pkg/kubelet/dockershim/libdocker"
)

const versionLine = "cri-dockerd test stand-in: dockershim from k8s.io/kubernetes v1.23.17 served as CRI v1"

// 16 MiB, as the 1.23 dockershim server used (gRPC's default is 4 MiB).
const maxMsgSize = 16 * 1024 * 1024

type options struct {
	endpoint          string
	networkPlugin     string
	podInfraImage     string
	cniBinDir         string
	cniConfDir        string
	cniCacheDir       string
	dockerEndpoint    string
	rootDir           string
	verbosity         int
	version           bool
	runtimeReqTimeout time.Duration
	pullDeadline      time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("cri-dockerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.endpoint, "container-runtime-endpoint", "unix:///run/cri-dockerd.sock",
		"where to serve CRI: fd:// (systemd socket activation, first passed fd) or unix:///path")
	fs.StringVar(&o.networkPlugin, "network-plugin", "", `network plugin: "cni" or empty (no pod networking beyond host/none)`)
	fs.StringVar(&o.podInfraImage, "pod-infra-container-image", "registry.k8s.io/pause:3.10.2", "image of the sandbox (pause) container")
	fs.StringVar(&o.cniBinDir, "cni-bin-dir", "/opt/cni/bin", "comma-separated folders holding CNI plugin binaries")
	fs.StringVar(&o.cniConfDir, "cni-conf-dir", "/etc/cni/net.d", "folder holding CNI network configurations")
	fs.StringVar(&o.cniCacheDir, "cni-cache-dir", "/var/lib/cni/cache", "folder where CNI caches results")
	fs.StringVar(&o.dockerEndpoint, "docker-endpoint", "unix:///var/run/docker.sock", "Docker Engine API endpoint")
	fs.StringVar(&o.rootDir, "cri-dockerd-root-directory", "/var/lib/cri-dockerd", "state folder (sandbox checkpoints)")
	fs.IntVar(&o.verbosity, "v", 0, "log verbosity (klog)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.DurationVar(&o.runtimeReqTimeout, "runtime-request-timeout", 2*time.Minute, "timeout of Docker API requests (kubelet 1.23's default)")
	fs.DurationVar(&o.pullDeadline, "image-pull-progress-deadline", time.Minute, "cancel a pull that makes no progress for this long (kubelet 1.23's default)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch o.networkPlugin {
	case "", "cni":
	default:
		return nil, fmt.Errorf("--network-plugin: only \"cni\" or empty are supported, got %q", o.networkPlugin)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cri-dockerd:", err)
		os.Exit(2)
	}
	if o.version {
		fmt.Println(versionLine)
		return
	}
	if err := run(o); err != nil {
		klog.ErrorS(err, "cri-dockerd stand-in failed")
		klog.Flush()
		os.Exit(1)
	}
}

func run(o *options) error {
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	if err := klogFlags.Set("v", strconv.Itoa(o.verbosity)); err != nil {
		return err
	}
	defer klog.Flush()
	klog.InfoS("Starting", "version", versionLine, "endpoint", o.endpoint, "dockerEndpoint", o.dockerEndpoint)

	// Refuse to reinterpret v1 messages as v1alpha2 unless their layouts are proven identical.
	n, err := checkLayouts()
	if err != nil {
		return fmt.Errorf("CRI v1 and v1alpha2 types differ, the pointer-cast adapter is unsound: %w", err)
	}
	klog.V(2).InfoS("CRI v1/v1alpha2 layouts identical", "typePairs", n)

	// Take the listener first: with socket activation the fd is only valid for this process,
	// and systemd expects it to be consumed.
	lis, err := listen(o.endpoint)
	if err != nil {
		return err
	}
	defer lis.Close()

	// The cgroup driver comes from the Docker daemon (docker info), as cri-dockerd does, so a
	// dockerd running with the systemd driver is reported (and used) as systemd.
	dockerClient := libdocker.ConnectToDockerOrDie(o.dockerEndpoint, o.runtimeReqTimeout, o.pullDeadline)
	info, err := dockerClient.Info()
	if err != nil {
		return fmt.Errorf("docker info at %s: %w", o.dockerEndpoint, err)
	}
	cgroupDriver := info.CgroupDriver
	if cgroupDriver == "" {
		cgroupDriver = "cgroupfs" // dockershim's own fallback for an empty answer
	}
	klog.InfoS("Docker daemon", "serverVersion", info.ServerVersion, "cgroupDriver", cgroupDriver, "rootDir", info.DockerRootDir)

	// As kubelet 1.23 built it (pkg/kubelet/kubelet.go getStreamingConfig), but bound to the
	// loopback address explicitly.
	streamingConfig := &streaming.Config{
		Addr:                            net.JoinHostPort("127.0.0.1", "0"),
		StreamIdleTimeout:               streaming.DefaultConfig.StreamIdleTimeout,
		StreamCreationTimeout:           streaming.DefaultConfig.StreamCreationTimeout,
		SupportedRemoteCommandProtocols: streaming.DefaultConfig.SupportedRemoteCommandProtocols,
		SupportedPortForwardProtocols:   streaming.DefaultConfig.SupportedPortForwardProtocols,
	}
	// As kubelet 1.23 filled them (pkg/kubelet/kubelet_dockershim.go). Its default hairpin mode,
	// promiscuous-bridge, only applies to kubenet and falls back to hairpin-veth otherwise, so
	// say hairpin-veth directly; 10.0.0.0/8 was its --non-masquerade-cidr default (kubenet only).
	pluginSettings := &dockershim.NetworkPluginSettings{
		HairpinMode:        "hairpin-veth",
		NonMasqueradeCIDR:  "10.0.0.0/8",
		PluginName:         o.networkPlugin,
		PluginConfDir:      o.cniConfDir,
		PluginBinDirString: o.cniBinDir,
		PluginCacheDir:     o.cniCacheDir,
	}
	clientConfig := &dockershim.ClientConfig{
		DockerEndpoint:            o.dockerEndpoint,
		RuntimeRequestTimeout:     o.runtimeReqTimeout,
		ImagePullProgressDeadline: o.pullDeadline,
	}
	// runtimeCgroups "" as kubelet's --runtime-cgroups default: dockerd is not moved.
	ds, err := dockershim.NewDockerService(clientConfig, o.podInfraImage, streamingConfig,
		pluginSettings, "", cgroupDriver, o.rootDir)
	if err != nil {
		return fmt.Errorf("dockershim: %w", err)
	}
	if err := ds.Start(); err != nil {
		return fmt.Errorf("dockershim start: %w", err)
	}
	supported, err := ds.IsCRISupportedLogDriver()
	if err != nil {
		return err
	}
	if !supported {
		// Kubelet 1.23 then read container logs through docker itself; kubelet 1.24+ cannot.
		klog.InfoS("WARNING: Docker's logging driver is neither json-file nor journald; kubelet cannot read container logs")
	}

	server := grpc.NewServer(grpc.MaxRecvMsgSize(maxMsgSize), grpc.MaxSendMsgSize(maxMsgSize),
		grpc.UnknownServiceHandler(unknownHandler(cgroupDriver)))
	v1 := &v1Adapter{s: ds}
	runtimev1.RegisterRuntimeServiceServer(server, v1)
	runtimev1.RegisterImageServiceServer(server, v1)
	// What the 1.23 dockershim itself registered.
	runtimev1alpha2.RegisterRuntimeServiceServer(server, ds)
	runtimev1alpha2.RegisterImageServiceServer(server, ds)

	errc := make(chan error, 1)
	go func() { errc <- server.Serve(lis) }()
	klog.InfoS("Serving CRI v1 and v1alpha2", "endpoint", o.endpoint, "address", lis.Addr().String())
	if err := notifyReady(); err != nil {
		klog.ErrorS(err, "sd_notify READY=1 failed")
	}

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigc:
		klog.InfoS("Stopping", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { server.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			server.Stop()
		}
		return nil
	case err := <-errc:
		return fmt.Errorf("grpc serve: %w", err)
	}
}

// listen returns the CRI listener for fd:// (systemd socket activation) or unix:///path.
func listen(endpoint string) (net.Listener, error) {
	switch {
	case endpoint == "fd://" || strings.HasPrefix(endpoint, "fd://"):
		if endpoint != "fd://" {
			return nil, fmt.Errorf("--container-runtime-endpoint %q: only plain fd:// (the first passed socket) is supported", endpoint)
		}
		return activationListener()
	case strings.HasPrefix(endpoint, "unix://"):
		path := strings.TrimPrefix(endpoint, "unix://")
		if path == "" || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("--container-runtime-endpoint %q: need an absolute path after unix://", endpoint)
		}
		// A socket left by an earlier run would make bind fail; remove it (only if it is one).
		if fi, err := os.Lstat(path); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("%s exists and is not a socket", path)
			}
			if err := os.Remove(path); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
			return nil, err
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(path, 0o660); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	default:
		return nil, fmt.Errorf("--container-runtime-endpoint %q: want fd:// or unix:///path", endpoint)
	}
}

func dirOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// activationListener takes the first socket passed by systemd (sd_listen_fds(3): LISTEN_PID must
// be this process, LISTEN_FDS the count, fds start at 3).
func activationListener() (net.Listener, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, fmt.Errorf("fd://: LISTEN_PID=%q is not this process (%d); not socket-activated", os.Getenv("LISTEN_PID"), os.Getpid())
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("fd://: LISTEN_FDS=%q: no socket passed", os.Getenv("LISTEN_FDS"))
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	const firstFD = 3
	syscall.CloseOnExec(firstFD)
	f := os.NewFile(firstFD, "LISTEN_FD_3")
	l, err := net.FileListener(f) // dups the fd
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fd://: fd 3: %w", err)
	}
	return l, nil
}

// notifyReady sends READY=1 to $NOTIFY_SOCKET (sd_notify(3)) when it is set; '@' = abstract.
func notifyReady() error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte("READY=1"))
	return err
}
