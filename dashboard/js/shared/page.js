// What both pages do the same way: element lookup, a GET that tolerates failure, keeping the newest copy of
// an incident, place names from the site, and signing in / out with the language switch.
import { auth, get, HttpError, isNetworkError, login, routes, setUnauthorizedHandler } from './api.js';
import { parseTime } from './format.js';
import { apply, bindLangSwitch, loadI18n, onLangChange, t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

export async function safe(path) { try { return await get(path); } catch { return null; } }

// Messages and refreshes can cross: an older copy of an incident must not replace a newer one (docs/api.md).
export function isOlder(next, known) {
  return !!(known && known.updated_at && next.updated_at && parseTime(next.updated_at) < parseTime(known.updated_at));
}

// The site's places or grids by id (the api sends a mapping; a list is accepted too).
export function byId(v) {
  if (!v) return {};
  return Array.isArray(v) ? Object.fromEntries(v.map((p) => [p.id ?? p.name, p])) : v;
}
export function placesOf(site) { return byId(site && site.places); }
export function placeName(site, id) { const p = placesOf(site)[id]; return (p && p.name) || id; }
export function placeXY(site, id) { const p = placesOf(site)[id]; return p ? (p.xy || [p.x, p.y]) : null; }

// The way along the site's paths between two places (GET /api/site/path), asked once per pair: a promise of
// the points, or null when there is none (the pages then draw a straight line).
const ways = new Map();
export function wayBetween(from, to) {
  if (!from || !to || from === to) return Promise.resolve(null);
  const key = `${from}|${to}`;
  if (!ways.has(key)) {
    ways.set(key, safe(routes.way(from, to)).then((w) => {
      if (w && Array.isArray(w.path_xy) && w.path_xy.length >= 2) return w.path_xy;
      ways.delete(key);   // none, or offline: ask again next time
      return null;
    }));
  }
  return ways.get(key);
}

// Sign-in, sign-out and the language switch. start() runs once signed in; stop() before the login form shows;
// elsewhere(me) may name another page for this user (a leader on the control room goes to the phone page).
export async function boot({ start, stop = () => {}, onLang = () => {}, elsewhere = () => null }) {
  await loadI18n();
  bindLangSwitch($('lang'));
  onLangChange(() => { apply(document); onLang(); });
  const showLogin = () => { stop(); $('app').hidden = true; $('login').hidden = false; };
  const begin = () => { $('login').hidden = true; $('app').hidden = false; return start({ showLogin }); };
  setUnauthorizedHandler(() => { auth.clear(); showLogin(); });
  $('logout').addEventListener('click', () => { auth.clear(); location.reload(); });
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const me = await login(f.get('username'), f.get('password'));
      const url = elsewhere(me);
      if (url) { location.href = url; return; }
      begin();
    } catch (err) {
      $('login-error').textContent = err instanceof HttpError || isNetworkError(err)
        ? t('auth.failed', { msg: err.message }) : String(err);
    }
  });
  if (auth.token) begin(); else showLogin();
}
