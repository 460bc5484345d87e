// The control room's camera wall: a few tiles stream live (MJPEG), the others show a still refreshed every
// second; a tile that cannot stream falls back to stills and tries again.
import { mediaUrl, routes } from '../shared/api.js';
import { el } from '../shared/format.js';
import { t, tv } from '../shared/i18n.js';
import { $ } from '../shared/page.js';

// Browsers open at most 6 HTTP/1.1 connections per host and an MJPEG stream holds one for good,
// so only a few tiles stream live; the others refresh a still frame every second.
const LIVE_STREAMS = 2;

export const cameras = new Map();
const live = { tiles: [] };

function cameraId(c) { return c.id ?? c.camera_id ?? c.name; }

export function upsertCamera(c) {
  const id = cameraId(c);
  if (id === undefined) return;
  cameras.set(id, { ...(cameras.get(id) || {}), ...c, id });
}

export function camState(c) { return c.state || 'unknown'; }

export function renderCameras() {
  const wall = $('cameras');
  const cams = [...cameras.values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  if (!live.tiles.length) live.tiles = cams.slice(0, LIVE_STREAMS).map((c) => c.id);
  for (const c of cams) {
    let tile = wall.querySelector(`[data-cam="${CSS.escape(String(c.id))}"]`);
    const st = camState(c);
    if (!tile) {
      tile = el('figure', { class: 'cam', dataset: { cam: c.id }, onclick: () => makeLive(c.id) },
        el('img', { alt: '', onerror: () => liveFailed(tile) }),
        el('figcaption', {}, el('span', { class: 'cam-name' }), el('span', { class: 'cam-state' }), el('span', { class: 'cam-fps muted' })));
      wall.append(tile);
    }
    const wasState = tile.dataset.state;
    tile.dataset.state = st;
    tile.querySelector('.cam-name').textContent = c.name || c.id;
    tile.querySelector('.cam-state').textContent = tv('camstate', st);
    tile.querySelector('.cam-state').className = `cam-state chip cam-${st}`;
    tile.querySelector('.cam-fps').textContent = c.fps ? `${Number(c.fps).toFixed(1)} fps` : '';
    const img = tile.querySelector('img');
    const wantLive = live.tiles.includes(c.id) && st === 'online';
    const mode = wantLive ? 'live' : 'still';
    if (tile.dataset.mode === 'still-retry') { /* waiting to try the live view again */ } else if (tile.dataset.mode !== mode || (wasState !== st && st === 'online')) {
      tile.dataset.mode = mode;
      img.src = mode === 'live' ? mediaUrl(routes.live(c.id)) + `&t=${Date.now()}` : mediaUrl(routes.latest(c.id)) + `&t=${Date.now()}`;
      tile.dataset.since = String(Date.now());
    }
  }
  const on = cams.filter((c) => camState(c) === 'online').length;
  $('cam-count').textContent = t('cam.count', { on, n: cams.length });
}

export function refreshStills() {
  // Chromium shows an MJPEG part only once the next one starts: a camera sending few frames stays black in
  // a live tile. Show its stills meanwhile.
  document.querySelectorAll('.cam[data-mode="live"]').forEach((tile) => {
    if (tile.querySelector('img').naturalWidth) { tile.style.backgroundImage = ''; return; }
    // not drawn yet: the newest still under it (the image is transparent until its first frame)
    const still = new Image();
    still.onload = () => { tile.style.backgroundImage = `url("${still.src}")`; };
    still.src = mediaUrl(routes.latest(tile.dataset.cam)) + `&t=${Date.now()}`;
    if (Date.now() - Number(tile.dataset.since || 0) > 2000) liveFailed(tile, 10000);
  });
  document.querySelectorAll('.cam[data-mode="still"], .cam[data-mode="still-retry"]').forEach((tile) => {
    if (tile.dataset.state === 'offline') return;
    const img = tile.querySelector('img');
    const next = new Image();
    next.onload = () => { img.src = next.src; };
    next.src = mediaUrl(routes.latest(tile.dataset.cam)) + `&t=${Date.now()}`;
  });
}

// No frame yet (404) or the stream broke: show stills for now, try the live view again in a few seconds.
function liveFailed(tile, retryMs = 2000) {
  if (tile.dataset.mode !== 'live') return;
  tile.dataset.mode = 'still-retry';
  tile.querySelector('img').src = mediaUrl(routes.latest(tile.dataset.cam)) + `&t=${Date.now()}`;
  setTimeout(() => { if (tile.dataset.mode === 'still-retry') { tile.dataset.mode = ''; renderCameras(); } }, retryMs);
}

function makeLive(id) {
  if (live.tiles.includes(id)) return;
  live.tiles = [id, ...live.tiles].slice(0, LIVE_STREAMS);
  renderCameras();
}
