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

  // The figure with the centre and zoom that show layout.meta.fit = [minLon, minLat, maxLon, maxLat] in the
  // map's real box (the server cannot know the screen: 1920 px meeting room or 390 px phone). The box is the
  // graph's CSS-sized container (.map-graph), laid out before plotly.js has even loaded, so the graph gets
  // its figure already fitted and draws the map once (components.map_graph). Without a fit, or when the box
  // never gets a size (hidden), the figure as the server made it.
  function fitFigure(graphId, fig) {
    if (!fig) { return window.dash_clientside.no_update; }
    var fit = fig.layout && fig.layout.meta && fig.layout.meta.fit;
    if (!fit) { return fig; }
    return new Promise(function (resolve) {
      var tries = 0;
      (function attempt() {  // the page's layout may not be in the DOM yet when the callback runs
        var host = document.getElementById(graphId);
        var box = host ? (host.closest(".map-graph") || host) : null;
        var r = box ? box.getBoundingClientRect() : {width: 0, height: 0};
        if (r.width > 50 && r.height > 50) { resolve(fitted(fig, fit, Math.round(r.width), Math.round(r.height))); }
        else if (tries++ < 400) { setTimeout(attempt, 25); }
        else { resolve(fig); }
      })();
    });
  }

  // MapLibre: the world is 512 px wide at zoom 0. layout.meta.px records the size the fit was made for.
  function fitted(fig, fit, W, H) {
    var merc = function (lat) { return Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)) * 180 / Math.PI; };
    var spanX = Math.max(fit[2] - fit[0], 1e-3) * 1.1, spanY = Math.max(merc(fit[3]) - merc(fit[1]), 1e-3) * 1.1;
    var zoom = Math.min(Math.log2(W * 360 / (512 * spanX)), Math.log2(H * 360 / (512 * spanY)), 16);
    var clat = (Math.atan(Math.exp((merc(fit[1]) + merc(fit[3])) / 2 * Math.PI / 180)) * 360 / Math.PI) - 90;
    var layout = Object.assign({}, fig.layout, {
      map: Object.assign({}, fig.layout.map, {zoom: Math.round(zoom * 100) / 100, center: {lon: (fit[0] + fit[2]) / 2, lat: clat}}),
      meta: Object.assign({}, fig.layout.meta, {px: [W, H]})
    });
    return Object.assign({}, fig, {layout: layout});
  }

  window.wagemap = { go: go, setQuery: setQuery, linkFromClick: linkFromClick, safePath: safePath, fitFigure: fitFigure };

  // Chinese for plotly's toolbar and dates (plotly.js registers window.PlotlyLocales when it loads).
  var zhCN = {
    moduleType: "locale", name: "zh-CN",
    dictionary: {
      "Autoscale": "自动缩放", "Box Select": "框选", "Click to enter Colorscale title": "点击输入色标标题",
      "Compare data on hover": "悬停时比较数据", "Double-click on legend to isolate one trace": "双击图例只显示该项",
      "Double-click to zoom back out": "双击恢复", "Download plot": "下载图表", "Download plot as a png": "下载为 PNG 图片",
      "Download plot as a PNG": "下载为 PNG 图片", "Download plot as JSON": "下载为 JSON",
      "Image download succeeded": "图片已下载", "Preparing image - this may take a few seconds": "正在生成图片，请稍候",
      "Sorry, there was a problem downloading your image!": "抱歉，下载图片时出错！",
      "Lasso Select": "套索选择", "Orbital rotation": "轨道旋转", "Pan": "平移", "Produced with Plotly.js": "由 Plotly.js 生成",
      "Reset": "重置", "Reset axes": "重置坐标轴", "Reset view": "重置视图", "Reset views": "重置视图",
      "Show closest data on hover": "悬停时显示最近数据", "Snapshot succeeded": "截图成功",
      "Sorry, there was a problem downloading your snapshot!": "抱歉，下载截图时出错！",
      "Taking snapshot - this may take a few seconds": "正在截图，请稍候", "Toggle Spike Lines": "显示/隐藏辅助线",
      "Toggle show closest data on hover": "切换悬停显示最近数据", "Turntable rotation": "转台旋转",
      "Zoom": "缩放", "Zoom in": "放大", "Zoom out": "缩小", "close:": "收盘：", "high:": "最高：", "low:": "最低：",
      "open:": "开盘：", "new text": "新文本", "trace": "数据"
    },
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
      shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
      date: "%Y年%-m月%-d日", year: "%Y年", month: "%Y年%-m月", dayMonth: "%-m月%-d日", dayMonthYear: "%Y年%-m月%-d日",
      decimal: ".", thousands: ","
    }
  };
  window.PlotlyLocales = (window.PlotlyLocales || []).concat([zhCN]);

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
