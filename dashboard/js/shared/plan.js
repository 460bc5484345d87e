// The site plan in Leaflet with CRS.Simple: the plan image covers [[0, 0], [height_m, width_m]] and a point
// [x, y] in metres (x east, y north, from the bottom-left corner) is L.latLng(y, x) (patrol/site.py).
import { t } from './i18n.js';
import { byId, placesOf, placeXY } from './page.js';

const L = window.L;

export const ll = (xy) => L.latLng(xy[1], xy[0]);

export class PlanMap {
  constructor(el, site, { compact = false } = {}) {
    this.site = site;
    this.places = placesOf(site);
    const plan = site.plan || {};
    const w = plan.width_m || 200;
    const h = plan.height_m || 150;
    this.bounds = L.latLngBounds([[0, 0], [h, w]]);
    this.map = L.map(el, {
      crs: L.CRS.Simple, minZoom: -3, maxZoom: 3, zoomSnap: 0.25, attributionControl: false,
      zoomControl: !compact, maxBounds: this.bounds.pad(0.3),
    });
    if (plan.image_url) L.imageOverlay(plan.image_url, this.bounds).addTo(this.map);
    this.map.fitBounds(this.bounds);
    this.layers = {
      grids: L.layerGroup().addTo(this.map),
      links: L.layerGroup().addTo(this.map),
      places: L.layerGroup().addTo(this.map),
      routes: L.layerGroup().addTo(this.map),
      cameras: L.layerGroup().addTo(this.map),
      incidents: L.layerGroup().addTo(this.map),
      teams: L.layerGroup().addTo(this.map),
    };
    this.markers = { cameras: new Map(), incidents: new Map(), teams: new Map() };
    this.drawGrids();
    // Made while hidden (a phone tab), the map was fitted at size 0: fit it again when it first gets a size.
    this.sized = el.clientWidth > 0 && el.clientHeight > 0;
    new ResizeObserver(() => {
      const had = this.sized;
      this.sized = el.clientWidth > 0 && el.clientHeight > 0;
      this.map.invalidateSize();
      if (this.sized && !had) this.map.fitBounds(this.bounds);
    }).observe(el);
  }

  placeXY(name) { return placeXY(this.site, name); }

  drawGrids() {
    for (const [id, g] of Object.entries(byId(this.site.grids))) {
      if (!g.polygon) continue;
      L.polygon(g.polygon.map(ll), { color: '#5b8def', weight: 1, dashArray: '4 4', fillOpacity: 0.04, interactive: false })
        .bindTooltip(g.name || id, { sticky: true }).addTo(this.layers.grids);
    }
  }

  drawCheckpoints(filter) {
    for (const [id, p] of Object.entries(this.places)) {
      if (p.kind !== 'checkpoint' || (filter && !filter(id))) continue;
      L.circleMarker(ll(p.xy), { radius: 5, color: '#0a7', weight: 2, fillOpacity: 0.6 })
        .bindTooltip(`${t('map.checkpoint')} ${p.name || id}`).addTo(this.layers.places);
    }
  }

  icon(cls, label) {
    return L.divIcon({ className: `pin ${cls}`, html: `<span>${label}</span>`, iconSize: [26, 26], iconAnchor: [13, 13] });
  }

  upsert(kind, id, xy, cls, label, tooltip, onClick) {
    const store = this.markers[kind];
    let m = store.get(id);
    if (!xy) { if (m) { m.remove(); store.delete(id); } return null; }
    if (!m) {
      m = L.marker(ll(xy), { icon: this.icon(cls, label) }).addTo(this.layers[kind]);
      if (onClick) m.on('click', onClick);
      store.set(id, m);
    } else {
      m.setLatLng(ll(xy));
      m.setIcon(this.icon(cls, label));
    }
    m.unbindTooltip();
    if (tooltip) m.bindTooltip(tooltip);
    return m;
  }

  remove(kind, id) { const m = this.markers[kind].get(id); if (m) { m.remove(); this.markers[kind].delete(id); } }

  clearRoutes() { this.layers.routes.clearLayers(); }

  drawRoute(points, color = '#e6550d') {
    const pts = points.filter(Boolean).map(ll);
    if (pts.length < 2) return null;
    return L.polyline(pts, { color, weight: 4, opacity: 0.85, dashArray: '8 6' }).addTo(this.layers.routes);
  }

  focus(xy, zoom) { if (xy) this.map.setView(ll(xy), zoom ?? Math.max(this.map.getZoom(), 0)); }

  // Show these points (a way there) as large as fits, never past `maxZoom`, kept inside the plan.
  fitPoints(points, maxZoom = 1) {
    const pts = points.filter(Boolean).map(ll);
    if (!pts.length) return;
    this.map.fitBounds(L.latLngBounds(pts).pad(0.25), { maxZoom });
    this.map.panInsideBounds(this.bounds, { animate: false });
  }
}
