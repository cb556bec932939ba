# Shared by the docker benchmarks (source it from the repository root): the base image must
# exist, then a release build of mngr and the docker plugin; sets IMAGE and MNGR.
IMAGE="${MNGR_BASE_IMAGE:-mngr-base:bookworm}"
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "Error: the image $IMAGE is missing; run scripts/build-base-image.sh first" >&2
  exit 1
fi
echo "building (release)..." >&2
cargo build --release -q -p mngr -p mngr-docker
MNGR="$PWD/target/release/mngr"
