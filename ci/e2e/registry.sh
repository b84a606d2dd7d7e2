# shellcheck shell=bash
# The registry-fetch case (sourced by run.sh): a node that fetches its overlay from an OCI
# registry at first boot, through a regional pull-through mirror, as a fleet would.
#
#   - the origin: the real CNCF Distribution registry v3.1.2 (ci/consumers/build.sh registry) on
#     127.0.0.1, TLS with a test CA (openssl), htpasswd auth; `builder push` puts the
#     e2e-containerd render there (credentials from a docker config.json, --registry-ca);
#   - the mirror: a second Distribution registry in proxy mode (a pull-through cache of the
#     origin, which it reaches with the origin's credentials), TLS, anonymous, reached by the
#     guest at 10.0.2.2 through qemu's user network;
#   - the render: --overlay-url oci://127.0.0.1:ORIGIN/e2e/containerd@sha256:DIGEST (the render
#     checks the origin holds its overlay) --overlay-mirror https://10.0.2.2:MIRROR. The guest
#     trusts the test CA through its CA bundle, as an image does a site CA; its first-boot script
#     fetches the blob from the mirror (the origin's address is the guest's own loopback there,
#     so the mirror must serve it), checks the digest, unpacks, and the node comes up;
#   - the negative control (VM `tampered`): the mirror's cached copy of the blob, one byte
#     flipped in its storage; the same user-data must refuse it (checksum mismatch on the
#     console), install nothing and fail cloud-init.

reg_dir=""
reg_pids=()

# reg_start: both registries; sets reg_origin and reg_mirror (host:port on 127.0.0.1).
reg_start() {
  local bin=${BUILDER_DISTRIBUTION:-}
  [ -n "$bin" ] || bin=$(bash ci/consumers/build.sh registry | sed -n 's/^REGISTRY=//p')
  [ -x "$bin" ] || die "no Distribution registry (BUILDER_DISTRIBUTION, or ci/consumers/build.sh registry)"
  reg_dir=$e2e/registry
  rm -rf "$reg_dir" && mkdir -p "$reg_dir"
  local d=$reg_dir
  (cd "$d" &&
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=builder e2e CA' -keyout ca.key -out ca.pem &&
    openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout server.key -out server.csr &&
    printf 'subjectAltName=IP:127.0.0.1,IP:10.0.2.2\nextendedKeyUsage=serverAuth\n' >san.ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem) \
    >/dev/null 2>&1 || die "could not make the registry's test certificates"
  local password
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  htpasswd -Bbn e2e "$password" >"$d/htpasswd" 2>/dev/null || die "htpasswd (apache2-utils) failed"
  mkdir -p "$d/docker"
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "PLACEHOLDER" "$(printf 'e2e:%s' "$password" | base64 -w0)" >"$d/docker/config.json"
  local p1 p2
  p1=$(free_port) p2=$(free_port)
  reg_origin=127.0.0.1:$p1 reg_mirror=127.0.0.1:$p2
  sed -i "s/PLACEHOLDER/$reg_origin/" "$d/docker/config.json"
  cat >"$d/origin.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $d/origin-data}}
http: {addr: "$reg_origin", tls: {certificate: $d/server.pem, key: $d/server.key}}
auth: {htpasswd: {realm: e2e, path: $d/htpasswd}}
EOF
  cat >"$d/mirror.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $d/mirror-data}}
http: {addr: "$reg_mirror", tls: {certificate: $d/server.pem, key: $d/server.key}}
proxy: {remoteurl: "https://$reg_origin", username: e2e, password: "$password"}
EOF
  chmod 600 "$d/mirror.yml" "$d/docker/config.json"
  # The origin first: the mirror checks it is there when it starts.
  OTEL_TRACES_EXPORTER=none "$bin" serve "$d/origin.yml" >"$d/origin.log" 2>&1 &
  reg_pids+=($!)
  reg_wait "$reg_origin"
  # The mirror reaches the origin over TLS: it trusts the test CA (Go reads SSL_CERT_FILE).
  SSL_CERT_FILE=$d/ca.pem OTEL_TRACES_EXPORTER=none "$bin" serve "$d/mirror.yml" >"$d/mirror.log" 2>&1 &
  reg_pids+=($!)
  reg_wait "$reg_mirror"
  say "registries: origin $reg_origin (htpasswd), pull-through mirror $reg_mirror (10.0.2.2:$p2 from the guests)"
}

reg_wait() { # host:port
  local _
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$reg_dir/ca.pem" "https://$1/v2/" && return 0
    sleep 0.1
  done
  die "the registry on $1 did not start: $(tail -n 5 "$reg_dir"/*.log)"
}

reg_stop() {
  local p
  for p in "${reg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# reg_render DIST: pushes the e2e-containerd render (DIST/baked/...) to the origin, then renders
# fetch mode from it into DIST/registry; prints nothing, dies on failure.
reg_render() {
  local d=$1 out digest
  out=$(DOCKER_CONFIG=$reg_dir/docker BUILDER_REGISTRY_CA=$reg_dir/ca.pem \
    "$builder" push -q "$d/baked/e2e-containerd" "$reg_origin/e2e/containerd:1") ||
    die "builder push to the e2e registry failed"
  digest=$(sed -n 's/^sha256://p' <<<"$out")
  [ ${#digest} = 64 ] || die "builder push printed no digest: $out"
  DOCKER_CONFIG=$reg_dir/docker BUILDER_REGISTRY_CA=$reg_dir/ca.pem \
    render e2e-containerd "$d/registry" --overlay-url "oci://$reg_origin/e2e/containerd@sha256:$digest" \
    --overlay-mirror "https://10.0.2.2:${reg_mirror#*:}"
  say "pushed e2e-containerd as sha256:$digest; fetch-mode user-data in $d/registry"
}

# reg_trust ROOT: the test CA into the image's CA bundle (what an image does for a site CA).
reg_trust() {
  cat "$reg_dir/ca.pem" >>"$1/etc/ssl/certs/ca-certificates.crt"
}

# reg_tamper OVERLAY: flips one byte of the mirror's cached copy of the overlay blob (fetched
# through the mirror first when no node has yet).
reg_tamper() {
  local hex blob
  hex=$(sha "$1")
  blob=$reg_dir/mirror-data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
  [ -f "$blob" ] || curl -fsS --cacert "$reg_dir/ca.pem" -o /dev/null \
    "https://$reg_mirror/v2/e2e/containerd/blobs/sha256:$hex" || true
  [ -f "$blob" ] || { say "the mirror holds no cached copy of sha256:$hex"; return 1; }
  python3 - "$blob" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)
EOF
}

# The mirror served the node: its storage now caches the overlay blob (it fetched it from the
# origin on the node's request).
reg_mirror_served() { # overlay
  local hex
  hex=$(sha "$1")
  [ -f "$reg_dir/mirror-data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" ]
}
