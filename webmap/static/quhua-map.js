/* quhua map layers: features fetched from the OGC API for the visible bbox and zoom, styled and with popups. */
(function () {
  "use strict";
  /* folium's popups call $(`<div>…</div>`)[0]; this page has no jQuery, so parse the HTML ourselves. */
  if (!window.$) {
    window.$ = function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = String(html).trim();
      return [holder.firstElementChild];
    };
  }
  var PALETTE = ["#d73027", "#f46d43", "#fdae61", "#a50026", "#762a83", "#1b7837", "#2166ac", "#e7298a",
                 "#66a61e", "#e6ab02", "#7570b3", "#1b9e77"];
  var AGREEMENT = {agreed: "#1a9850", differs: "#d73027", single: "#4575b4"};
  var T = {
    zh: {line: "界线", name: "名称", sides: "左/右代码", province: "提交省份", status: "状态", submission: "提交",
         agreement: "与邻省", agreed: "一致", differs: "不一致", single: "仅一方提交", marker: "界桩", type: "类型",
         declared: "申报坐标", stored: "入库坐标", height: "高程", rule: "规则", severity: "级别",
         feature: "要素", current: "现行", superseded: "已被替代", error: "错误", warning: "警告", loading: "加载中…", more: "（显示前 {n} 个）",
         legal: "法定有效期"},
    en: {line: "Line", name: "Name", sides: "Left/right codes", province: "Submitted by", status: "Status",
         submission: "Submission", agreement: "Neighbour", agreed: "agrees", differs: "differs",
         single: "one side only", marker: "Marker", type: "Type", declared: "Declared", stored: "Stored",
         height: "Height", rule: "Rule", severity: "Severity", feature: "Feature", current: "current",
         superseded: "superseded", loading: "loading…", more: " (first {n} shown)", legal: "In force (legal time)"}
  };
  function esc(v) {
    if (v === null || v === undefined) { return "–"; }
    return String(v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function num(v, d) { return (v === null || v === undefined) ? "–" : Number(v).toFixed(d); }
  function ruleColour(rule) {
    var h = 0, s = String(rule || "");
    for (var i = 0; i < s.length; i++) { h = (h * 31 + s.charCodeAt(i)) >>> 0; }
    return PALETTE[h % PALETTE.length];
  }
  function table(rows) {
    return "<table class='quhua-popup'>" + rows.map(function (r) {
      return "<tr><th>" + esc(r[0]) + "</th><td>" + r[1] + "</td></tr>";
    }).join("") + "</table>";
  }
  /* A version's legal interval (issue 15), days only: "2017-05-01 – 2021-03-15", open-ended "2021-03-15 –". */
  function legal(p) {
    if (!p.valid_from) { return "–"; }
    return esc(String(p.valid_from).slice(0, 10)) + " – " + (p.valid_to ? esc(String(p.valid_to).slice(0, 10)) : "");
  }
  var popups = {
    lines: function (p, t) {
      return table([[t.line, esc(p.line_id)], [t.name, esc(p.name)], [t.sides, esc(p.left_code) + " / " + esc(p.right_code)],
                    [t.province, esc(p.province)], [t.status, esc(t[p.status] || p.status)],
                    [t.agreement, esc(t[p.agreement] || p.agreement)], [t.submission, esc(p.submission_id)],
                    [t.legal, legal(p)]]);
    },
    markers: function (p, t, f) {
      var c = f.geometry.coordinates;
      return table([[t.marker, esc(p.marker_id)], [t.type, esc(p.marker_type)], [t.line, esc(p.line_id)],
                    [t.declared + " x/y", num(p.x, 3) + " / " + num(p.y, 3)],
                    [t.declared + " lon/lat", num(p.lon, 7) + ", " + num(p.lat, 7)],
                    [t.stored + " lon/lat", num(c[0], 7) + ", " + num(c[1], 7)], [t.height, num(p.h, 2)],
                    [t.submission, esc(p.submission_id)], [t.legal, legal(p)]]);
    },
    issues: function (p, t, f, lang) {
      var message = (lang === "en" && p.message_en) ? p.message_en : p.message;
      return table([[t.rule, "<a href='/rules#" + esc(p.rule) + "'>" + esc(p.rule) + "</a>"],
                    [t.severity, esc(t[p.severity] || p.severity)], [t.feature, esc(p.feature)], ["", esc(message)]]);
    }
  };
  popups.superseded = popups.lines;
  /* Lines below markers below issues, whatever order their data arrives in, so a marker standing on its
     line is clicked, not the line (Leaflet's overlayPane is 400, its markerPane 600). */
  var PANES = {lines: 410, superseded: 405, markers: 430, issues: 440};
  function inPane(map, kind, o) {
    if (!map) { return o; }  // no map yet (an upload's inline issues): Leaflet's default pane
    var name = "quhua-" + kind;
    if (!map.getPane(name)) { map.createPane(name).style.zIndex = PANES[kind]; }
    o.pane = name;
    return o;
  }
  function options(kind, lang, map) {
    var t = T[lang] || T.zh;
    map = map || window.quhuaMap;
    var o = inPane(map, kind, {onEachFeature: function (f, layer) {
      layer.bindPopup(popups[kind](f.properties, t, f, lang), {maxWidth: 360});
    }});
    if (kind === "lines") {
      o.style = function (f) { return {color: AGREEMENT[f.properties.agreement] || "#4575b4", weight: 3}; };
    } else if (kind === "superseded") {
      o.filter = function (f) { return f.properties.status === "superseded"; };
      o.style = function () { return {color: "#999", weight: 2, dashArray: "6 6"}; };
    } else if (kind === "markers") {
      o.pointToLayer = function (f, ll) {
        return L.circleMarker(ll, inPane(map, kind, {radius: 5, color: "#333", weight: 1, fillColor: "#ffd700",
                                              fillOpacity: 1}));
      };
    } else if (kind === "issues") {
      o.pointToLayer = function (f, ll) {
        var c = ruleColour(f.properties.rule);
        return L.circleMarker(ll, inPane(map, kind, {radius: 7, color: c, weight: 2, fillColor: c, fillOpacity: 0.45}));
      };
    }
    return o;
  }
  function bboxOf(bounds) {
    var w = Math.max(-180, bounds.getWest()), e = Math.min(180, bounds.getEast());
    var s = Math.max(-90, bounds.getSouth()), n = Math.min(90, bounds.getNorth());
    return [w, s, e, n].map(function (v) { return v.toFixed(4); }).join(",");
  }
  /* Fetch what the view needs (with a margin) and keep it while the view stays inside: points need no
     refetch when zooming in; lines do, since the API simplifies them for the zoom. */
  function apiLayer(map, opts) {
    var group = opts.kind === "markers" && L.markerClusterGroup ?
      L.markerClusterGroup({chunkedLoading: true, disableClusteringAtZoom: 13}) : L.featureGroup();
    var sequence = 0, loaded = null, pending = null;
    var simplified = opts.kind === "lines" || opts.kind === "superseded";
    function covers(got, complete) {
      return got && complete && got.bounds.contains(map.getBounds()) &&
        (!simplified || Math.round(map.getZoom()) <= got.zoom);
    }
    /* Covered by what is loaded, or by the request still under way: the layer's "add" and the map's first
       "moveend" (its fitting) come together, and must not fetch the same view twice. */
    function covered() { return covers(loaded, loaded && loaded.complete) || covers(pending, true); }
    function load() {
      if (!map.hasLayer(group) || map.getZoom() < opts.minZoom || covered()) { return; }
      var mine = ++sequence, bounds = map.getBounds().pad(0.5), zoom = Math.round(map.getZoom());
      pending = {bounds: bounds, zoom: zoom};
      var url = opts.url + "&bbox=" + bboxOf(bounds) + "&zoom=" + zoom + "&limit=10000" +
        (opts.datetime ? "&datetime=" + encodeURIComponent(opts.datetime) : "");
      fetch(url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status + " " + url); } return r.json(); })
        .then(function (data) {
          if (mine !== sequence) { return; }
          pending = null;
          loaded = {bounds: bounds, zoom: zoom, complete: data.numberReturned === data.numberMatched};
          group.clearLayers();
          var layer = L.geoJSON(data, options(opts.kind, opts.lang, map));
          if (opts.kind === "markers") { group.addLayers(layer.getLayers()); } else { layer.eachLayer(function (l) { group.addLayer(l); }); }
          map.getContainer().setAttribute("data-loaded-" + opts.kind, String(layer.getLayers().length));
          map.getContainer().setAttribute("data-as-of-" + opts.kind, opts.datetime || "");
        })
        .catch(function (err) {
          if (mine === sequence) { pending = null; }
          map.getContainer().setAttribute("data-error-" + opts.kind, String(err));
        });
    }
    group.on("add", function () { setTimeout(load, 0); });  // after the map has been fitted to its bounds
    map.on("moveend", load);
    /* Legal time (issue 15): lines and markers as of a day, through the API's datetime; the issues have no
       legal time and the superseded versions are those of today. */
    if (opts.kind === "lines" || opts.kind === "markers") {
      (map.quhuaDated = map.quhuaDated || []).push(function (day) {
        opts.datetime = day || null;
        loaded = null; pending = null; sequence += 1;
        load();
      });
    }
    return group;
  }
  /* Reload the map's dated layers as of ``day`` (YYYY-MM-DD; empty: what is current). */
  function setDate(map, day) {
    map = map || window.quhuaMap;
    (map.quhuaDated || []).forEach(function (reload) { reload(day); });
    map.getContainer().setAttribute("data-as-of", day || "");
  }
  function issueLayer(issues) {
    var group = L.featureGroup();
    var o = options("issues", document.documentElement.lang === "en" ? "en" : "zh");
    issues.forEach(function (i) {
      var f = {type: "Feature", properties: i, geometry: {type: "Point", coordinates: [i.lon, i.lat]}};
      var layer = o.pointToLayer(f, L.latLng(i.lat, i.lon));
      o.onEachFeature(f, layer);
      group.addLayer(layer);
    });
    return group;
  }
  function legend(map, entries, title, note, position) {
    var control = L.control({position: position || "bottomright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "quhua-legend");
      div.innerHTML = (title ? "<b>" + esc(title) + "</b><br>" : "") + entries.map(function (e) {
        return "<span class='swatch' style='background:" + esc(e[0]) + "'></span>" + esc(e[1]);
      }).join("<br>") + (note ? "<div class='legend-note'>" + esc(note) + "</div>" : "");
      return div;
    };
    control.addTo(map);
    return control;
  }
  /* The national map's print furniture (issue 13): title and date, north arrow, data source, and the
     South China Sea islands (南海诸岛) with the dashed line as an inset: a second Leaflet map, fixed,
     in the bottom-right corner, as on every lawful map of China. */
  function nationalChrome(map, o) {
    var caption = L.control({position: "topright"});
    caption.onAdd = function () {
      var div = L.DomUtil.create("div", "quhua-caption");
      div.innerHTML = "<b class='map-title'>" + esc(o.title) + "</b><br><span class='map-date'>" + esc(o.asOf) + "</span>";
      return div;
    };
    caption.addTo(map);
    var north = L.control({position: "topleft"});
    north.onAdd = function () {
      var div = L.DomUtil.create("div", "quhua-north");
      div.innerHTML = "<svg width='26' height='38' viewBox='0 0 26 38' aria-hidden='true'>" +
        "<polygon points='13,2 22,30 13,24 4,30' fill='#222'/><polygon points='13,2 13,24 4,30' fill='#fff' " +
        "stroke='#222' stroke-width='1'/></svg><span>" + esc(o.north) + "</span>";
      div.title = o.north;
      return div;
    };
    north.addTo(map);
    if (o.source) { map.attributionControl.addAttribution(esc(o.source)); }
    var inset = L.control({position: "bottomright"});
    inset.onAdd = function () {
      var div = L.DomUtil.create("div", "quhua-inset");
      div.innerHTML = "<div class='inset-map'></div><div class='inset-title'>" + esc(o.inset.title) + "</div>";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    inset.addTo(map);
    var holder = inset.getContainer().querySelector(".inset-map");
    var b = o.inset.bounds;
    var small = L.map(holder, {attributionControl: false, zoomControl: false, dragging: false,
                               scrollWheelZoom: false, doubleClickZoom: false, boxZoom: false, keyboard: false,
                               touchZoom: false, zoomSnap: 0.1});
    L.geoJSON(o.inset.land, {style: {color: "#555", weight: 0.8, fillColor: "#e8e8e8", fillOpacity: 1},
                             interactive: false}).addTo(small);
    L.geoJSON(o.inset.dashes, {style: {color: "#444", weight: 1.6}, interactive: false}).addTo(small);
    small.fitBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [0, 0]});
    map.quhuaInset = small;
    /* Printing changes the map's size (print CSS): refit the whole country to the page, and back after. */
    var view = o.bounds;
    function refit() {
      map.invalidateSize({animate: false});
      if (view) { map.fitBounds(view, {animate: false}); }
      small.invalidateSize({animate: false});
      small.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false});
    }
    window.addEventListener("beforeprint", refit);
    window.addEventListener("afterprint", refit);
    if (window.matchMedia) {
      var print = window.matchMedia("print");
      if (print.addEventListener) { print.addEventListener("change", refit); }
    }
    return small;
  }
  var namesLayer = null;
  function showNames(results) {
    var map = window.quhuaMap;
    if (!map) { return; }
    if (namesLayer) { map.removeLayer(namesLayer); }
    namesLayer = L.featureGroup();
    results.forEach(function (r) {
      if (r.lon === null || r.lon === undefined) { return; }
      L.circleMarker([r.lat, r.lon], {radius: 7, color: "#b2182b", fillOpacity: 0.6})
        .bindTooltip(esc(r.name) + " " + esc(r.pinyin || ""))
        .bindPopup("<a href='/names/" + encodeURIComponent(r.id) + "'>" + esc(r.name) + "</a>")
        .addTo(namesLayer);
    });
    namesLayer.addTo(map);
    if (namesLayer.getLayers().length) { map.fitBounds(namesLayer.getBounds().pad(0.3), {maxZoom: 7}); }
  }
  /* ---- Vector tiles (webmap/tiles.py): a large layer drawn from /tiles/{layer}/{z}/{x}/{y}.mvt ----------
     Leaflet.VectorGrid (static/vendor/vectorgrid) with its SVG renderer: only the drawn lines take clicks,
     so the layers under the tiles (province polygons) and above them (province dots) stay clickable. The
     tile's feature properties fill the same popups as the GeoJSON layers (without what the tile does not
     carry: the neighbour agreement of lines, the stored coordinates of markers). */
  var TILE_STYLE = {
    lines: function (o) { return {color: o.color || "#444", weight: o.weight || 1.2, opacity: 0.8}; },
    markers: function () { return {radius: 4, color: "#333", weight: 1, fill: true, fillColor: "#ffd700",
                                   fillOpacity: 1}; }
  };
  function tilePopup(kind, p, t, lang) {
    if (kind === "lines") {
      return table([[t.line, esc(p.line_id)], [t.name, esc(p.name)],
                    [t.sides, esc(p.left_code) + " / " + esc(p.right_code)], [t.province, esc(p.province)],
                    [t.status, esc(t[p.status] || p.status)], [t.submission, esc(p.submission_id)]]);
    }
    return popups[kind](p, t, {geometry: {coordinates: [null, null]}}, lang);
  }
  function tileLayer(map, opts) {
    var t = T[opts.lang] || T.zh, style = TILE_STYLE[opts.kind](opts), styles = {};
    var pane = "quhua-tiles-" + opts.kind;
    if (!map.getPane(pane)) { map.createPane(pane).style.zIndex = opts.zIndex || 410; }
    styles[opts.kind] = style;
    var layer = L.vectorGrid.protobuf(opts.url, {
      rendererFactory: L.svg.tile, interactive: true, pane: pane, vectorTileLayerStyles: styles,
      maxNativeZoom: opts.maxNativeZoom || 18, fetchOptions: {credentials: "same-origin"},
      getFeatureId: function (f) { return f.id; }
    });
    var container = map.getContainer(), tiles = 0, features = 0;
    layer.on("click", function (e) {
      L.popup({maxWidth: 360}).setLatLng(e.latlng)
        .setContent(tilePopup(opts.kind, e.layer.properties || {}, t, opts.lang)).openOn(map);
    });
    layer.on("tileload", function (e) {
      tiles += 1;
      features += e.tile.querySelectorAll ? e.tile.querySelectorAll("path").length : 0;
      container.setAttribute("data-tiles-" + opts.kind, String(tiles));
      container.setAttribute("data-tile-features-" + opts.kind, String(features));
    });
    layer.on("tileerror", function (e) { container.setAttribute("data-error-tiles-" + opts.kind, String(e.error)); });
    return layer;
  }
  window.quhua = {apiLayer: apiLayer, issueLayer: issueLayer, legend: legend, showNames: showNames, setDate: setDate,
                  ruleColour: ruleColour, escape: esc, nationalChrome: nationalChrome,
                  tileLayer: tileLayer};
})();
