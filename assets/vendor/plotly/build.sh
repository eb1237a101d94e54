#!/bin/sh
# Rebuild plotly-wagemap.min.js (see README.md): the npm packages pinned by package-lock.json are
# installed in a temporary directory (nothing lands in the repository but the bundle and licences).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.cjs" "$here/maplibre-hold.mjs" "$here/build.mjs" "$here/offline.mjs" "$work/"
cd "$work"
npm ci --no-audit --no-fund --ignore-scripts
node build.mjs "$here/plotly-wagemap.min.js"
cp node_modules/plotly.js/LICENSE "$here/LICENSE.plotly.js.txt"
cp node_modules/maplibre-gl/LICENSE.txt "$here/LICENSE.maplibre-gl.txt"
cd "$here" && sha256sum plotly-wagemap.min.js
