#!/bin/bash
# Runs in the guest after cloud-init's final stage (builder-e2e-report.service): writes what
# the host checks to the second serial port, then powers off (a node of the cluster case,
# e2e.cluster=1, loads the test images instead and stays up). Part of the test image, not of
# any builder output.
out=/dev/ttyS1
{
  echo "=== e2e-report begin"
  echo "--- cloud-init status"
  cloud-init status --long 2>&1
  echo "--- result.json"
  cat /var/lib/cloud/data/result.json 2>&1
  echo
  for u in containerd.service docker.socket docker.service cri-docker.socket cri-docker.service kubelet.service; do
    echo "--- is-active $u $(systemctl is-active "$u" 2>&1)"
  done
  echo "--- kubeadm-flags.env"
  cat /var/lib/kubelet/kubeadm-flags.env 2>&1
  echo "--- ls /usr/local/bin"
  ls /usr/local/bin 2>&1
  if [ -d /var/lib/extensions ]; then
    # The sysext case: what systemd-sysext merged, and where the runtime runs from.
    echo "--- systemd-sysext status"
    systemd-sysext status 2>&1
    for u in systemd-sysext.service builder-sysext-units.service builder-kubeadm-join.service; do
      echo "--- is-active $u $(systemctl is-active "$u" 2>&1)"
    done
    echo "--- /usr mount $(findmnt -n -o FSTYPE /usr 2>&1)"
    echo "--- extension-release.d"
    ls /usr/lib/extension-release.d 2>&1
    for m in tampered control; do
      echo "--- $m marker $(test -e /usr/lib/builder-e2e-$m && echo present || echo absent)"
    done
    echo "--- containerd exe $(readlink "/proc/$(systemctl show -p MainPID --value containerd.service)/exe" 2>&1)"
    echo "--- sysext journal"
    journalctl -b --no-pager -o cat -u systemd-sysext -u builder-sysext-units 2>&1 | tail -n 30
    echo "--- builder-kubeadm-join journal"
    journalctl -b --no-pager -o cat -u builder-kubeadm-join 2>&1 | sed -n '/^\[preflight\]/,$p' | head -n 80
  fi
  if [ -x /usr/local/bin/ctr ] && systemctl -q is-active containerd.service; then
    echo "--- ctr plugins ls"
    /usr/local/bin/ctr plugins ls 2>&1
    echo "--- containerd config dump"
    /usr/local/bin/containerd config dump 2>&1
  fi
  if [ -x /usr/local/bin/crictl ] && systemctl -q is-active containerd.service; then
    # The real crictl with the rendered /etc/crictl.yaml (its default config path).
    echo "--- crictl info"
    /usr/local/bin/crictl info -o go-template \
      --template '{{range .status.conditions}}{{.type}}={{.status}} {{end}}' 2>&1
    echo
    echo "--- crictl version"
    /usr/local/bin/crictl version 2>&1
  fi
  if [ -x /usr/local/bin/docker ] && systemctl -q is-active docker.service; then
    echo "--- docker info"
    /usr/local/bin/docker info --format 'CgroupDriver={{.CgroupDriver}} Driver={{.Driver}}' 2>&1
  fi
  if systemctl -q is-active cri-docker.service; then
    echo "--- cri-docker ExecStart"
    systemctl show -p ExecStart cri-docker.service 2>&1
    echo "--- cri-dockerd socket $(test -S /run/cri-dockerd.sock && echo present || echo missing)"
    echo "--- cri-dockerd version $(/usr/local/bin/cri-dockerd --version 2>&1 | head -n1)"
  fi
  if [ -f /var/log/cloud-init-output.log ] && grep -q '^\[preflight\]' /var/log/cloud-init-output.log; then
    # What the user-data's own `kubeadm join` printed.
    echo "--- user-data kubeadm join"
    sed -n '/^\[preflight\]/,$p' /var/log/cloud-init-output.log | head -n 80
  fi
  if grep -qw e2e.node=1 /proc/cmdline; then
    /usr/local/sbin/e2e-node 2>&1
  fi
  echo "--- failed units"
  systemctl --failed --no-legend 2>&1
  echo "--- journal (runtime units)"
  journalctl -b --no-pager -n 40 -u containerd -u docker -u cri-docker 2>&1
  echo "=== e2e-report end"
} > "$out" 2>&1
if grep -qw e2e.cluster=1 /proc/cmdline; then
  # A node of the cluster case (ci/e2e/cluster.sh): load the test images and stay up; the host
  # runs its checks through the API server and then stops the VM.
  { /usr/local/sbin/e2e-load-images; echo "=== e2e-cluster images loaded"; } > "$out" 2>&1
  exit 0
fi
sync
systemctl poweroff
