// HTTP to the api with the bearer token. Every route the pages use is named here, in one place.
// The control room and phone pages keep the token in localStorage; a page with its own sign-in (the
// departments' page) can keep it elsewhere with useTokenStore.
let store = () => localStorage;
let TOKEN_KEY = 'se.token';
let USER_KEY = 'se.user';
export function useTokenStore(storage, prefix) {
  store = () => storage; TOKEN_KEY = `${prefix}.token`; USER_KEY = `${prefix}.user`;
}

export class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export const auth = {
  get token() { return store().getItem(TOKEN_KEY); },
  get user() { try { return JSON.parse(store().getItem(USER_KEY) || 'null'); } catch { return null; } },
  save(token, user) { store().setItem(TOKEN_KEY, token); store().setItem(USER_KEY, JSON.stringify(user)); },
  clear() { store().removeItem(TOKEN_KEY); store().removeItem(USER_KEY); },
};

// fetch throws a TypeError when the network is down (offline), as opposed to an answer from the server.
export function isNetworkError(err) { return err instanceof TypeError; }

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// The api's refusal in one readable line: its `detail` when a sentence, else the one-line `message` of a
// 422, else the raw detail.
export function errorMessage(body, status) {
  if (body && typeof body.detail === 'string') return body.detail;
  if (body && typeof body.message === 'string') return body.message;
  if (body && body.detail !== undefined) return JSON.stringify(body.detail);
  return `${status}`;
}

// A network failure throws a TypeError (offline); an http error throws HttpError with the api's message.
// Answers { body, headers } (a list's X-Total-Count is a header); `request` answers the body alone.
export async function exchange(method, path, body) {
  const headers = {};
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const r = await fetch(path, { method, headers, body: payload });
  if (r.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized();
  if (!r.ok) {
    let body = null;
    try { body = await r.json(); } catch { /* not json */ }
    const err = new HttpError(r.status, errorMessage(body, r.status));
    err.body = body;   // e.g. a refused camera config's errors, one per field
    throw err;
  }
  if (r.status === 204) return { body: null, headers: r.headers };
  const ct = r.headers.get('content-type') || '';
  return { body: await (ct.includes('json') ? r.json() : r.text()), headers: r.headers };
}

export async function request(method, path, body) { return (await exchange(method, path, body)).body; }

export const get = (p) => request('GET', p);
export const post = (p, b) => request('POST', p, b ?? {});

export async function login(name, password) {
  const res = await request('POST', '/api/auth/login', { username: name, password });
  const token = res.access_token || res.token;
  auth.save(token, null);
  const me = res.user || await get('/api/auth/me');
  auth.save(token, me);
  return me;
}

// Media (snapshots, clips) need the token too; <img>/<video> cannot send headers, so it goes in the query.
export function mediaUrl(url) {
  if (!url) return '';
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}token=${encodeURIComponent(auth.token || '')}`;
}

const myTeam = () => (auth.user && auth.user.team_id) ?? 0;

export const routes = {
  me: () => '/api/auth/me',
  site: () => '/api/site',
  incidents: () => '/api/incidents',
  incident: (id) => `/api/incidents/${id}`,
  incidentAction: (id) => `/api/incidents/${id}/actions`,
  incidentPhotos: (id) => `/api/incidents/${id}/photos`,
  proposal: (id) => `/api/incidents/${id}/proposal`,
  cameras: () => '/api/cameras',
  live: (id) => `/api/cameras/${encodeURIComponent(id)}/live.mjpeg`,
  latest: (id) => `/api/cameras/${encodeURIComponent(id)}/latest.jpg`,
  teams: () => '/api/teams',
  stats: () => '/api/stats/summary',
  parking: () => '/api/parking',
  sensorEvidence: (id) => `/api/sensors/incidents/${id}`,
  myTasks: () => '/api/tasks',
  myTeam: () => `/api/teams/${myTeam()}`,
  myRoute: () => `/api/teams/${myTeam()}/route`,
  checkin: () => `/api/teams/${myTeam()}/checkins`,
  points: () => `/api/teams/${myTeam()}/points`,
  teamStatus: (id) => `/api/teams/${id}/status`,
  cameraConfigs: () => '/api/camera-configs',
  cameraConfig: (id) => `/api/camera-configs/${encodeURIComponent(id)}`,
  cameraSchema: (id) => `/api/camera-configs/schema${id ? `?detector=${encodeURIComponent(id)}` : ''}`,
  cameraProbe: () => '/api/camera-configs/probe',
  cameraOnvif: () => '/api/camera-configs/onvif',
  cameraDebug: (id) => `/api/camera-configs/${encodeURIComponent(id)}/debug.jpg`,
  cameraStill: (id) => `/api/camera-configs/${encodeURIComponent(id)}/still.jpg`,
  cameraHistory: (id) => `/api/camera-configs/${encodeURIComponent(id)}/history`,
  cameraEnabled: (id) => `/api/camera-configs/${encodeURIComponent(id)}/enabled`,
  cameraRetention: (id) => `/api/camera-configs/${encodeURIComponent(id)}/retention`,
  cameraExport: () => '/api/camera-configs/export.yaml',
  cameraImport: () => '/api/camera-configs/import',
  way: (from, to) => `/api/site/path?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
};
