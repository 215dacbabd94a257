/* Service worker of the mobile workbench (scope /field/): keeps the app shell and its
 * assets for offline use. API responses are never cached: case data only ever reaches
 * the device encrypted, through the app's own IndexedDB store. */
'use strict';

const CACHE = 'govloop-field-__VERSION__';
const SHELL = [
  '/field/',
  '/field/manifest.webmanifest',
  '/static/field/app.js',
  '/static/field/app.css',
  '/static/field/icon.svg',
  '/static/field/icon-192.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) return; // never cached
  if (!SHELL.includes(url.pathname)) return;
  // network first, so an online visit always gets the current shell; the cache when offline
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok && !response.redirected && response.type === 'basic') {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return response;
      })
      .catch(() =>
        caches.match(url.pathname).then((hit) => hit || Response.error()),
      ),
  );
});
