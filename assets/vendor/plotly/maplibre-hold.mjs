// MapLibre as plotly.js uses it, with one change: a new map paints nothing until it has everything
// plotly gave it (every source's tiles loaded), so its first visible frame is the whole map.
//
// Why: MapLibre repaints each time one of plotly's ~25 GeoJSON sources (4 per trace) comes back from
// its worker. Without a GPU (Chromium's SwiftShader renders WebGL on the CPU) every frame, and the
// compositor's read-back of the canvas, costs 40-150 ms, and those 10-15 partial frames were most of
// the time to a drawn overview map. After the first full frame the map renders exactly as MapLibre
// does (panning and zooming are not held); after HOLD_MS it paints whatever it has, so a source that
// never loads (a tile server that is down) cannot keep the map blank. The labels' fade-in is off until
// then too: MapLibre fades symbols in once the map has been idle, and the map is idle for a moment
// before plotly adds its sources, so the first full frame would be followed by ~300 ms of fade frames.
export * from 'maplibre-gl/dist/maplibre-gl.mjs';
import { Map as MapLibreMap } from 'maplibre-gl/dist/maplibre-gl.mjs';

const HOLD_MS = 3000;

export class Map extends MapLibreMap {
    constructor(options) {
        super(options);
        holdFirstPaint(this);
    }

    // plotly calls resize() after every Plotly.react and relayout (dcc.Graph relayouts once after its
    // first plot). At an unchanged size MapLibre still re-allocated the canvas, which clears it, and drew
    // the same frame again; here a resize to the size the map already has does nothing.
    resize(eventData, constrainTransform = true) {
        const [width, height] = this._containerDimensions();
        const ratio = this._getClampedPixelRatio(width, height);
        const p = this.painter;
        const same = this._lostContextStyle.style === null && p && p.pixelRatio === ratio
            && p.width === Math.floor(width * ratio) && p.height === Math.floor(height * ratio)
            && this._canvas.width === p.width && this._canvas.height === p.height
            && this._camera?.transform?.width === width && this._camera?.transform?.height === height;
        return same ? this : super.resize(eventData, constrainTransform);
    }
}

function holdFirstPaint(map) {
    const painter = map.painter;
    const paint = painter.render;
    let loadFired = false; // plotly adds its sources in a 'load' handler: until then the map is not complete
    let open = false;
    const fade = map._fadeDuration;
    map._fadeDuration = 0;
    const release = () => {
        if (!open) {
            open = true;
            painter.render = paint;
            map._fadeDuration = fade;
        }
    };
    painter.render = function (style, options) {
        // map._placementDirty: this frame's symbol placement (run just before render) asks for another
        // frame, as it does when label tiles arrived in this frame; that frame is the first one drawn.
        if (loadFired && map.loaded() && !map._placementDirty) {
            release();
            return paint.call(this, style, options);
        }
        // Nothing drawn: the canvas keeps its cleared (transparent) state. What render() records for the
        // rest of MapLibre is kept (in 6.9 a tile arriving from the worker keeps only the buckets of the
        // layers in painter.style: without it every tile would come back empty).
        this.style = style;
        this.options = options;
        return undefined;
    };
    map.once('load', () => {
        loadFired = true;
        map.triggerRepaint(); // a frame after plotly's sources were added, even if it added none
    });
    setTimeout(() => {
        release();
        map.triggerRepaint();
    }, HOLD_MS);
}
