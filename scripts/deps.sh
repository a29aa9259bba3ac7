#!/usr/bin/env bash
# deps.sh installs everything the tests need that is not a Go module: moto server, pinned, in
# .venv at the repository root. It is idempotent and fast when nothing changed: a stamp file in
# .venv records the hash of the requirements and the Python version it was installed for.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/requirements-test.txt"
stamp="$venv/.deps-stamp"

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
