// Service worker: keeps the phone page's shell (HTML, scripts, styles, dictionary, plan) so it opens with
// no network; the api is never cached (actions taken offline go to the page's IndexedDB outbox instead).
const CACHE = 'sharpeyes-shell-v2';
const SHELL = [
  '/m/', '/manifest.webmanifest', '/i18n.json', '/css/app.css',
  '/js/mobile/main.js', '/js/mobile/queue.js', '/js/shared/actions.js', '/js/shared/api.js',
  '/js/shared/format.js', '/js/shared/i18n.js', '/js/shared/live.js', '/js/shared/page.js', '/js/shared/plan.js',
  '/vendor/leaflet/leaflet.js', '/vendor/leaflet/leaflet.css',
  '/icons/icon.svg', '/icons/icon-192.png',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// Network first (fresh code when online), the cached shell when offline; api and websocket pass through.
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname === '/ws') return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return r;
  }).catch(() => caches.match(e.request, { ignoreSearch: true }).then((r) => r || Response.error())));
});
