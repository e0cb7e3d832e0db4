#!/usr/bin/env bash
# Installs wrk and nginx-light for the benchmark, and valgrind for bench/profile.sh, skipping
# those already present.
# Runs apt-get as root, or through sudo when available. The package's own nginx service is kept
# from starting (it would listen on port 80 of every address); run.sh starts its own nginx.
set -euo pipefail

packages=(wrk nginx-light python3 valgrind)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# nginx (the full package) serves as well as nginx-light.
if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v nginx >/dev/null; then
    missing=("${missing[@]/nginx-light/}")
fi
read -r -a missing <<<"${missing[*]}"
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

# invoke-rc.d consults policy-rc.d; exit status 101 forbids starting services during install.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
