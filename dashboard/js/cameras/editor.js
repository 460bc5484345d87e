// The zone editor on a still of the camera: polygons in relative 0..1 coordinates (as the config writes them)
// drawn over the image. Draw: click the points, then "finish". Move: drag a corner, or drag the polygon.
// Each shape is {kind: 'zone'|'objmask'|'motionmask', points: [[x, y], ...], name?}; the page keeps the list.
const SVG = 'http://www.w3.org/2000/svg';
const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

function node(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

export class ZoneEditor {
  constructor(svg, { onChange = () => {}, onSelect = () => {} } = {}) {
    this.svg = svg;
    this.shapes = [];
    this.selected = null;
    this.draft = null;          // {kind, points} while drawing
    this.drag = null;
    this.onChange = onChange;
    this.onSelect = onSelect;
    this.size = [1000, 750];
    svg.addEventListener('pointerdown', (e) => this.down(e));
    svg.addEventListener('pointermove', (e) => this.move(e));
    window.addEventListener('pointerup', () => this.up());
  }

  setSize(w, h) { this.size = [w || 1000, h || 750]; this.render(); }

  load(shapes) { this.shapes = shapes; this.selected = null; this.draft = null; this.render(); }

  point(e) {
    const r = this.svg.getBoundingClientRect();
    return [round((e.clientX - r.left) / r.width), round((e.clientY - r.top) / r.height)];
  }

  start(kind) { this.draft = { kind, points: [] }; this.render(); }

  // Close the polygon being drawn; false when it has fewer than 3 points.
  finish() {
    if (!this.draft || this.draft.points.length < 3) return false;
    const shape = { kind: this.draft.kind, points: this.draft.points };
    this.draft = null;
    this.shapes.push(shape);
    this.selected = shape;
    this.render();
    this.onChange(shape, 'added');
    return true;
  }

  cancel() { this.draft = null; this.render(); }

  remove(shape) {
    this.shapes = this.shapes.filter((s) => s !== shape);
    if (this.selected === shape) this.selected = null;
    this.render();
    this.onChange(shape, 'removed');
  }

  select(shape) { this.selected = shape; this.render(); this.onSelect(shape); }

  down(e) {
    const p = this.point(e);
    if (this.draft) { this.draft.points.push(p); this.render(); return; }
    const t = e.target;
    const shape = this.shapes[Number(t.dataset.shape)];
    if (!shape) return;
    e.preventDefault();
    this.svg.setPointerCapture?.(e.pointerId);
    if (t.classList.contains('vertex')) this.drag = { shape, vertex: Number(t.dataset.vertex), from: p };
    else this.drag = { shape, vertex: null, from: p, orig: shape.points.map((q) => [...q]) };
    if (this.selected !== shape) this.select(shape);
  }

  move(e) {
    if (!this.drag) return;
    const p = this.point(e);
    const { shape, vertex, from, orig } = this.drag;
    if (vertex !== null) shape.points[vertex] = p;
    else {
      // the whole polygon moves, kept inside the image
      let dx = p[0] - from[0];
      let dy = p[1] - from[1];
      for (const [x, y] of orig) { dx = Math.min(Math.max(dx, -x), 1 - x); dy = Math.min(Math.max(dy, -y), 1 - y); }
      shape.points = orig.map(([x, y]) => [round(x + dx), round(y + dy)]);
    }
    this.drag.moved = true;
    this.render();
  }

  up() {
    if (this.drag && this.drag.moved) this.onChange(this.drag.shape, 'moved');
    this.drag = null;
  }

  render() {
    const [w, h] = this.size;
    const svg = this.svg;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.replaceChildren();
    const pts = (points) => points.map(([x, y]) => `${x * w},${y * h}`).join(' ');
    const r = Math.max(w, h) / 120;
    this.shapes.forEach((s, i) => {
      const cls = `shape ${s.kind}${s === this.selected ? ' selected' : ''}`;
      svg.append(node('polygon', { class: cls, points: pts(s.points), 'data-shape': i, 'data-kind': s.kind,
        'data-name': s.name || '' }));
      if (s.name) {
        const [x, y] = s.points[0];
        const label = node('text', { x: x * w + 4, y: y * h + 16, 'pointer-events': 'none' });
        label.textContent = s.name;
        svg.append(label);
      }
      if (s === this.selected) {
        s.points.forEach(([x, y], j) => svg.append(node('circle', { class: 'vertex', cx: x * w, cy: y * h, r,
          'data-shape': i, 'data-vertex': j })));
      }
    });
    if (this.draft && this.draft.points.length) {
      svg.append(node('polyline', { class: 'draft', points: pts(this.draft.points) }));
      this.draft.points.forEach(([x, y]) => svg.append(node('circle', { class: 'vertex', cx: x * w, cy: y * h, r: r * 0.7 })));
    }
  }
}
