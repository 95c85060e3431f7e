/* The round page's map (no inline script: the Content-Security-Policy forbids them): the round's markers,
   fetched from its markers.json, coloured by this round's condition; a new position found in the round
   (moved, re-surveyed, newly set) is a hollow circle joined to the stored one by a dashed line. */
(function () {
  var element = document.getElementById("inspect-map");
  if (!element || !window.L) { return; }
  var map = L.map(element);
  map.setView([30, 114], 6);
  fetch(element.getAttribute("data-geojson"), { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      if (data.lines) {  /* the round's lines (each province's stored version), under the markers */
        L.geoJSON(data.lines, { interactive: false, style: { color: "#444", weight: 2, opacity: 0.6 } }).addTo(map);
      }
      var stored = {};
      data.features.forEach(function (f) {
        if (f.properties.kind === "stored") { stored[f.properties.marker_id] = f.geometry.coordinates; }
      });
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          var p = feature.properties, found = p.kind === "found";
          return L.circleMarker(latlng, { radius: found ? 7 : 5, color: p.colour, weight: 2,
                                          fillColor: p.colour, fillOpacity: found ? 0 : 0.85 });
        },
        onEachFeature: function (feature, marker) {
          var p = feature.properties, text = document.createElement("div");
          text.textContent = p.marker_id + " · " + p.label + (p.shift_m !== null ? " · " + p.shift_m.toFixed(2) + " m" : "")
            + (p.remarks ? " · " + p.remarks : "");
          marker.bindPopup(text);
          marker.options.markerId = p.marker_id;
          if (p.kind === "found" && stored[p.marker_id]) {
            var from = stored[p.marker_id];
            L.polyline([[from[1], from[0]], marker.getLatLng()], { color: p.colour, dashArray: "4 4", weight: 1 })
              .addTo(map);
          }
        }
      }).addTo(map);
      if (data.features.length) { map.fitBounds(layer.getBounds(), { padding: [20, 20] }); }
      element.setAttribute("data-features", String(data.features.length));
    });
})();
