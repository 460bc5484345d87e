// Small display helpers shared by both pages.
import { t } from './i18n.js';

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function parseTime(v) {
  if (!v) return null;
  if (typeof v === 'number') return v > 1e12 ? v : v * 1000;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

export function clock(v) {
  const ms = parseTime(v);
  if (ms === null) return '—';
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return t('unit.s', { n: s });
  if (s < 3600) return t('unit.min', { n: Math.round(s / 60) });
  if (s < 86400) return t('unit.h', { n: (s / 3600).toFixed(1) });
  return t('unit.d', { n: (s / 86400).toFixed(1) });
}

// "in 8 min" / "overdue 3 min"
export function untilDeadline(deadline) {
  const ms = parseTime(deadline);
  if (ms === null) return '—';
  const left = (ms - Date.now()) / 1000;
  return left >= 0 ? t('deadline.left', { d: duration(left) }) : t('deadline.over', { d: duration(-left) });
}

export function severityClass(sev) { return `sev sev-${Math.max(1, Math.min(5, Number(sev) || 1))}`; }

export function beep() {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.type = 'sine';
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.0001, ctx.currentTime);
    g.gain.exponentialRampToValueAtTime(0.3, ctx.currentTime + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.4);
    o.connect(g).connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.45);
  } catch { /* audio not allowed yet */ }
}
