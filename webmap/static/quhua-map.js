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
         feature: "要素", current: "现行", superseded: "已被替代", error: "错误", warning: "警告", loading: "加载中…", more: "（显示前 {n} 个）"},
    en: {line: "Line", name: "Name", sides: "Left/right codes", province: "Submitted by", status: "Status",
         submission: "Submission", agreement: "Neighbour", agreed: "agrees", differs: "differs",
         single: "one side only", marker: "Marker", type: "Type", declared: "Declared", stored: "Stored",
         height: "Height", rule: "Rule", severity: "Severity", feature: "Feature", current: "current",
         superseded: "superseded", loading: "loading…", more: " (first {n} shown)"}
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
  var popups = {
    lines: function (p, t) {
      return table([[t.line, esc(p.line_id)], [t.name, esc(p.name)], [t.sides, esc(p.left_code) + " / " + esc(p.right_code)],
                    [t.province, esc(p.province)], [t.status, esc(t[p.status] || p.status)],
                    [t.agreement, esc(t[p.agreement] || p.agreement)], [t.submission, esc(p.submission_id)]]);
    },
    markers: function (p, t, f) {
      var c = f.geometry.coordinates;
      return table([[t.marker, esc(p.marker_id)], [t.type, esc(p.marker_type)], [t.line, esc(p.line_id)],
                    [t.declared + " x/y", num(p.x, 3) + " / " + num(p.y, 3)],
                    [t.declared + " lon/lat", num(p.lon, 7) + ", " + num(p.lat, 7)],
                    [t.stored + " lon/lat", num(c[0], 7) + ", " + num(c[1], 7)], [t.height, num(p.h, 2)],
                    [t.submission, esc(p.submission_id)]]);
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
    var sequence = 0, loaded = null;
    var simplified = opts.kind === "lines" || opts.kind === "superseded";
    function covered() {
      return loaded && loaded.complete && loaded.bounds.contains(map.getBounds()) &&
        (!simplified || Math.round(map.getZoom()) <= loaded.zoom);
    }
    function load() {
      if (!map.hasLayer(group) || map.getZoom() < opts.minZoom || covered()) { return; }
      var mine = ++sequence, bounds = map.getBounds().pad(0.5), zoom = Math.round(map.getZoom());
      var url = opts.url + "&bbox=" + bboxOf(bounds) + "&zoom=" + zoom + "&limit=10000";
      fetch(url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status + " " + url); } return r.json(); })
        .then(function (data) {
          if (mine !== sequence) { return; }
          loaded = {bounds: bounds, zoom: zoom, complete: data.numberReturned === data.numberMatched};
          group.clearLayers();
          var layer = L.geoJSON(data, options(opts.kind, opts.lang, map));
          if (opts.kind === "markers") { group.addLayers(layer.getLayers()); } else { layer.eachLayer(function (l) { group.addLayer(l); }); }
          map.getContainer().setAttribute("data-loaded-" + opts.kind, String(layer.getLayers().length));
        })
        .catch(function (err) { map.getContainer().setAttribute("data-error-" + opts.kind, String(err)); });
    }
    group.on("add", function () { setTimeout(load, 0); });  // after the map has been fitted to its bounds
    map.on("moveend", load);
    return group;
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
  function legend(map, entries, title) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "quhua-legend");
      div.innerHTML = (title ? "<b>" + esc(title) + "</b><br>" : "") + entries.map(function (e) {
        return "<span class='swatch' style='background:" + esc(e[0]) + "'></span>" + esc(e[1]);
      }).join("<br>");
      return div;
    };
    control.addTo(map);
    return control;
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
  window.quhua = {apiLayer: apiLayer, issueLayer: issueLayer, legend: legend, showNames: showNames,
                  ruleColour: ruleColour, escape: esc};
})();
