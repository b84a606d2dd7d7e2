#!/usr/bin/env bash
# Builds the book (docs/, mdBook) into target/book, as ci/test.sh does: mdBook from the crates
# registry, installed once per version into ~/.cache/builder-ci/mdbook-VERSION/ (outside the
# checkout; `cargo install --locked`, without its serve and watch features, which a build does
# not use), then `mdbook build docs`. Fails on any error or warning mdBook prints (a chapter
# file it cannot read, a bad SUMMARY.md line). Links, anchors and the flags in code blocks are
# checked by tests/it/docs.rs.
#
#   bash ci/docs/book.sh          # prints the book's folder on the last line
set -euo pipefail
cd "$(dirname "$0")/../.."
readonly MDBOOK_VERSION=0.5.4
cache=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/mdbook-$MDBOOK_VERSION
mdbook=$cache/bin/mdbook

if ! "$mdbook" --version 2>/dev/null | grep -qx "mdbook v$MDBOOK_VERSION"; then
  echo "book: installing mdbook $MDBOOK_VERSION into $cache (once per version)" >&2
  mkdir -p "$(dirname "$cache")"
  tmp=$(mktemp -d "$cache.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cargo install --locked --quiet --no-default-features --features search \
    --root "$tmp" --target-dir "$tmp/target" "mdbook@$MDBOOK_VERSION" >&2
  rm -rf "$tmp/target"
  chmod 755 "$tmp"
  rm -rf "$cache"
  mv -T "$tmp" "$cache"
  trap - EXIT
fi

out=$("$mdbook" build docs 2>&1) || { echo "$out" >&2; echo "book: FAIL: mdbook build failed" >&2; exit 1; }
if grep -Ei '\b(warn|warning|error)\b' <<<"$out" >&2; then
  echo "book: FAIL: mdbook warned (above)" >&2
  exit 1
fi
pages=$(find target/book -name '*.html' | wc -l)
[ "$pages" -gt 10 ] || { echo "book: FAIL: only $pages pages in target/book" >&2; exit 1; }
echo "book: $pages pages in target/book (mdbook $MDBOOK_VERSION)" >&2
echo "$PWD/target/book"
