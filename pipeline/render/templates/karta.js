/* Layer builders for the weekly map. Every text in the data is HTML-escaped in Python
   before it gets here; these functions only place it. */
function lbPanes(map, panes) {
  // Fixed drawing order: areas < hotspot zones < clusters < events (overlayPane, 400).
  panes.forEach(function (p) { map.createPane(p[0]).style.zIndex = p[1]; });
}

function lbGeoJson(data, opts) {
  return L.geoJSON(data, {
    pane: opts.pane,
    interactive: opts.interactive !== false,
    style: function (f) { return f.properties.style; },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      if (p.popup) { layer.bindPopup(p.popup, {maxWidth: 340}); }
      if (p.tooltip) { layer.bindTooltip(p.tooltip, {sticky: true}); }
      if (p.cid) {
        // A data attribute on the SVG path lets tests and QA tools find a cluster by id.
        layer.on('add', function () {
          var el = layer.getElement();
          if (el) { el.setAttribute('data-cluster-id', p.cid); }
        });
      }
    }
  });
}

function lbEvents(rows, colors) {
  // rows: [lat, lon, colour index, popup HTML]; circle markers need no icon images.
  var group = L.markerClusterGroup({showCoverageOnHover: false, maxClusterRadius: 40,
                                       disableClusteringAtZoom: 16, chunkedLoading: true});
  rows.forEach(function (r) {
    L.circleMarker([r[0], r[1]], {
      radius: 6, color: '#ffffff', weight: 1, fillColor: colors[r[2]], fillOpacity: 0.9,
      className: 'lb-event'
    }).bindPopup(r[3], {maxWidth: 300}).addTo(group);
  });
  return group;
}
