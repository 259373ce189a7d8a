#!/usr/bin/env bash
# Builds the Egressway container image with no container engine and no registry (the offline path;
# with a registry, `Dockerfile` builds the same layout from node:24-bookworm-slim). buildah (Debian's
# `buildah` package; vfs storage, no daemon) assembles it from scratch:
#   /usr/local/bin/node   the project's pinned Node 24 (the `node` npm package), plus the shared
#                         libraries it links, copied from this machine
#   /app                  bin/egressway.js, dist/ (tsc output) and the production node_modules only
#   user 65532:65532, nothing writable but /tmp (mount an emptyDir there with readOnlyRootFilesystem)
#
#   scripts/build-image.sh                          # -> localhost/egressway:<version> in buildah's store
#   scripts/build-image.sh --output docker://my.registry/egressway:0.1.0   # push it (any buildah push
#   scripts/build-image.sh --output oci-archive:egressway.tar              #  destination works)
#   BUILDAH_ROOT=/tmp/store scripts/build-image.sh  # private storage (root/ and run/ below it)
# Then `helm install ... --set image.repository=my.registry/egressway`. (A later `buildah push` by
# hand needs the same `--storage-driver vfs`.)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VERSION="$(sed -n "s/^export const VERSION = '\(.*\)';/\1/p" src/version.ts)"
TAG="localhost/egressway:$VERSION"
OUTPUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --output) OUTPUT="$2"; shift 2 ;;
    *) echo "build-image.sh: unknown argument $1 (use --tag NAME, --output oci-archive:FILE)" >&2; exit 2 ;;
  esac
done
command -v buildah >/dev/null || { echo "build-image.sh: buildah is not installed; apt-get install buildah (or build Dockerfile with a container engine)" >&2; exit 1; }
NODE="${EGRESSWAY_IMAGE_NODE:-$ROOT/node_modules/node/bin/node}"
[ -x "$NODE" ] || { echo "build-image.sh: no Node binary at $NODE; run npm install (the pinned \`node\` package) or set EGRESSWAY_IMAGE_NODE" >&2; exit 1; }
case "$("$NODE" --version)" in v24.*) ;; *) echo "build-image.sh: $NODE is $("$NODE" --version), not Node 24" >&2; exit 1 ;; esac
bah=(buildah --storage-driver vfs)
[ -n "${BUILDAH_ROOT:-}" ] && bah+=(--root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/run")

stage="$(mktemp -d)"
ctr=""
cleanup() { [ -n "$ctr" ] && "${bah[@]}" rm "$ctr" >/dev/null 2>&1; rm -rf "$stage"; }
trap cleanup EXIT
app="$stage/app"
mkdir -p "$app/bin" "$stage/usr/local/bin" "$stage/etc" "$stage/tmp"

# 1. dist/: the same tsc build as `npm run build`, into the stage (the checkout's dist/ is untouched),
#    plus any non-TypeScript file under src/ (a .proto, a JSON table) at the same relative path.
"$NODE" node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$app/dist" --declaration false
(cd src && find . -type f ! -name '*.ts' -exec cp --parents {} "$app/dist/" \;)
cp bin/egressway.js "$app/bin/"
"$NODE" -e '
  const p = require("./package.json");
  const keep = { name: p.name, version: p.version, type: p.type, license: p.license, bin: p.bin, dependencies: p.dependencies };
  require("node:fs").writeFileSync(process.argv[1], JSON.stringify(keep, null, 2) + "\n");
' "$app/package.json"

# 2. Production node_modules: exactly the packages `npm ls --omit=dev` resolves, copied as installed
#    (no registry needed; the lockfile already chose them).
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel="${dir#"$ROOT"/}"
  case "$rel" in node_modules/*) ;; *) echo "build-image.sh: unexpected dependency path $dir" >&2; exit 1 ;; esac
  mkdir -p "$app/$(dirname "$rel")"
  cp -a "$dir" "$app/$rel"
done
[ -d "$app/node_modules/yaml" ] || { echo "build-image.sh: production node_modules incomplete (npm ls --omit=dev found no yaml); run npm install" >&2; exit 1; }

# 3. Node and the libraries it links (glibc, libstdc++), at the paths the dynamic loader looks at.
cp "$NODE" "$stage/usr/local/bin/node"
for lib in $(ldd "$NODE" | grep -o '/[^ ]*\.so[^ ]*'); do
  mkdir -p "$stage$(dirname "$lib")"
  cp -L "$lib" "$stage$lib"
done
# getaddrinfo() (dns.lookup) loads NSS modules by name: files for /etc/hosts, dns for resolv.conf.
libdir="$(dirname "$(ldd "$NODE" | grep -o '/[^ ]*libc\.so\.6')")"
for nss in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
  [ -e "$libdir/$nss" ] && cp -L "$libdir/$nss" "$stage$libdir/$nss"
done
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$stage/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/sbin/nologin\negressway:x:65532:65532:egressway:/tmp:/sbin/nologin\n' > "$stage/etc/passwd"
printf 'root:x:0:\negressway:x:65532:\n' > "$stage/etc/group"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$stage/etc/ssl/certs" && cp -L /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/"
fi
chmod 1777 "$stage/tmp"
chmod -R go-w,a+rX "$stage/app"

# 4. The image: one layer, owned by root and read-only to the user that runs it.
ctr="$("${bah[@]}" from scratch)"
"${bah[@]}" copy --quiet "$ctr" "$stage/" /
"${bah[@]}" config \
  --user 65532:65532 --workingdir /app \
  --env NODE_ENV=production --env PATH=/usr/local/bin:/usr/bin:/bin \
  --entrypoint '["/usr/local/bin/node","--max-semi-space-size=8","/app/bin/egressway.js"]' --cmd '["--help"]' \
  --port 15001 --port 15008 --port 15020 --port 15021 \
  --label org.opencontainers.image.title=egressway --label "org.opencontainers.image.version=$VERSION" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  "$ctr"
"${bah[@]}" commit --quiet --rm "$ctr" "$TAG" >/dev/null
ctr=""
[ -n "$OUTPUT" ] && "${bah[@]}" push --quiet "$TAG" "$OUTPUT"
echo "build-image.sh: built $TAG${OUTPUT:+ and wrote $OUTPUT}"
