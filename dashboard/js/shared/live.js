// The live link: one websocket to /ws, reconnecting with capped exponential backoff and jitter.
// The server replays the current state on connect, and the pages also refetch, so nothing is missed.
import { auth } from './api.js';

export class LiveLink {
  constructor({ onMessage, onStatus, minDelay = 500, maxDelay = 10000 }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus || (() => {});
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.retryAt = 0;
    this.lastMessageAt = 0;
    window.addEventListener('online', () => this.reconnectNow());
    // The socket may stay open a while with no network; say at once that we are offline.
    window.addEventListener('offline', () => this.onStatus('offline'));
  }

  start() { this.stopped = false; this.open(); }

  stop() { this.stopped = true; clearTimeout(this.timer); if (this.ws) this.ws.close(); }

  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= 1)) return;
    clearTimeout(this.timer);
    this.open();
  }

  open() {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${proto}://${location.host}/ws?token=${encodeURIComponent(auth.token || '')}`;
    let ws;
    try { ws = new WebSocket(url); } catch { this.schedule(); return; }
    this.ws = ws;
    this.onStatus(navigator.onLine ? 'connecting' : 'offline');
    ws.onopen = () => { this.attempt = 0; this.onStatus('up'); };
    ws.onmessage = (e) => {
      this.lastMessageAt = Date.now();
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg && typeof msg.topic === 'string') this.onMessage(msg.topic, msg.payload);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 4401 || e.code === 4403 || e.code === 1008) { this.onStatus('unauthorized'); return; }
      this.schedule();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  schedule() {
    if (this.stopped) return;
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.onStatus(navigator.onLine ? 'down' : 'offline', this.retryAt);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }
}

// The banner that says the link is down and when the next try is.
export function bindBanner(el, t) {
  let retryAt = 0;
  let state = 'connecting';
  const render = () => {
    if (state === 'up') { el.hidden = true; return; }
    el.hidden = false;
    if (state === 'down') {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      el.textContent = t('link.down', { s });
    } else if (state === 'unauthorized') el.textContent = t('link.unauthorized');
    else if (state === 'offline') el.textContent = t('link.offline');
    else el.textContent = t('link.connecting');
  };
  setInterval(render, 500);
  return (next, at) => { state = next; if (at) retryAt = at; el.dataset.state = next; document.body.dataset.link = next; render(); };
}
