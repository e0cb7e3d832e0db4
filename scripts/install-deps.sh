#!/usr/bin/env bash
# Installs the Debian packages froth needs to build and test, skipping those already present.
# Runs apt-get as root, or through sudo when available.
set -euo pipefail

packages=(
    cmake ninja-build pkg-config gcc make
    libmicrohttpd-dev libjansson-dev libsodium-dev libssl-dev libsqlite3-dev libpq-dev
    libstemmer-dev libcurl4-openssl-dev libqrencode-dev
    # The app setting "timezone" reads zones from /usr/share/zoneinfo.
    tzdata
)
if [[ "${1:-}" == "--test" ]]; then
    # postgresql-15 provides initdb and pg_ctl for the throwaway cluster of tests/pg/cluster.sh.
    # qrencode, libqrencode's command-line tool, draws the QR code that test_twofactor.py compares
    # with the image froth returns; sqlite3 is the SQL shell that docs/authentication.md uses.
    packages+=(libcmocka-dev python3 python3-pytest python3-requests postgresql-15 qrencode sqlite3)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing missing packages: ${missing[*]}"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        as_root=(sudo)
    else
        echo "error: these packages are missing and this user cannot install them: ${missing[*]}" >&2
        echo "install them as root with: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
