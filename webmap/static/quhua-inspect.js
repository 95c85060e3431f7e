/* The round page's map (no inline script: the Content-Security-Policy forbids them): the round's markers,
   fetched from its markers.json, coloured by this round's condition; a new position found in the round
   (moved, re-surveyed, newly set) is a hollow circle joined to the stored one by a dashed line.
   Like the province map (webmap/maps.py): the configured basemap and its attribution under the data, the
   "区划 quhua" attribution prefix and a metric scale. The markers not inspected are small dots in the lowest
   pane, so that a line of a hundred markers stays a thin dotted line; the inspected ones are larger, outlined
   in white, in a pane above them, and the positions found above those: a lost or moved marker is never
   hidden under the uninspected ones, whatever order the data arrives in. */
(function () {
  var element = document.getElementById("inspect-map");
  if (!element || !window.L) { return; }
  var map = L.map(element, { zoomSnap: 0.5, maxZoom: 19, minZoom: 3 });
  map.attributionControl.setPrefix("区划 quhua");
  L.control.scale({ imperial: false }).addTo(map);
  var tiles = element.getAttribute("data-basemap-url");
  if (tiles) {
    L.tileLayer(tiles, { attribution: element.getAttribute("data-basemap-attribution") || "", maxZoom: 18 })
      .addTo(map);
  }
  /* Leaflet's overlayPane is 400, its markerPane 600 */
  var PANES = { lines: 410, uninspected: 420, inspected: 440, found: 450 };
  Object.keys(PANES).forEach(function (name) {
    map.createPane("inspect-" + name).style.zIndex = PANES[name];
  });
  map.setView([30, 114], 6);
  fetch(element.getAttribute("data-geojson"), { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      if (data.lines) {  /* the round's lines (each province's stored version), under the markers */
        L.geoJSON(data.lines, { interactive: false, pane: "inspect-lines",
                                style: { color: "#444", weight: 2, opacity: 0.6 } }).addTo(map);
      }
      var stored = {}, byId = {};
      data.features.forEach(function (f) {
        if (f.properties.kind === "stored") { stored[f.properties.marker_id] = f.geometry.coordinates; }
      });
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          var p = feature.properties, found = p.kind === "found", inspected = p.condition !== null;
          var className = "inspect-marker inspect-" + p.kind + " condition-" + (p.condition || "none");
          if (found) {
            /* no fill: a click (or the eye) in the ring reaches the marker under it */
            return L.circleMarker(latlng, { pane: "inspect-found", className: className, radius: 8,
                                            color: p.colour, weight: 3, fill: false });
          }
          if (!inspected) {
            return L.circleMarker(latlng, { pane: "inspect-uninspected", className: className, radius: 2,
                                            stroke: false, fillColor: p.colour, fillOpacity: 0.8 });
          }
          return L.circleMarker(latlng, { pane: "inspect-inspected", className: className, radius: 7,
                                          color: "#fff", weight: 2, fillColor: p.colour, fillOpacity: 1 });
        },
        onEachFeature: function (feature, marker) {
          var p = feature.properties, text = document.createElement("div");
          text.textContent = p.marker_id + " · " + p.label + (p.shift_m !== null ? " · " + p.shift_m.toFixed(2) + " m" : "")
            + (p.remarks ? " · " + p.remarks : "");
          marker.bindPopup(text);
          marker.options.markerId = p.marker_id;
          if (p.kind === "stored") { byId[p.marker_id] = marker; }
          if (p.kind === "found" && stored[p.marker_id]) {
            var from = stored[p.marker_id];
            L.polyline([[from[1], from[0]], marker.getLatLng()],
                       { pane: "inspect-found", className: "inspect-shift", interactive: false, color: p.colour, dashArray: "4 4",
                         weight: 2 }).addTo(map);
          }
        }
      }).addTo(map);
      /* not animated: Leaflet ignores (or, in the frame before it starts, undoes) a setView while a zoom
         animation runs, so a row clicked as soon as the markers appear would not be shown close up */
      if (data.features.length) { map.fitBounds(layer.getBounds(), { padding: [20, 20], animate: false }); }
      /* a row of the findings table shows its marker close up (17: about 1 m a pixel, a 30 m move is clear) */
      document.querySelectorAll("#findings-table tr[data-marker]").forEach(function (row) {
        row.addEventListener("click", function () {
          var marker = byId[row.getAttribute("data-marker")];
          if (!marker) { return; }
          map.setView(marker.getLatLng(), 17, { animate: false });
          element.setAttribute("data-focus", row.getAttribute("data-marker"));
        });
      });
      element.setAttribute("data-features", String(data.features.length));
    });
})();
