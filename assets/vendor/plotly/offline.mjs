// Make the built bundle offline by construction: plotly.js and MapLibre carry defaults that point at
// remote servers (plotly's basemap style presets on basemaps.cartocdn.com, their tiles, glyphs on
// fonts.openmaptiles.org, the geo traces' topojson on cdn.plot.ly, maki icons on cdn.jsdelivr.net).
// wagemap never uses them (its maps are the "white-bg" style plus its own tile layers from the basemap
// setting, and the CSP's connect-src is 'self'), but a default left in the bundle is one setting away
// from a request to the internet. Each such prefix is rewritten to a same-origin path under
// /assets/vendor/plotly/offline/, which does not exist: such a request stays on the server and fails.
// Run by build.mjs after esbuild; idempotent (`node offline.mjs plotly-wagemap.min.js`).
import { readFileSync, writeFileSync } from 'node:fs';

export const REMOTE = [
    'https://fonts.openmaptiles.org/', 'https://tiles.basemaps.cartocdn.com/', 'https://basemaps.cartocdn.com/',
    'https://tile.openstreetmap.org/', 'https://server.arcgisonline.com/', 'https://tilemaps.icgc.cat/',
    'https://geoserveis.icgc.cat/', 'https://cdn.plot.ly/', 'https://cdn.jsdelivr.net/',
];
export const LOCAL = '/assets/vendor/plotly/offline/';

export function offline(file) {
    let text = readFileSync(file, 'utf8');
    for (const url of REMOTE) {
        text = text.split(url).join(LOCAL + url.slice('https://'.length));
    }
    writeFileSync(file, text);
}

if (process.argv[1] && process.argv[1].endsWith('offline.mjs')) {
    offline(process.argv[2]);
}
