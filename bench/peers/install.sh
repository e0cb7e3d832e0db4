#!/usr/bin/env bash
# Installs the benchmark peers from the npm registry into bench/peers/install/NAME, which git
# ignores: Parse Server (bench/peers/parse) and Directus (bench/peers/directus), each at the exact
# versions of its package.json and package-lock.json. A peer whose install matches its lockfile
# is skipped.
#
# Usage: bench/peers/install.sh [parse] [directus]   (both when none is named)
#
# Install scripts do not run (--ignore-scripts), so no package downloads a prebuilt binary from
# outside the registry. Directus then needs two native modules compiled from source with
# node-gyp against the installed Node.js headers: sqlite3 (its database driver) and isolated-vm
# (loaded at start for its script sandbox). That takes a few minutes on two cores.
set -euo pipefail

cd "$(dirname "$0")"
here=$(pwd)
# Each npm command gets this long; a slower install is reported, not waited out.
npm_timeout_s=900

peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(parse directus)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "error: node and npm are needed to install the peers; install Node.js 20.19 or later" >&2
    exit 1
fi
# Parse Server 9.10.0 needs Node.js 20.19 or later; Directus 11.3.5 needs 18 or later.
node_version=$(node -p 'process.versions.node')
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "error: Node.js $node_version is too old for Parse Server 9.10.0, which needs 20.19 or later" >&2
    exit 1
fi

for peer in "${peers[@]}"; do
    case $peer in
    parse | directus) ;;
    *)
        echo "error: unknown peer \"$peer\"; the peers are parse and directus" >&2
        exit 2
        ;;
    esac
    dir=$here/install/$peer
    stamp=$(cat "$peer/package.json" "$peer/package-lock.json" | sha256sum | cut -d' ' -f1)
    if [[ -f $dir/.installed && $(<"$dir/.installed") == "$stamp" ]]; then
        echo "$peer: already installed in $dir"
        continue
    fi

    echo "$peer: installing into $dir (log: $dir.log)"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$peer/package.json" "$peer/package-lock.json" "$dir/"
    started=$(date +%s)
    if ! (cd "$dir" && timeout "$npm_timeout_s" npm ci --ignore-scripts --no-audit --no-fund) \
        >"$dir.log" 2>&1; then
        tail -n 20 "$dir.log" >&2
        echo "error: npm ci for $peer failed or took more than $npm_timeout_s s; see $dir.log" >&2
        exit 1
    fi
    if [[ $peer == directus ]]; then
        # npm passes the variable on to the packages' install scripts; prebuild-install then
        # skips its download and node-gyp compiles.
        if ! (cd "$dir" && npm_config_build_from_source=true \
            timeout "$npm_timeout_s" npm rebuild sqlite3 isolated-vm) >>"$dir.log" 2>&1; then
            tail -n 20 "$dir.log" >&2
            echo "error: building sqlite3 and isolated-vm for Directus failed; see $dir.log" >&2
            exit 1
        fi
    fi
    echo "$stamp" >"$dir/.installed"
    echo "$peer: installed in $(($(date +%s) - started)) s"
done
