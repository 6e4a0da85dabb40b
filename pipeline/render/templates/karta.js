/* Layer builders and page behaviour for the weekly map. Every text in the data is
   HTML-escaped in Python before it gets here; these functions only place it. */

//: Below this width the page is laid out for a phone: panels start collapsed.
var LB_PHONE_WIDTH = 700;

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

function lbEvents(map, rows, colors) {
  // rows: [lat, lon, colour index, popup HTML, time-of-day key]. One dot per event, never
  // grouped into numbered bubbles: those looked like clusters, and clusters mean something here.
  // A national week comes as counts per cell: a sixth element, the count; such a row is one
  // time of day (or 'alla', the whole day) and shows only when that is chosen.
  var group = L.featureGroup();
  var markers = rows.map(function (r) {
    var n = r.length > 5 ? r[5] : null;
    var m = L.circleMarker([r[0], r[1]], {
      // a cell's dot grows with the log of its count, so the zones and clusters stay visible
      radius: n === null ? 5 : Math.min(3 + 3 * Math.log10(n + 1), 12),
      color: '#ffffff', weight: 1, fillColor: colors[r[2]], fillOpacity: n === null ? 0.9 : 0.75,
      className: 'lb-event lb-event-' + r[4]
    }).bindPopup(r[3], {maxWidth: 300});
    m.lbTimeOfDay = r[4];
    m.lbCount = n;
    return m;
  });
  group.lbFilter = function (tod) {
    var shown = 0;
    markers.forEach(function (m) {
      var show = m.lbCount === null ? (tod === 'alla' || m.lbTimeOfDay === tod) : m.lbTimeOfDay === tod;
      if (show) { shown += m.lbCount === null ? 1 : m.lbCount; if (!group.hasLayer(m)) { group.addLayer(m); } }
      else if (group.hasLayer(m)) { group.removeLayer(m); }
    });
    document.querySelectorAll('.lb-event-count').forEach(function (el) { el.textContent = shown; });
    document.documentElement.setAttribute('data-time-of-day', tod);
  };
  group.lbFilter('alla');
  map.lbEventGroups = (map.lbEventGroups || []).concat([group]);
  return group;
}

function lbLabelLayer(rows, className) {
  // rows: [lat, lon, escaped text]: permanent labels that grow with the zoom (lbLabels).
  var group = L.layerGroup();
  rows.forEach(function (r) {
    L.tooltip({permanent: true, direction: 'center', className: className, interactive: false})
      .setLatLng([r[0], r[1]]).setContent(r[2]).addTo(group);
  });
  return group;
}

function lbLabels(map) {
  // Label size follows the zoom; place names appear only when close enough to read them.
  function scale() {
    var z = map.getZoom(), box = map.getContainer();
    box.style.setProperty('--lb-label-px', Math.max(10, Math.min(17, 10 + (z - 12) * 1.6)) + 'px');
    box.classList.toggle('lb-far', z < 11);
    box.classList.toggle('lb-near', z >= 14);
  }
  map.on('zoomend', scale);
  map.on('zoomend overlayadd', function () { setTimeout(lbDeclutter, 0); });
  map.whenReady(function () { scale(); setTimeout(lbDeclutter, 0); });
  // The time-of-day choice filters the event dots as well as zones and clusters.
  map.on('baselayerchange', function (e) {
    var tod = e.layer && e.layer.lbTimeOfDay;
    if (tod) { (map.lbEventGroups || []).forEach(function (g) { g.lbFilter(tod); }); }
  });
}

function lbDeclutter() {
  // Hide a label that would overlap one placed before it (labels come largest area first), so
  // the names that show can be read at every zoom.
  var placed = [];
  document.querySelectorAll('.lb-area-label, .lb-place-label').forEach(function (el) {
    el.classList.remove('lb-hidden');
    var r = el.getBoundingClientRect();
    if (r.width === 0) { return; }
    var hit = placed.some(function (q) {
      return r.left < q.right + 4 && r.right > q.left - 4 && r.top < q.bottom + 2 && r.bottom > q.top - 2;
    });
    if (hit) { el.classList.add('lb-hidden'); } else { placed.push(r); }
  });
}

function lbIsPhone() { return window.innerWidth < LB_PHONE_WIDTH; }

function lbLayout(map, control, bounds) {
  // Map below the title bar, whatever height the bar wraps to.
  var bar = document.querySelector('.lb-bar');
  var box = map.getContainer();
  if (bar) { box.style.setProperty('top', bar.offsetHeight + 'px', 'important'); map.invalidateSize(); }
  var summary = document.querySelector('.lb-summary');
  if (summary && bar) { summary.style.top = (bar.offsetHeight + 10) + 'px'; }
  var legend = document.querySelector('.lb-legend');
  var wide = !lbIsPhone();
  if (wide) {
    // A wide screen has room: keep the layer list open and leave it open on hover-out.
    control.expand();
    L.DomEvent.off(control._container, {mouseenter: control._expandSafely, mouseleave: control.collapse}, control);
    map.off('click', control.collapse, control);
  } else {
    document.querySelectorAll('details.lb-panel').forEach(function (d) { d.removeAttribute('open'); });
  }
  if (bounds) {
    // Keep the week's events clear of the open panels on a wide screen.
    var opts = wide ? {paddingTopLeft: [legend ? 350 : 20, 20], paddingBottomRight: [260, 20]}
                    : {padding: [12, 12]};
    map.fitBounds(bounds, opts);
  }
}
