// HTTP to the api with the bearer token. Every route the pages use is named here, in one place.
const TOKEN_KEY = 'se.token';
const USER_KEY = 'se.user';

export class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export const auth = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  get user() { try { return JSON.parse(localStorage.getItem(USER_KEY) || 'null'); } catch { return null; } },
  save(token, user) { localStorage.setItem(TOKEN_KEY, token); localStorage.setItem(USER_KEY, JSON.stringify(user)); },
  clear() { localStorage.removeItem(TOKEN_KEY); localStorage.removeItem(USER_KEY); },
};

// fetch throws a TypeError when the network is down (offline), as opposed to an answer from the server.
export function isNetworkError(err) { return err instanceof TypeError; }

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// A network failure throws a TypeError (offline); an http error throws HttpError with the api's message.
export async function request(method, path, body) {
  const headers = {};
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const r = await fetch(path, { method, headers, body: payload });
  if (r.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized();
  if (!r.ok) {
    let msg = `${r.status}`;
    let body = null;
    try { body = await r.json(); msg = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail ?? body); } catch { /* not json */ }
    const err = new HttpError(r.status, msg);
    err.body = body;   // e.g. a refused camera config's errors, one per field
    throw err;
  }
  if (r.status === 204) return null;
  const ct = r.headers.get('content-type') || '';
  return ct.includes('json') ? r.json() : r.text();
}

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
