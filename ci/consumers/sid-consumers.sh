#!/usr/bin/env bash
# Unpacks the newer consumers that only Debian unstable packages (containerd 2.x, dockerd 28)
# into a private folder, without touching the system's apt state or installing anything
# system-wide. Prints the folder. Usage: ci/consumers/sid-consumers.sh DEST
#
# The system's own Debian source entry is copied with its suite changed to sid, so no
# repository host is named here.
set -euo pipefail
dest=${1:?usage: ci/consumers/sid-consumers.sh DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ -x "$dest/root/usr/bin/containerd" ] && [ -x "$dest/root/usr/sbin/dockerd" ]; then
  echo "$dest/root"
  exit 0
fi
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts" "$apt_dir/debs" "$dest/root"
src=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -q '^Types: deb' "$f" && { src=$f; break; }
done
if [ -n "$src" ]; then
  # The first stanza of the deb822 file, suite switched to sid.
  awk 'BEGIN{RS=""; ORS="\n\n"} NR==1' "$src" \
    | sed -E 's/^Suites:.*/Suites: sid/' > "$apt_dir/parts/sid.sources"
else
  line=$(grep -E '^deb ' /etc/apt/sources.list | head -n1)
  echo "$line" | awk '{$3="sid"; print}' > "$apt_dir/parts/sid.list"
fi
opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$apt_dir/parts"
      -o "Dir::State::Lists=$apt_dir/lists" -o Dir::Cache::archives="$apt_dir/debs"
      -o APT::Sandbox::User=root -o Debug::NoLocking=1)
apt-get "${opts[@]}" -qq update >&2
(cd "$apt_dir/debs" && apt-get "${opts[@]}" -qq download containerd docker.io >&2)
for deb in "$apt_dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$dest/root"
done
echo "$dest/root"
