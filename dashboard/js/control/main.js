// Control room page: incidents, camera wall, site plan, incident panel, team board, the day's numbers.
import { auth, get, routes } from '../shared/api.js';
import { beep, clock, duration, el, parseTime, severityClass, untilDeadline } from '../shared/format.js';
import { t, tv } from '../shared/i18n.js';
import { bindBanner, LiveLink } from '../shared/live.js';
import { $, boot, isOlder, placeName as siteName, safe, wayBetween } from '../shared/page.js';
import { PlanMap } from '../shared/plan.js';
import { bars, ring } from './charts.js';
import { cameras, camState, refreshStills, renderCameras, upsertCamera } from './cameras.js';
import { renderPanel } from './panel.js';

export const state = {
  incidents: new Map(), teams: new Map(), site: null, stats: null, parking: null,
  selected: null, loaded: false, fresh: new Map(), simulation: false,
};
let plan = null;
let live = null;

function listOf(payload) {
  if (Array.isArray(payload)) return payload;
  if (payload && Array.isArray(payload.items)) return payload.items;
  return null;
}

function placeXY(name) { return plan && name ? plan.placeXY(name) : null; }

// ---- incidents -------------------------------------------------------------------------------------
export function upsertIncident(inc, { quiet = false } = {}) {
  if (!inc || inc.id === undefined) return;
  const known = state.incidents.has(inc.id);
  const prev = state.incidents.get(inc.id) || {};
  if (isOlder(inc, prev)) return;
  state.incidents.set(inc.id, { ...prev, ...inc });
  if (!known && state.loaded && !quiet) {
    state.fresh.set(inc.id, Date.now());
    beep();
  }
}

function isAtRisk(inc) {
  if (inc.at_risk !== undefined) return !!inc.at_risk;
  const d = parseTime(inc.deadline_at);
  const c = parseTime(inc.created_at);
  if (!d || !inc.active) return false;
  const left = d - Date.now();
  return left < 0 || (c && left <= 0.2 * (d - c));   // as the api: 80 % of the time used, or overdue
}

function filtered() {
  const fs = $('f-state').value;
  const fc = $('f-category').value;
  const fg = $('f-grid').value;
  const sort = $('f-sort').value;
  const items = [...state.incidents.values()].filter((i) => {
    if (fs === 'active' && !i.active) return false;
    if (fs && fs !== 'active' && fs !== 'all' && i.state !== fs) return false;
    if (fc && i.category !== fc) return false;
    if (fg && (i.grid || '') !== fg) return false;
    return true;
  });
  const dl = (i) => parseTime(i.deadline_at) ?? Infinity;
  if (sort === 'deadline') items.sort((a, b) => dl(a) - dl(b));
  else if (sort === 'newest') items.sort((a, b) => (parseTime(b.created_at) ?? 0) - (parseTime(a.created_at) ?? 0));
  else items.sort((a, b) => (b.severity - a.severity) || (dl(a) - dl(b)));
  return items;
}

function fillSelect(sel, values, allKey, prefix, keep) {
  const cur = sel.value || keep;
  sel.replaceChildren(el('option', { value: '' , text: t(allKey) }));
  if (prefix === 'state') {
    sel.replaceChildren(el('option', { value: 'active', text: t('filter.active') }), el('option', { value: 'all', text: t('filter.all_states') }));
  }
  for (const v of values) sel.append(el('option', { value: v, text: prefix === 'grid' ? gridName(v) : tv(prefix, v) }));
  sel.value = cur;
  if (sel.selectedIndex < 0) sel.selectedIndex = 0;
}

function gridName(id) {
  const g = state.site && state.site.grids && state.site.grids[id];
  return (g && g.name) || id;
}

function renderFilters() {
  const incs = [...state.incidents.values()];
  const cats = [...new Set(incs.map((i) => i.category).filter(Boolean))].sort();
  const grids = [...new Set([...Object.keys(state.site?.grids || {}), ...incs.map((i) => i.grid).filter(Boolean)])].sort();
  const states = ['open', 'dispatched', 'accepted', 'on_site', 'declined', 'escalated', 'reopened', 'resolved', 'closed', 'false_alarm'];
  fillSelect($('f-state'), states, 'filter.all_states', 'state', 'active');
  fillSelect($('f-category'), cats, 'filter.all_categories', 'cat');
  fillSelect($('f-grid'), grids, 'filter.all_grids', 'grid');
}

function incidentTitle(inc) {
  const where = (inc.place && placeName(inc.place)) || inc.camera_id || '';
  return `${tv('event', inc.event_type || inc.category)}${where ? ' · ' + where : ''}`;
}

function renderIncidents() {
  const ul = $('incidents');
  const items = filtered();
  const now = Date.now();
  ul.replaceChildren(...items.map((inc) => {
    const freshAt = state.fresh.get(inc.id);
    const isNew = freshAt && now - freshAt < 15000;
    const team = inc.team_id != null ? state.teams.get(inc.team_id) : null;
    return el('li', {
      class: `incident ${isNew ? 'new' : ''} ${state.selected === inc.id ? 'selected' : ''} ${isAtRisk(inc) ? 'at-risk' : ''}`,
      dataset: { id: inc.id, state: inc.state },
      onclick: () => select(inc.id),
    },
    el('span', { class: severityClass(inc.severity), title: t('inc.severity') + ' ' + inc.severity }, String(inc.severity ?? '')),
    el('div', { class: 'inc-main' },
      el('div', { class: 'inc-title' }, `#${inc.id} ${incidentTitle(inc)}`),
      el('div', { class: 'inc-meta' },
        el('span', { class: `chip state-${inc.state}` }, tv('state', inc.state)),
        el('span', { class: 'muted' }, tv('cat', inc.category)),
        team ? el('span', { class: 'muted' }, team.name) : null,
        el('span', { class: isAtRisk(inc) ? 'deadline risk' : 'deadline' }, untilDeadline(inc.deadline_at)))));
  }));
  $('inc-count').textContent = t('inc.count', { n: items.length });
}

// ---- teams -----------------------------------------------------------------------------------------
export function upsertTeam(team) {
  if (!team || team.id === undefined) return;
  state.teams.set(team.id, { ...(state.teams.get(team.id) || {}), ...team });
}

function teamXY(team) { return team.position || placeXY(team.place); }

function renderTeams() {
  const box = $('teams');
  const teams = [...state.teams.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
  box.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, ...['team.name', 'team.leader', 'team.status', 'team.task'].map((k) => el('th', { text: t(k) })))),
    el('tbody', {}, ...teams.map((tm) => {
      const task = [...state.incidents.values()].find((i) => i.team_id === tm.id && i.active);
      return el('tr', { dataset: { team: tm.id } },
        el('td', {}, tm.name, tm.simulated ? el('span', { class: 'badge sim small', text: t('sim.short') }) : null),
        el('td', { text: (tm.people && tm.people[tm.leader] && tm.people[tm.leader].name) || tm.leader || '—' }),
        el('td', {}, el('span', { class: `chip team-${tm.status}`, text: tv('teamstatus', tm.status) })),
        el('td', {}, task ? el('a', { href: '#', onclick: (e) => { e.preventDefault(); select(task.id); } }, `#${task.id} ${tv('state', task.state)}`) : '—'));
    }))));
}

// ---- the plan --------------------------------------------------------------------------------------
function renderMap() {
  if (!plan) return;
  for (const c of cameras.values()) {
    plan.upsert('cameras', c.id, c.xy || placeXY(c.place), `pin-cam cam-${camState(c)}`, '◉', `${c.name || c.id} · ${tv('camstate', camState(c))}`);
  }
  const activeIds = new Set();
  for (const inc of state.incidents.values()) {
    if (!inc.active) { plan.remove('incidents', inc.id); continue; }
    activeIds.add(inc.id);
    plan.upsert('incidents', inc.id, inc.xy || placeXY(inc.place), `pin-inc sev-${inc.severity} ${state.selected === inc.id ? 'selected' : ''}`,
      '!', `#${inc.id} ${incidentTitle(inc)}`, () => select(inc.id));
  }
  for (const tm of state.teams.values()) {
    plan.upsert('teams', tm.id, teamXY(tm), `pin-team team-${tm.status}`, (tm.name || '?').slice(0, 1), `${tm.name} · ${tv('teamstatus', tm.status)}`);
  }
  plan.clearRoutes();
  for (const inc of state.incidents.values()) {
    if (!['dispatched', 'accepted'].includes(inc.state) || inc.team_id == null) continue;
    const tm = state.teams.get(inc.team_id);
    const path = (inc.route || []).map((p) => (Array.isArray(p) ? p : placeXY(p)));
    const way = tm && wayOnSite(tm.place, inc.place);
    const pts = path.length >= 2 ? path : way || [tm && teamXY(tm), inc.xy || placeXY(inc.place)];
    plan.drawRoute(pts, inc.id === state.selected ? '#e6550d' : '#fdae6b');
  }
}

// The way along the site's paths (GET /api/site/path), fetched once per pair of places; a straight line until then.
const ways = new Map();
function wayOnSite(from, to) {
  const key = `${from}|${to}`;
  if (!ways.has(key)) {
    ways.set(key, null);
    wayBetween(from, to).then((w) => { if (w) { ways.set(key, w); render(); } });
  }
  return ways.get(key);
}

// ---- the day's numbers -----------------------------------------------------------------------------
function perHour(items) {
  const counts = new Array(24).fill(0);
  const start = new Date(); start.setHours(0, 0, 0, 0);
  for (const i of items) {
    const ms = parseTime(i.created_at);
    if (ms && ms >= start.getTime()) counts[new Date(ms).getHours()] += 1;
  }
  return counts;
}

function renderStats() {
  const s = state.stats || {};
  const incs = [...state.incidents.values()];
  // The api's figures (GET /api/stats/today): open = incidents in an active state, at risk = active, not yet
  // overdue, past 80 % of their time; overdue shown beside it. Local counts only until the first answer.
  const open = s.open ?? incs.filter((i) => i.active).length;
  const atRisk = s.at_risk ?? incs.filter(isAtRisk).length;
  const overdue = s.overdue ? ` (+${t('stats.overdue', { n: s.overdue })})` : '';
  const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)}%`);
  const tiles = [
    ['stats.open', String(open), bars(perHour(incs), { title: t('stats.per_hour') })],
    ['stats.at_risk', `${atRisk}${overdue}`, null],
    ['stats.median_response', duration(s.median_response_s), null],
    ['stats.in_time', pct(s.resolved_in_time), ring(s.resolved_in_time ?? 0)],
    ['stats.false_alarm', pct(s.false_alarm_rate), ring(s.false_alarm_rate ?? 0, { color: '#de2d26' })],
  ];
  // Parking (GET /api/parking): free spaces over all parking zones, each zone in the tooltip.
  const pk = state.parking;
  if (pk && pk.zones && pk.zones.length) {
    tiles.push(['stats.parking', `${pk.free}/${pk.capacity}`, ring(pk.capacity ? pk.occupied / pk.capacity : 0,
      { color: pk.free ? '#2ca25f' : '#de2d26' })]);
  }
  $('stats').replaceChildren(...tiles.map(([k, v, chart]) => el('div', { class: `stat stat-${k.split('.')[1]}`,
    title: k === 'stats.parking' ? pk.zones.map((z) => `${z.zone}: ${z.free}/${z.capacity}`).join('\n') : '' },
    el('div', { class: 'stat-label', text: t(k) }), el('div', { class: 'stat-value', text: v }), chart)));
}

// ---- wiring ----------------------------------------------------------------------------------------
let renderQueued = false;
export function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderFilters(); renderIncidents(); renderCameras(); renderTeams(); renderMap(); renderStats();
    renderPanel(state, ctx);
  });
}

export async function select(id) {
  state.selected = id;
  render();
  try { upsertIncident(await get(routes.incident(id)), { quiet: true }); } catch { /* live data is enough */ }
  render();
}

function placeName(id) { return siteName(state.site, id); }

// The proposal names teams by key: show the team's name.
function teamName(id, fallback) { const tm = state.teams.get(id); return (tm && tm.name) || fallback || String(id); }

const ctx = { placeName, teamName, render, select, refresh: () => refresh(), upsertIncident, placeXY, plan: () => plan };

async function refresh() {
  const [incs, cams, teams, stats] = await Promise.all([safe(routes.incidents()), safe(routes.cameras()), safe(routes.teams()), safe(routes.stats())]);
  if (listOf(incs)) for (const i of listOf(incs)) upsertIncident(i, { quiet: true });
  if (listOf(cams)) for (const c of listOf(cams)) upsertCamera(c);
  if (listOf(teams)) for (const tm of listOf(teams)) upsertTeam(tm);
  if (stats) state.stats = stats;
  refreshParking();
  state.loaded = true;
  render();
}

// Free parking spaces: the workers send a sample per zone every 10 s; asked again every 15 s.
let parkingTimer = null;
async function refreshParking() {
  clearTimeout(parkingTimer);
  const pk = await safe(routes.parking());
  if (pk) { state.parking = pk; render(); }
  parkingTimer = setTimeout(refreshParking, 15000);
}

// The live message carries the incident without its timeline and media: fetch those for the open panel.
let detailTimer = null;
function refreshSelectedSoon() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(async () => {
    if (state.selected == null) return;
    try { upsertIncident(await get(routes.incident(state.selected)), { quiet: true }); render(); } catch { /* next message */ }
  }, 250);
}

// The day's numbers follow the incidents: fetched again shortly after a change (several changes, one fetch).
let statsTimer = null;
function refreshStatsSoon() {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(async () => { const s = await safe(routes.stats()); if (s) { state.stats = s; renderStats(); } }, 200);
}

function onMessage(topic, payload) {
  if (topic === 'incidents' || topic.startsWith('incidents/')) {
    if (state.loaded) refreshStatsSoon();
    const list = listOf(payload) || [payload];
    list.forEach((i) => upsertIncident(i));
    if (list.some((i) => i && i.id === state.selected)) refreshSelectedSoon();
  } else if (topic === 'teams' || topic.startsWith('teams/')) {
    const list = listOf(payload);
    if (list) list.forEach(upsertTeam); else upsertTeam(payload);
  } else if (topic === 'cameras' || topic.startsWith('cameras/')) {
    const list = listOf(payload);
    const m = topic.match(/^cameras\/(.+)\/state$/);
    if (list) list.forEach(upsertCamera);
    else if (m) upsertCamera({ ...payload, id: m[1] });
    else upsertCamera(payload);
  } else if (topic === 'stats') {
    state.stats = payload;
  } else if (topic === 'simulation' || topic === 'demo') {
    state.simulation = !!(payload && (payload.simulate_teams ?? payload.active ?? payload.simulation));
    $('sim-badge').hidden = !state.simulation;
  }
  render();
}

async function start({ showLogin }) {
  showWho();
  state.site = await safe(routes.site());
  if (state.site) {
    plan = new PlanMap($('map'), state.site);
    plan.drawCheckpoints();
    if (state.site.simulation) { state.simulation = true; $('sim-badge').hidden = false; }
  }
  const setLink = bindBanner($('link-banner'), t);
  live = new LiveLink({
    onMessage,
    onStatus: (s, at) => {
      setLink(s, at);
      $('link-dot').dataset.state = s;
      if (s === 'up') refresh();
      if (s === 'unauthorized') showLogin();
    },
  });
  await refresh();
  live.start();
  setInterval(refreshStills, 1000);
  setInterval(() => { renderIncidents(); }, 5000);
  // A clip is uploaded after its event: the api then publishes the incident again, and onMessage refetches the
  // open incident's media. A slow look every 30 s covers a message missed between two connections.
  setInterval(() => {
    const inc = state.incidents.get(state.selected);
    if (inc && inc.source !== 'manual' && !(inc.media || []).some((m) => m.kind === 'clip')) refreshSelectedSoon();
  }, 30000);
  setInterval(async () => { const s = await safe(routes.stats()); if (s) { state.stats = s; renderStats(); } }, 15000);
}

function showWho() {
  const me = auth.user;
  $('who').textContent = me ? `${me.name ?? me.username ?? ''} · ${tv('role', me.role)}` : '';
}

boot({
  start,
  stop: () => { if (live) live.stop(); },
  onLang: () => { showWho(); render(); },
  elsewhere: (me) => (me && me.role === 'leader' ? '/m' : (me && me.role === 'engineer' ? '/cameras.html' : null)),
});

function wireFilters() {
  setInterval(() => { $('clock').textContent = clock(Date.now()); }, 1000);
  ['f-state', 'f-category', 'f-grid', 'f-sort'].forEach((id) => $(id).addEventListener('change', render));
}

wireFilters();
