// The control room's report page: figures for a period from GET /api/reports, bars for the rates, the
// XLSX/CSV downloads and a print layout. An ES module; signed in through the control room (its token).
import { auth, get } from '../shared/api.js';
import { el } from '../shared/format.js';
import { $ } from '../shared/page.js';

const RATES = [['handled_rate', '处理率'], ['on_time_rate', '按时办结率'], ['satisfaction_rate', '满意率'],
  ['false_alarm_rate', '误报率'], ['reopen_rate', '重办率']];
const COUNTS = [['received', '受理'], ['resolved', '办结'], ['rated', '评价']];
const TIMES = [['response_median_min', '响应中位(分)'], ['resolution_median_min', '办结中位(分)']];
const GROUPS = { category: '按类别', grid: '按网格', team: '按队伍', source: '按来源' };
const SOURCES = { camera: '摄像头', manual: '人工录入', resident: '群众点单', patrol: '巡逻上报', sensor: '传感器' };
const pct = (v) => (v === null || v === undefined ? '—' : (v * 100).toFixed(1) + '%');
const num = (v) => (v === null || v === undefined ? '—' : String(v));

function delta(v, rate) {
  if (v === null || v === undefined) return el('span', { class: 'delta', text: '' });
  const txt = rate ? (v >= 0 ? '+' : '') + (v * 100).toFixed(1) + ' 个百分点' : (v >= 0 ? '+' : '') + v;
  return el('span', { class: 'delta ' + (v > 0 ? 'up' : v < 0 ? 'down' : ''), text: txt });
}

function card(label, value, dPrev, dYear, rate) {
  return el('div', { class: 'card', 'data-key': label },
    el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }),
    el('div', {}, el('span', { class: 'delta', text: '较上期 ' }), delta(dPrev, rate)),
    el('div', {}, el('span', { class: 'delta', text: '较去年同期 ' }), delta(dYear, rate)));
}

function table(title, rows, name) {
  const head = el('tr', {}, el('th', { text: title }), ...COUNTS.map(([, h]) => el('th', { text: h })),
    ...RATES.map(([, h]) => el('th', { text: h })), ...TIMES.map(([, h]) => el('th', { text: h })));
  const body = rows.map((r) => el('tr', { 'data-key': r.key }, el('td', { text: name(r.key) }),
    ...COUNTS.map(([k]) => el('td', { text: num(r[k]) })),
    ...RATES.map(([k]) => { const td = el('td', { class: 'barcell' });
      if (r[k] !== null) { const f = el('div', { class: 'fill' }); f.style.width = (r[k] * 100) + '%'; td.appendChild(f); }
      td.appendChild(el('span', { text: pct(r[k]) })); return td; }),
    ...TIMES.map(([k]) => el('td', { text: num(r[k]) }))));
  return el('table', { class: 'group' }, el('thead', {}, head), el('tbody', {}, ...body));
}

function links() {
  const q = `period=${$('period').value}&start=${$('start').value}&token=${encodeURIComponent(auth.token || '')}`;
  $('xlsx').href = '/api/reports.xlsx?' + q;
  $('csv').href = '/api/reports.csv?' + q;
}

async function load() {
  $('error').textContent = '';
  links();
  let rep;
  try { rep = await get(`/api/reports?period=${$('period').value}&start=${$('start').value}`); }
  catch (e) { $('error').textContent = e.message || '查询失败'; return; }
  const names = rep.category_names || {};
  $('range').textContent = `${rep.start} 至 ${rep.end}`;
  const t = rep.total, p = rep.change_previous, y = rep.change_last_year;
  $('summary').replaceChildren(
    ...COUNTS.map(([k, h]) => card(h, num(t[k]), p[k], y[k], false)),
    ...RATES.map(([k, h]) => card(h, pct(t[k]), p[k], y[k], true)),
    ...TIMES.map(([k, h]) => card(h, num(t[k]), p[k], y[k], false)));
  const groups = Object.entries(GROUPS).map(([g, title]) => el('div', {}, el('h3', { text: title }),
    table(title.slice(1), rep.groups[g] || [], (k) => (g === 'category' ? names[k] || k : g === 'source' ? SOURCES[k] || k : k))));
  const depts = el('table', { class: 'group' }, el('thead', {}, el('tr', {}, ...['部门', '吹哨', '答复', '按时答复', '按时答复率'].map((h) => el('th', { text: h })))),
    el('tbody', {}, ...rep.departments.map((d) => el('tr', { 'data-key': d.body }, el('td', { text: d.name || d.body }),
      el('td', { text: String(d.calls) }), el('td', { text: String(d.answered) }), el('td', { text: String(d.answered_on_time) }),
      el('td', { text: pct(d.on_time_rate) })))));
  $('groups').replaceChildren(...groups, el('h3', { text: '按部门（吹哨报到）' }), depts);
  $('report').hidden = false;
}

if (!auth.token) $('error').textContent = '请先在指挥中心登录';
else {
  const params = new URLSearchParams(location.search);
  $('period').value = params.get('period') || 'month';
  $('start').value = params.get('start') || new Date().toISOString().slice(0, 10);
  $('controls').addEventListener('submit', (e) => { e.preventDefault(); load(); });
  $('period').addEventListener('change', links);
  $('start').addEventListener('change', links);
  $('print').addEventListener('click', () => window.print());
  load();
}
