#!/usr/bin/env bash
# release-images.sh builds the four worker images of rollwave (scanner, patcher, drainer,
# verifier) for every platform asked (amd64 and arm64 by default: the distroless/static base
# has both, and Go cross-compiles, so nothing is emulated) and pushes them to the registry named,
# as <registry>/<worker>:<tag>, the layout the Terraform module's image_registry and image_tag
# expect. An ECR registry is logged in to with the aws CLI first. --dry-run prints the commands
# instead of running them. Run it from anywhere; it builds the repository it belongs to.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/release-images.sh --registry REGISTRY [--tag TAG] [--platforms LIST] [--dry-run]

Builds the scanner, patcher, drainer and verifier images with docker buildx and pushes each as
REGISTRY/<worker>:TAG.

  --registry REGISTRY  where to push, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/rollwave
                       (an ECR registry is logged in to with `aws ecr get-login-password`)
  --tag TAG            image tag (default: v<VERSION>-<commit>, or v<VERSION> on the commit
                       tagged v<VERSION>; VERSION is shared/version/VERSION)
  --platforms LIST     comma-separated platforms (default: linux/amd64,linux/arm64)
  --dry-run            print the commands, run nothing (no docker or aws CLI needed)
  -h, --help           this text

The tree must be committed (the images say which commit they are); a tag given with --tag is
used as it is. Needs docker with buildx, and the aws CLI for an ECR registry.
EOF
}

die() {
	echo "release-images: $*" >&2
	exit 2
}

registry="" tag="" platforms="linux/amd64,linux/arm64" dry_run=false
while [[ $# -gt 0 ]]; do
	case "$1" in
	--registry) [[ $# -ge 2 ]] || die "--registry needs a value"; registry="$2"; shift 2 ;;
	--registry=*) registry="${1#*=}"; shift ;;
	--tag) [[ $# -ge 2 ]] || die "--tag needs a value"; tag="$2"; shift 2 ;;
	--tag=*) tag="${1#*=}"; shift ;;
	--platforms) [[ $# -ge 2 ]] || die "--platforms needs a value"; platforms="$2"; shift 2 ;;
	--platforms=*) platforms="${1#*=}"; shift ;;
	--dry-run) dry_run=true; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

[[ -n "$registry" ]] || { usage >&2; die "--registry is required (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/rollwave)"; }
registry="${registry%/}"
# Docker references are lower case; a scheme is not part of one.
[[ "$registry" =~ ^[a-z0-9][a-z0-9.:-]*(/[a-z0-9._-]+)*$ ]] || die "--registry $registry is not a registry and path like host[:port]/path (lower case, no scheme)"
[[ "$platforms" =~ ^linux/[a-z0-9]+(/v[0-9])?(,linux/[a-z0-9]+(/v[0-9])?)*$ ]] || die "--platforms $platforms is not a comma-separated list like linux/amd64,linux/arm64"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
version="$(tr -d '[:space:]' <shared/version/VERSION)"
[[ -n "$version" ]] || die "shared/version/VERSION is empty"
revision="$(git rev-parse HEAD 2>/dev/null)" || die "not a git checkout: the images could not say which commit they are"
if [[ -n "$(git status --porcelain)" ]]; then
	[[ -n "$tag" ]] || die "the tree has uncommitted changes: commit them, or name the images with --tag"
	revision="$revision-dirty"
fi
if [[ -z "$tag" ]]; then
	if [[ "$(git tag --points-at HEAD)" == *"v$version"* ]]; then
		tag="v$version"
	else
		tag="v$version-${revision:0:12}"
	fi
fi
# A Docker tag: letters, digits, _ . -; at most 128 characters; not starting with . or -.
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--tag $tag is not a valid image tag"

# run prints a command, and runs it unless this is a dry run.
run() {
	echo "+ $*"
	if ! $dry_run; then
		"$@"
	fi
}

host="${registry%%/*}"
if [[ "$host" =~ ^[0-9]{12}\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$ ]]; then
	region="${BASH_REMATCH[2]}"
	echo "+ aws ecr get-login-password --region $region | docker login --username AWS --password-stdin $host"
	if ! $dry_run; then
		aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$host"
	fi
fi

# A builder of the docker-container driver can build for several platforms and push the list.
if $dry_run || ! docker buildx inspect rollwave >/dev/null 2>&1; then
	run docker buildx create --name rollwave --driver docker-container
fi

for worker in scanner patcher drainer verifier; do
	run docker buildx build --builder rollwave --platform "$platforms" \
		--build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
		--file "services/$worker/Dockerfile" --tag "$registry/$worker:$tag" \
		--push .
done

if $dry_run; then
	echo "would push rollwave $version ($revision) for $platforms:"
else
	echo "pushed rollwave $version ($revision) for $platforms:"
fi
for worker in scanner patcher drainer verifier; do
	echo "  $registry/$worker:$tag"
done
echo "Terraform: image_registry = \"$registry\", image_tag = \"$tag\""
