// esbuild settings for plotly-wagemap.min.js (run by build.sh in a directory holding node_modules).
// The same as plotly.js's own esbuild-config.js for its dist bundles (iife, global Plotly, es2016,
// global -> window, define.amd false, CSS inlined as a <style> added at load), without its glsl
// plugin (no WebGL trace types here) and with plotly's MapLibre import pointed at maplibre-hold.mjs.
import { build } from 'esbuild';
import { offline } from './offline.mjs';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const out = process.argv[2] || path.join(here, 'plotly-wagemap.min.js');
const pkg = (name) => JSON.parse(readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8')).version;

// plotly.js's src/plots/map requires 'maplibre-gl/dist/maplibre-gl.mjs': plotly's own import goes to the
// wrapper, the wrapper's import to MapLibre itself.
const holdMapLibre = {
    name: 'maplibre-hold',
    setup(b) {
        b.onResolve({ filter: /^maplibre-gl\/dist\/maplibre-gl\.mjs$/ }, (args) =>
            args.importer.endsWith('maplibre-hold.mjs') ? undefined : { path: path.join(here, 'maplibre-hold.mjs') });
    },
};

// require('x.css') -> a <style> element added when the bundle runs (what esbuild-plugin-inline-css does)
const inlineCss = {
    name: 'inline-css',
    setup(b) {
        b.onLoad({ filter: /\.css$/ }, (args) => ({
            contents: `(function(){var s=document.createElement('style');s.textContent=${JSON.stringify(
                readFileSync(args.path, 'utf8'))};document.head.appendChild(s);})();`,
            loader: 'js',
        }));
    },
};

await build({
    entryPoints: [path.join(here, 'entry.cjs')],
    outfile: out,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    plugins: [holdMapLibre, inlineCss],
    alias: { stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false', 'process.env.NODE_DEBUG': 'false' },
    target: 'es2016',
    banner: { js: `/* plotly.js ${pkg('plotly.js')} (MIT) with MapLibre GL JS ${pkg('maplibre-gl')} (BSD-3-Clause): ` +
        'core, bar, scattermap, choroplethmap; built for wagemap by assets/vendor/plotly/build.sh */' },
    logLevel: 'info',
});
offline(out);  // no remote defaults left in the bundle (offline.mjs)
