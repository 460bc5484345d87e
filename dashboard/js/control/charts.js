// Small inline SVG charts for the day's numbers: no library.
const NS = 'http://www.w3.org/2000/svg';

function svg(w, h) {
  const s = document.createElementNS(NS, 'svg');
  s.setAttribute('viewBox', `0 0 ${w} ${h}`);
  s.setAttribute('width', w);
  s.setAttribute('height', h);
  s.setAttribute('class', 'chart');
  return s;
}

function node(tag, attrs) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}

export function bars(values, { w = 120, h = 28, color = '#5b8def', title = '' } = {}) {
  const s = svg(w, h);
  const max = Math.max(1, ...values);
  const bw = w / Math.max(1, values.length);
  values.forEach((v, i) => {
    const bh = (v / max) * (h - 2);
    const r = node('rect', { x: (i * bw + 0.5).toFixed(1), y: (h - bh).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: bh.toFixed(1), fill: color });
    const tt = node('title', {});
    tt.textContent = `${i}: ${v}`;
    r.append(tt);
    s.append(r);
  });
  if (title) { const tt = node('title', {}); tt.textContent = title; s.prepend(tt); }
  return s;
}

export function ring(fraction, { size = 28, color = '#2ca25f' } = {}) {
  const s = svg(size, size);
  const r = size / 2 - 3;
  const c = 2 * Math.PI * r;
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  s.append(node('circle', { cx: size / 2, cy: size / 2, r, fill: 'none', stroke: '#3a4150', 'stroke-width': 4 }));
  s.append(node('circle', {
    cx: size / 2, cy: size / 2, r, fill: 'none', stroke: color, 'stroke-width': 4,
    'stroke-dasharray': `${(c * f).toFixed(1)} ${c.toFixed(1)}`, transform: `rotate(-90 ${size / 2} ${size / 2})`,
  }));
  return s;
}
