// Incident history for operators: search (text, dates, category, grid, team, source, state), paged past the
// newest 200, a new incident, notes, and several false alarms closed at once. An ES module; signed in through
// the control room (its token).
import { auth, exchange, get, post } from '../shared/api.js';
import { el } from '../shared/format.js';
import { $ } from '../shared/page.js';
const PAGE = 50;
const STATES = { open: '待处置', dispatched: '已派单', accepted: '已接单', on_site: '已到场', declined: '已拒单',
  escalated: '已升级', reopened: '重新办理', resolved: '已处置', closed: '已结案', false_alarm: '误报' };
const SOURCES = { camera: '摄像头', manual: '人工录入', resident: '群众点单', patrol: '巡逻上报', sensor: '传感器' };
let offset = 0, total = 0, cats = {}, places = {};

const opt = (sel, v, t) => sel.appendChild(el('option', { value: v, text: t }));
const fmt = (iso) => new Date(iso).toLocaleString('zh-CN', { hour12: false });

function query() {
  const p = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  const v = (id) => $(id).value.trim();
  if (v('f-text')) p.set('text', v('f-text'));
  if (v('f-since')) p.set('since', new Date(v('f-since') + 'T00:00:00').toISOString());
  if (v('f-until')) p.set('until', new Date(new Date(v('f-until') + 'T00:00:00').getTime() + 86400000).toISOString());
  for (const [id, key] of [['f-category', 'category'], ['f-grid', 'grid'], ['f-team', 'team_id'], ['f-source', 'source'], ['f-state', 'state']]) {
    if (v(id)) p.set(key, v(id));
  }
  return p.toString();
}

async function search() {
  $('error').textContent = '';
  try {
    const { body, headers } = await exchange('GET', '/api/incidents?' + query());
    total = Number(headers.get('X-Total-Count') || body.length);
    $('total').textContent = `共 ${total} 条`;
    $('page').textContent = `${total ? offset + 1 : 0}-${offset + body.length}`;
    $('prev').disabled = offset === 0; $('next').disabled = offset + PAGE >= total;
    $('all').checked = false;
    $('list').tBodies[0].replaceChildren(...body.map((i) => {
      const box = el('input', { type: 'checkbox', class: 'pick', value: String(i.id) });
      box.addEventListener('click', (e) => e.stopPropagation());
      const tr = el('tr', { 'data-id': String(i.id), 'data-state': i.state }, el('td', {}, box), el('td', { text: '#' + i.id }),
        el('td', { text: fmt(i.created_at) }), el('td', { text: cats[i.category] || i.category }),
        el('td', { text: SOURCES[i.source] || i.source }), el('td', { text: i.place_name || i.place || '—' }),
        el('td', { class: 'state', text: STATES[i.state] || i.state }), el('td', { text: i.title }));
      tr.addEventListener('click', () => show(i.id));
      return tr;
    }));
  } catch (e) { $('error').textContent = e.message; }
}

async function show(id) {
  const body = await get('/api/incidents/' + id);
  $('detail').hidden = false; $('detail').dataset.id = String(id);
  $('d-title').textContent = `#${id} ${body.title}`;
  $('d-timeline').replaceChildren(...body.timeline.map((t) => el('li', { 'data-action': t.action },
    el('span', { text: `${fmt(t.at)} ${t.actor} ${t.action}${t.reason ? '：' + t.reason : ''}` }))));
}

async function init() {
  if (!auth.token) { $('error').textContent = '请先在指挥中心登录'; return; }
  for (const [k, v] of Object.entries(STATES)) opt($('f-state'), k, v);
  const form = await get('/api/public/form');
  for (const c of form.categories) { cats[c.id] = c.name; opt($('f-category'), c.id, c.name); opt($('c-category'), c.id, c.name); }
  for (const p of form.places) { places[p.id] = p.name; opt($('c-place'), p.id, p.name); }
  try {
    const site = await get('/api/site');
    for (const [g, info] of Object.entries(site.grids || {})) opt($('f-grid'), g, info.name || g);
  } catch (e) { /* no site: no grids */ }
  for (const t of await get('/api/teams')) opt($('f-team'), String(t.id), t.name);
  $('filters').addEventListener('submit', (e) => { e.preventDefault(); offset = 0; search(); });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); search(); });
  $('next').addEventListener('click', () => { offset += PAGE; search(); });
  $('all').addEventListener('change', () => document.querySelectorAll('.pick').forEach((b) => { b.checked = $('all').checked; }));
  $('bulk').addEventListener('click', async () => {
    const ids = [...document.querySelectorAll('.pick:checked')].map((b) => Number(b.value));
    const reason = $('bulk-reason').value.trim();
    $('bulk-result').textContent = '';
    if (!ids.length || !reason) { $('bulk-result').textContent = '请勾选事件并填写原因'; return; }
    try {
      const body = await post('/api/incidents/false-alarms', { ids, reason });
      const refused = Object.entries(body.refused);
      $('bulk-result').textContent = `已关闭 ${body.closed.length} 条` + (refused.length ? `；${refused.length} 条未关闭：` + refused.map(([i, why]) => `#${i} ${why}`).join('；') : '');
      search();
    } catch (e) { $('bulk-result').textContent = e.message; }
  });
  $('create').addEventListener('submit', async (e) => {
    e.preventDefault(); $('c-error').textContent = '';
    const json = { title: $('c-title').value, category: $('c-category').value, description: $('c-desc').value };
    if ($('c-place').value) json.place = $('c-place').value;
    try {
      const body = await post('/api/incidents', json);
      $('c-title').value = ''; $('c-desc').value = '';
      offset = 0; await search(); await show(body.id);
    } catch (err) { $('c-error').textContent = err.message; }
  });
  $('note').addEventListener('submit', async (e) => {
    e.preventDefault();
    const note = $('d-note').value.trim();
    if (!note) return;
    await post(`/api/incidents/${$('detail').dataset.id}/notes`, { note });
    $('d-note').value = '';
    show(Number($('detail').dataset.id));
  });
  search();
}
init().catch((e) => { $('error').textContent = e.message; });
