#!/usr/bin/env bash
# deps.sh installs everything the tests need that is not a Go module: Debian's awscli and jq, and
# moto server, pinned, in .venv at the repository root. It is idempotent and fast when nothing
# changed: a stamp file in .venv records the hash of the requirements and the Python version it
# was installed for.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/requirements-test.txt"
stamp="$venv/.deps-stamp"

# The aws CLI recipes of docs/operations.md are tested with Debian's awscli package (and jq), at
# /usr/bin/aws: whatever aws a developer has on PATH may differ, and CI runs on a clean machine.
if [[ ! -x /usr/bin/aws || ! -x /usr/bin/jq ]]; then
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
		echo "deps: installing awscli and jq with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli jq >/dev/null
	else
		echo "deps: /usr/bin/aws or /usr/bin/jq missing; install them: sudo apt-get install awscli jq" >&2
		exit 1
	fi
fi

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
	echo "deps: $python not found; install Python 3 (apt-get install python3 python3-venv)" >&2
	exit 1
fi

want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" --version 2>&1)"
if [[ -x "$venv/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	echo "deps: .venv is up to date with scripts/requirements-test.txt"
	exit 0
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

if [[ ! -x "$venv/bin/python" ]]; then
	echo "deps: creating $venv"
	"$python" -m venv "$venv"
fi

echo "deps: installing scripts/requirements-test.txt into .venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$req"
"$venv/bin/python" -c 'import moto.server' # fails here, not in a test, when the install is broken
echo "$want" >"$stamp"
echo "deps: installed $("$venv/bin/python" -m pip show moto 2>/dev/null | sed -n 's/^Version: /moto /p') in .venv"
