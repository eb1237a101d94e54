/* wagemap: client-side navigation helpers and ag-grid cell renderers (text only, never HTML). */
(function () {
  "use strict";

  function safePath(url) {
    // only same-site paths ("/township/…"), never "//host" or "javascript:"
    return (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") ? url : null;
  }

  function go(url) {
    var path = safePath(url);
    if (!path) { return false; }
    window.history.pushState({}, "", path);
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
    return true;
  }

  // Replace the query string of the current entry (state kept in the URL without a new history step),
  // only while the page that owns the state is still the one shown (a click may have navigated away).
  function setQuery(search, path) {
    if (typeof path === "string" && decodeURIComponent(window.location.pathname) !== decodeURIComponent(path)) { return; }
    var s = typeof search === "string" ? search : "";
    var url = window.location.pathname + s + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", url);
    }
  }

  // The link a clicked plotly point carries: customdata[idx] (or customdata itself when a string).
  function linkFromClick(clickData, idx) {
    if (!clickData || !clickData.points || !clickData.points.length) { return null; }
    var p = clickData.points[0];
    var cd = p.customdata;
    if (typeof cd === "string") { return cd; }
    if (Array.isArray(cd)) { return cd[idx || 0]; }
    return null;
  }

  // The centre and zoom that show layout.meta.fit = [minLon, minLat, maxLon, maxLat] in the graph's real
  // size (the server cannot know the screen: 1920 px meeting room or 390 px phone), as a Patch of the
  // figure, so later patches from the server keep it. MapLibre: the world is 512 px wide at zoom 0.
  function fitPatch(graphId, fig) {
    var noop = window.dash_clientside.no_update;
    var fit = fig && fig.layout && fig.layout.meta && fig.layout.meta.fit;
    if (!fit) { return noop; }
    return new Promise(function (resolve) {
      var tries = 0;
      (function attempt() {  // the graph may not be laid out yet when the callback runs
        var host = document.getElementById(graphId);
        var r = host ? host.getBoundingClientRect() : {width: 0, height: 0};
        if (r.width > 50 && r.height > 50) { resolve(fitView(host, fit, r.width, r.height)); }
        else if (tries++ < 200) { setTimeout(attempt, 50); }
        else { resolve(noop); }
      })();
    });
  }

  function fitView(host, fit, W, H) {
    var merc = function (lat) { return Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)) * 180 / Math.PI; };
    var spanX = Math.max(fit[2] - fit[0], 1e-3) * 1.1, spanY = Math.max(merc(fit[3]) - merc(fit[1]), 1e-3) * 1.1;
    var zoom = Math.min(Math.log2(W * 360 / (512 * spanX)), Math.log2(H * 360 / (512 * spanY)), 16);
    var clat = (Math.atan(Math.exp((merc(fit[1]) + merc(fit[3])) / 2 * Math.PI / 180)) * 360 / Math.PI) - 90;
    var patch = new window.dash_clientside.Patch();
    patch.assign(["layout", "map", "zoom"], Math.round(zoom * 100) / 100);
    patch.assign(["layout", "map", "center"], {lon: (fit[0] + fit[2]) / 2, lat: clat});
    host.setAttribute("data-fitted", "1");
    return patch.build();
  }

  window.wagemap = { go: go, setQuery: setQuery, linkFromClick: linkFromClick, safePath: safePath, fitPatch: fitPatch };

  var dag = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

  // A link cell: text = the cell value, target = row[params.linkField]; React escapes the text.
  dag.WagemapLink = function (props) {
    var params = props.colDef.cellRendererParams || {};
    var href = safePath(props.data && props.data[params.linkField || "link"]);
    var label = props.value === null || props.value === undefined ? "" : String(props.value);
    if (!href) { return React.createElement("span", null, label); }
    return React.createElement("a", {
      href: href,
      onClick: function (e) {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) { return; }
        e.preventDefault();
        go(href);
      },
    }, label);
  };
})();
