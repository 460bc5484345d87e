// What both pages do the same way: element lookup, a GET that tolerates failure, keeping the newest copy of
// an incident, place names from the site, and signing in / out with the language switch.
import { auth, get, HttpError, isNetworkError, login, setUnauthorizedHandler } from './api.js';
import { parseTime } from './format.js';
import { apply, bindLangSwitch, loadI18n, onLangChange, t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

export async function safe(path) { try { return await get(path); } catch { return null; } }

// Messages and refreshes can cross: an older copy of an incident must not replace a newer one (docs/api.md).
export function isOlder(next, known) {
  return !!(known && known.updated_at && next.updated_at && parseTime(next.updated_at) < parseTime(known.updated_at));
}

export function placeName(site, id) { const p = site?.places?.[id]; return (p && p.name) || id; }
export function placeXY(site, id) { const p = site?.places?.[id]; return p ? p.xy : null; }

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
