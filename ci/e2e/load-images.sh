#!/bin/bash
# Runs in the guest: loads the test images (/var/lib/e2e/images/*.tar: the pause image under
# each profile's sandbox image name, busybox, dockerps) into the node's runtime, ctr for
# containerd and docker load for Docker Engine, so that nothing is pulled. Prints what each
# loader says.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if systemctl -q is-active cri-docker.socket; then runtime=docker; else runtime=containerd; fi
for img in /var/lib/e2e/images/*.tar; do
  if [ "$runtime" = containerd ]; then
    ctr -n k8s.io images import "$img" 2>&1 | grep -v elapsed
  else
    docker load -q -i "$img" 2>&1
  fi
done
