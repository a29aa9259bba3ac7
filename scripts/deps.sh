#!/usr/bin/env bash
# deps.sh installs everything the tests need that is not a Go module: Debian's awscli, jq,
# chromium, zsh, fish and (for make lint) shellcheck; the AWS provider's schema (npm, pinned) in .cache/aws-provider;
# checkov, pinned, in .cache/checkov/venv; and moto server, pinned, in .venv at the repository
# root, both installed with uv (pinned, in .cache/uv/venv), or with pip when uv cannot be had. It
# is idempotent and fast when nothing changed: a stamp file in each venv records the hash of its
# requirements and the Python version it was installed for.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/requirements-test.txt"
stamp="$venv/.deps-stamp"

# The aws CLI recipes of docs/operations.md are tested with Debian's awscli package (and jq), at
# /usr/bin/aws: whatever aws a developer has on PATH may differ, and CI runs on a clean machine.
# make lint checks the shell scripts with Debian's shellcheck. The rollout page's tests
# (shared/report, tools/demo) open it in Debian's headless chromium. The CLI's completion scripts
# are loaded into Debian's bash, zsh and fish (cmd/rollwave).
apt_missing=()
for pkg in awscli:aws jq:jq shellcheck:shellcheck chromium:chromium zsh:zsh fish:fish; do
	[[ -x "/usr/bin/${pkg#*:}" ]] || apt_missing+=("${pkg%%:*}")
done
if ((${#apt_missing[@]} > 0)); then
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
		echo "deps: installing ${apt_missing[*]} with apt-get (Debian packages; chromium and its libraries take a few minutes the first time)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
	else
		echo "deps: missing ${apt_missing[*]} at /usr/bin; install them: sudo apt-get install ${apt_missing[*]}" >&2
		exit 1
	fi
fi

# The AWS provider's schema, for deploy's check of terraform/ (TestTerraformMatchesProviderSchema):
# terraform init cannot run offline, so the schema comes from the npm package that CDK for
# Terraform generates from the provider, pinned by version and content. Only its .jsii assembly is
# kept, in .cache/aws-provider/ (git-ignored).
aws_schema_pkg="@cdktf/provider-aws@19.65.1" # generated from hashicorp/aws 5.99.1
aws_schema_sha512="pUvO9fYAgyc4MreWOZWkzz/lalxOvIAS2YEvBjIadJVqCUEiNN5EDWu5ofBp9Y1k+ncHzl3K6oPgBeYQYJz5kw=="
aws_schema_dir="$root/.cache/aws-provider"
aws_schema_jsii="$aws_schema_dir/provider-aws-19.65.1.jsii"
if [[ ! -s "$aws_schema_jsii" ]]; then
	if ! command -v npm >/dev/null; then
		echo "deps: npm missing (it fetches the AWS provider's schema); install it: sudo apt-get install npm" >&2
		exit 1
	fi
	echo "deps: fetching $aws_schema_pkg (the AWS provider's schema, a 120 MB assembly) into .cache/aws-provider with npm"
	mkdir -p "$aws_schema_dir"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$aws_schema_pkg" >/dev/null)
	tgz="$(ls "$tmp"/*.tgz)"
	got="$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
	if [[ "$got" != "$aws_schema_sha512" ]]; then
		echo "deps: $aws_schema_pkg has sha512 $got, want $aws_schema_sha512" >&2
		exit 1
	fi
	tar -xzf "$tgz" -C "$tmp" package/.jsii
	# Copied beside the target first, so an interrupted copy never looks like the schema.
	cp "$tmp/package/.jsii" "$aws_schema_jsii.part"
	mv "$aws_schema_jsii.part" "$aws_schema_jsii"
fi
# Derived here, without -race, and only when the cache does not match the assembly: deploy's
# tests read the cached schema (deriving it themselves under -race takes a minute).
(cd "$root/deploy" && go run ./cmd/providerschema -jsii "$aws_schema_jsii" -out "$aws_schema_dir/schema-19.65.1.json")

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
	echo "deps: $python not found; install Python 3 (apt-get install python3 python3-venv)" >&2
	exit 1
fi

# Debian splits venv/ensurepip into python3-venv; install it when we can (CI runs as root).
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
		echo "deps: installing python3-venv with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
	else
		echo "deps: python venv support missing; install python3-venv" >&2
		exit 1
	fi
fi

# The Python packages go in with uv (pinned in scripts/requirements-uv.txt, itself installed with
# pip into .cache/uv): it installs moto's and checkov's pinned sets in seconds where pip took two
# to five minutes each on a clean 2-core machine, most of it in pip's resolver and its one-by-one
# byte-compiling. If uv cannot be installed or fails, pip does the same install, only slower.
uv_req="$root/scripts/requirements-uv.txt"
uv_venv="$root/.cache/uv/venv"
uv_want="$(sha256sum "$uv_req" | cut -d' ' -f1) $("$python" --version 2>&1)"
if [[ ! -x "$uv_venv/bin/uv" || "$(cat "$uv_venv/.deps-stamp" 2>/dev/null)" != "$uv_want" ]]; then
	echo "deps: installing uv (scripts/requirements-uv.txt, pinned) into .cache/uv/venv with pip"
	if "$python" -m venv --clear "$uv_venv" &&
		"$uv_venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$uv_req"; then
		echo "$uv_want" >"$uv_venv/.deps-stamp"
	else
		echo "deps: uv could not be installed; pip installs the Python packages instead (minutes, not seconds)" >&2
	fi
fi

# pip_install VENV REQUIREMENTS installs the pinned requirements into the venv, with uv when it is
# there, else (or when uv fails) with pip.
pip_install() {
	local target="$1" requirements="$2"
	if [[ -x "$uv_venv/bin/uv" ]] &&
		"$uv_venv/bin/uv" pip install --quiet --compile-bytecode --python "$target/bin/python" -r "$requirements"; then
		return 0
	fi
	[[ -x "$uv_venv/bin/uv" ]] && echo "deps: uv failed; installing $requirements with pip instead" >&2
	"$target/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$requirements"
}

# checkov, pinned, in a venv of its own (its pins conflict with moto's); make checkov runs it.
ckv_req="$root/scripts/requirements-checkov.txt"
ckv_venv="$root/.cache/checkov/venv"
ckv_want="$(sha256sum "$ckv_req" | cut -d' ' -f1) $("$python" --version 2>&1)"
if [[ ! -x "$ckv_venv/bin/checkov" || "$(cat "$ckv_venv/.deps-stamp" 2>/dev/null)" != "$ckv_want" ]]; then
	echo "deps: installing checkov (scripts/requirements-checkov.txt, pinned) into .cache/checkov/venv"
	"$python" -m venv --clear "$ckv_venv"
	pip_install "$ckv_venv" "$ckv_req"
	echo "$ckv_want" >"$ckv_venv/.deps-stamp"
fi

want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" --version 2>&1)"
if [[ -x "$venv/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	echo "deps: .venv is up to date with scripts/requirements-test.txt"
	exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
	echo "deps: creating $venv"
	"$python" -m venv "$venv"
fi

echo "deps: installing moto server (scripts/requirements-test.txt, pinned) into .venv"
pip_install "$venv" "$req"
"$venv/bin/python" -c 'import moto.server' # fails here, not in a test, when the install is broken
echo "$want" >"$stamp"
echo "deps: installed $("$venv/bin/python" -m pip show moto 2>/dev/null | sed -n 's/^Version: /moto /p') in .venv"
