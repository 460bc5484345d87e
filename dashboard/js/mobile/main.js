// Patrol leader's phone page: my task pushed live, accept/decline, the way there, arrive, resolve with a photo;
// today's patrol route with check-in by code; service points. Every action goes through the offline outbox.
import { allowedActions, allows, needsReason, predict } from '../shared/actions.js';
import { auth, mediaUrl, request, routes } from '../shared/api.js';
import { clock, el, severityClass, untilDeadline } from '../shared/format.js';
import { t, tv } from '../shared/i18n.js';
import { bindBanner, LiveLink } from '../shared/live.js';
import { $, boot, isOlder, placeName as siteName, placeXY as siteXY, safe, wayBetween } from '../shared/page.js';
import { PlanMap } from '../shared/plan.js';
import { flush, outbox } from './queue.js';

const state = { tasks: new Map(), server: new Map(), team: null, site: null, route: null, points: null, queue: [], pending: new Map(), shownTask: null, savedAt: null };
let taskMap = null;
let patrolMap = null;
let live = null;

function flash(text, kind = 'ok') {
  const f = $('flash');
  f.hidden = false;
  f.className = `flash ${kind}`;
  f.textContent = text;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { f.hidden = true; }, 6000);
}

// ---- the outbox --------------------------------------------------------------------------------------
// Actions are queued first and then flushed, so they leave in the order taken even across reconnects.
async function send(a) {
  if (a.kind === 'checkin') return request('POST', routes.checkin(), { checkpoint: a.checkpoint, code: a.code });
  if (a.kind === 'resolve' && a.photo && !a.photoDone) {
    const fd = new FormData();
    fd.append('file', a.photo, a.photoName || 'photo.jpg');
    if (a.note) fd.append('note', a.note);
    await request('POST', routes.incidentPhotos(a.incidentId), fd);
    a.photoDone = true;
    await outbox.put(a);   // a retry after this point does not upload the photo twice
  }
  const updated = await request('POST', routes.incidentAction(a.incidentId), { action: a.kind, reason: a.reason || a.note || '' });
  if (updated && updated.id !== undefined) upsertTask(updated);
  return updated;
}

async function refreshQueue() {
  state.queue = await outbox.list();
  const box = $('queue');
  box.hidden = state.queue.length === 0;
  $('queue-title').textContent = t('queue.title', { n: state.queue.length });
  $('queue-list').replaceChildren(...state.queue.map((a) => el('li', { dataset: { kind: a.kind } },
    `${clock(a.queuedAt)} ${t(`act.${a.kind}`)}${a.incidentId ? ` #${a.incidentId}` : ''}${a.checkpoint ? ` ${placeName(a.checkpoint)}` : ''}${a.photo ? ` ${t('queue.with_photo')}` : ''}`)));
  document.body.dataset.queued = String(state.queue.length);
}

async function flushNow() {
  const res = await flush(send);
  for (const { action, error } of res.refused) {
    flash(t('queue.refused', { a: t(`act.${action.kind}`), msg: error.message }), 'error');
  }
  if (res.sent && !res.left && !res.refused.length) flash(t('queue.sent', { n: res.sent }));
  await refreshQueue();
  if (res.sent || res.refused.length) await refresh();
  render();
}

async function perform(action) {
  await outbox.add(action);
  applyLocally(action);
  await refreshQueue();
  render();
  if (!navigator.onLine) { flash(t('queue.offline'), 'warn'); return; }
  await flushNow();
}

// While an action waits in the outbox the page shows its result, as the server said it would be, so the
// leader can go on working.
function applyLocally(a) {
  const task = state.tasks.get(a.incidentId);
  const next = task && predict(task, a.kind);
  if (next) state.tasks.set(a.incidentId, { ...next, pending: true });
}

// ---- the server's last copy, for a reload without network ------------------------------------------------
// A leader in a basement or a lift who reloads the page gets its shell from the service worker; his task, route,
// points and the site plan come from the copy the server last sent (kept here, per user), shown with its time
// until the api answers again. Queued steps are applied on top of it, as on a live copy.
const SNAPSHOT_KEY = 'se.m.snapshot';

function saveSnapshot() {
  const user = auth.user;
  if (!user) return;
  const snap = { user: user.id, at: Date.now(), tasks: [...state.server.values()], team: state.team, route: state.route, points: state.points, site: state.site };
  try { localStorage.setItem(SNAPSHOT_KEY, JSON.stringify(snap)); } catch { /* storage full or blocked: the page works without it */ }
}

function loadSnapshot() {
  let snap = null;
  try { snap = JSON.parse(localStorage.getItem(SNAPSHOT_KEY) || 'null'); } catch { snap = null; }
  return snap && auth.user && snap.user === auth.user.id ? snap : null;
}

// ---- data --------------------------------------------------------------------------------------------
function placeName(id) { return siteName(state.site, id); }
function placeXY(id) { return siteXY(state.site, id); }

function upsertTask(inc) {
  if (!inc || inc.id === undefined) return;
  const known = state.tasks.get(inc.id);
  if (isOlder(inc, known)) return;
  const { pending: _p, ...copy } = inc;
  state.server.set(inc.id, copy);
  // The outbox still holds later steps for this task: keep showing their local result.
  const merged = { ...(known || {}), ...inc, pending: false };
  const isNewAssignment = inc.team_id === auth.user?.team_id && allows(inc, 'accept') && !allows(known, 'accept');
  state.tasks.set(inc.id, merged);
  // every queued step, in order: the server's copy may be several steps behind (dispatched, while accept,
  // arrive and resolve wait), and only the first of them is allowed from there
  state.queue.filter((a) => a.incidentId === inc.id).forEach(applyLocally);
  if (isNewAssignment && state.loaded) {
    if (navigator.vibrate) navigator.vibrate([300, 120, 300]);
    flash(t('task.new', { id: inc.id }), 'warn');
  }
}

function currentTask() {
  // a task is the leader's while he has something to do on it; one just finished stays until the server has it
  const mine = [...state.tasks.values()].filter((i) => i.team_id === auth.user?.team_id && allowedActions(i).length);
  mine.sort((a, b) => (b.severity - a.severity) || (Date.parse(a.deadline_at) - Date.parse(b.deadline_at)));
  return mine[0] || [...state.tasks.values()].find((i) => i.pending && i.team_id === auth.user?.team_id) || null;
}

// Refreshes overlap (after a flush, on reconnect): an older one finishing last must not undo a newer one.
let refreshSeq = 0;
let appliedSeq = 0;
async function refresh() {
  const seq = ++refreshSeq;
  const [tasks, team, route, points] = await Promise.all([safe(routes.myTasks()), safe(routes.myTeam()), safe(routes.myRoute()), safe(routes.points())]);
  if (seq < appliedSeq) return;
  appliedSeq = seq;
  state.queue = await outbox.list();
  if (Array.isArray(tasks)) tasks.forEach(upsertTask);
  if (team) state.team = team;
  if (route) state.route = route;
  if (points) state.points = points;
  if (Array.isArray(tasks)) {
    state.savedAt = null;   // the server answered: what shows is live
    saveSnapshot();
  }
  state.loaded = true;
  render();
}

// ---- rendering ---------------------------------------------------------------------------------------
// One control per action the server allows: a big button, a reason box where the server wants a reason,
// and for resolve the form with the photo (the phone's own requirement: the control room sees the scene).
function taskButtons(task) {
  const controls = allowedActions(task).map((a) => (a === 'resolve' ? resolveForm(task) : actionButton(task, a)));
  return controls.length ? el('div', { class: 'task-actions' }, ...controls) : null;
}

function actionButton(task, a) {
  const primary = !needsReason(task, a);
  const button = el('button', { type: 'button', class: primary ? 'big primary' : '', id: `btn-${a}`, text: t(`act.${a}`) });
  if (primary) {
    button.addEventListener('click', () => perform({ kind: a, incidentId: task.id }));
    return button;
  }
  const reason = el('input', { id: `${a}-reason`, placeholder: a === 'decline' ? t('task.decline_ph') : t('act.reason_ph') });
  button.addEventListener('click', () => {
    if (!reason.value.trim()) { reason.classList.add('need'); reason.focus(); return; }
    perform({ kind: a, incidentId: task.id, reason: reason.value.trim() });
  });
  return el('div', { class: 'inline' }, reason, button);
}

function resolveForm(task) {
  // A live update re-renders the card: keep the same form, so a photo already picked and a note typed stay.
  const kept = state.resolveForm && state.resolveForm.id === task.id ? state.resolveForm.form : null;
  if (kept) {
    kept.querySelector('.photo-btn span').textContent = t('task.photo');
    kept.querySelector('#note').placeholder = t('task.note_ph');
    kept.querySelector('#btn-resolve').textContent = t('act.resolve');
    return kept;
  }
  const photo = el('input', { type: 'file', id: 'photo', accept: 'image/*', capture: 'environment' });
  const note = el('textarea', { id: 'note', rows: 3, placeholder: t('task.note_ph') });
  const preview = el('img', { class: 'preview', hidden: true, alt: '' });
  photo.addEventListener('change', () => {
    const f = photo.files[0];
    if (f) { preview.src = URL.createObjectURL(f); preview.hidden = false; }
  });
  const form = el('form', { class: 'resolve', onsubmit: (e) => {
    e.preventDefault();
    const f = photo.files[0];
    if (!f) { flash(t('task.need_photo'), 'error'); return; }
    if (needsReason(task, 'resolve') && !note.value.trim()) { note.classList.add('need'); note.focus(); return; }
    state.resolveForm = null;
    perform({ kind: 'resolve', incidentId: task.id, photo: f, photoName: f.name, note: note.value.trim() });
  } },
  el('label', { class: 'photo-btn' }, el('span', { text: t('task.photo') }), photo), preview, note,
  el('button', { type: 'submit', class: 'big primary', id: 'btn-resolve', text: t('act.resolve') }));
  state.resolveForm = { id: task.id, form };
  return form;
}

function renderTask() {
  const box = $('task');
  const task = currentTask();
  const key = task ? JSON.stringify([task.id, task.state, allowedActions(task), task.pending, document.documentElement.lang]) : 'none';
  if (key === state.shownTask) {
    const dl = box.querySelector('.deadline');
    if (dl && task) dl.textContent = untilDeadline(task.deadline_at);
    return;
  }
  state.shownTask = key;
  if (!task) {
    box.replaceChildren(el('p', { class: 'muted', text: t('task.none') }));
    if (taskMap) taskMap.clearRoutes();
    return;
  }
  box.replaceChildren(...[
    el('div', { class: 'panel-head' },
      el('span', { class: severityClass(task.severity), text: String(task.severity) }),
      el('h2', { text: `#${task.id} ${tv('event', task.event_type || task.category)}` }),
      el('span', { class: `chip state-${task.state}`, id: 'task-state', text: tv('state', task.state) })),
    task.pending ? el('p', { class: 'pending', text: t('task.pending') }) : null,
    el('dl', { class: 'facts' },
      el('dt', { text: t('inc.where') }), el('dd', { text: placeName(task.place) || task.camera_id || '—' }),
      el('dt', { text: t('inc.deadline') }), el('dd', { class: 'deadline', text: untilDeadline(task.deadline_at) }),
      el('dt', { text: t('inc.category') }), el('dd', { text: tv('cat', task.category) })),
    task.snapshot_url ? el('img', { class: 'snapshot', src: mediaUrl(task.snapshot_url), alt: t('inc.snapshot') }) : null,
    taskButtons(task),
    task.state === 'resolved' ? el('p', { class: 'ok', text: t('task.resolved') }) : null].filter(Boolean));
  drawWay(task);
}

async function drawWay(task) {
  if (!taskMap) return;
  taskMap.clearRoutes();
  const target = placeXY(task.place);
  const from = state.team?.position || placeXY(state.team?.place);
  let pts = [from, target];
  const way = await wayBetween(state.team?.place, task.place);
  if (way) pts = way;
  taskMap.drawRoute(pts);
  taskMap.upsert('incidents', task.id, target, `pin-inc sev-${task.severity}`, '!', placeName(task.place));
  if (from) taskMap.upsert('teams', 'me', from, 'pin-team team-dispatched', t('map.me_pin'), t('map.me'));
  taskMap.fitPoints([...pts, target]);
}

function renderRoute() {
  const r = state.route;
  const stops = (r && (r.stops || r.checkpoints)) || [];
  const cov = (r && r.coverage) || {};
  const done = new Set([...((r && r.checked_in) || []), ...Object.entries(cov).filter(([, c]) => c.done >= 1).map(([p]) => p)]);
  $('route').replaceChildren(...(stops.length ? stops.map((s) => {
    const place = s.place || s.checkpoint || s;
    const queued = state.queue.some((a) => a.kind === 'checkin' && a.checkpoint === place);
    return el('li', { class: done.has(place) ? 'done' : queued ? 'queued' : '' },
      el('span', { text: placeName(place) }),
      el('span', { class: 'muted', text: s.arrive_min != null ? `+${Math.round(s.arrive_min)} min` : '' }),
      el('span', { class: 'chip', text: done.has(place) ? t('patrol.done') : queued ? t('patrol.queued') : t('patrol.todo') }));
  }) : [el('li', { class: 'muted', text: t('patrol.none') })]));
  const sel = $('checkin-point');
  const cur = sel.value;
  const cps = [...new Set(stops.map((s) => s.place || s.checkpoint || s))];
  const all = cps.length ? cps : Object.entries(state.site?.places || {}).filter(([, p]) => p.kind === 'checkpoint').map(([id]) => id);
  sel.replaceChildren(...all.map((id) => el('option', { value: id, text: placeName(id) })));
  if (cur) sel.value = cur;
  if (patrolMap) {
    patrolMap.clearRoutes();
    patrolMap.drawRoute(r && r.path_xy && r.path_xy.length > 1 ? r.path_xy : cps.map(placeXY), '#2ca25f');
  }
}

function renderPoints() {
  const p = state.points;
  const bal = (p && p.balance) || {};
  const who = (id) => state.team?.people?.[id]?.name || id;
  // what the entry was for: the checkpoint's name, the incident's number, or the item exchanged
  const about = (h) => (h.kind === 'checkin' ? placeName(h.ref) : h.kind === 'task_resolved' && h.ref ? `#${String(h.ref).replace(/^\D+/, '')}` : h.ref || '');
  $('points-balance').replaceChildren(...Object.entries(bal).map(([id, n]) => el('div', { class: 'bal', dataset: { person: id } }, el('span', { text: who(id) }), el('strong', { text: String(n) }))));
  $('points-history').replaceChildren(...[...((p && p.history) || [])].sort((a, b) => b.seq - a.seq).slice(0, 30).map((h) => el('li', { dataset: { kind: h.kind } },
    el('span', { class: 'muted', text: clock(h.at) }), el('span', { text: `${who(h.person)} · ${tv('pointkind', h.kind)} ${about(h)}`.trim() }),
    el('strong', { text: h.delta > 0 ? `+${h.delta}` : String(h.delta) }))));
  if (!Object.keys(bal).length) $('points-balance').replaceChildren(el('p', { class: 'muted', text: t('points.none') }));
}

function render() {
  if (state.team) $('team-name').textContent = state.team.name;
  const note = $('snapshot-note');
  note.hidden = !state.savedAt;
  if (state.savedAt) note.textContent = t('snapshot.shown', { at: clock(state.savedAt) });
  renderTask();
  renderRoute();
  renderPoints();
}

// ---- wiring ------------------------------------------------------------------------------------------
function onMessage(topic, payload) {
  if (topic === 'tasks' || topic === 'incidents') {
    (Array.isArray(payload) ? payload : [payload]).forEach(upsertTask);
  } else if (topic === 'teams' || topic.startsWith('teams/')) {
    (Array.isArray(payload) ? payload : [payload]).forEach((tm) => { if (tm && tm.id === auth.user?.team_id) state.team = { ...state.team, ...tm }; });
  }
  if (!state.savedAt) saveSnapshot();
  render();
}

function showTab(name) {
  document.querySelectorAll('.tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === name));
  document.querySelectorAll('.tab').forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
  if (name === 'patrol' && patrolMap) patrolMap.map.invalidateSize();
  if (name === 'task' && taskMap) taskMap.map.invalidateSize();
}

async function start({ showLogin }) {
  const snap = loadSnapshot();
  state.site = await safe(routes.site()) || snap?.site || null;
  if (state.site) {
    taskMap = new PlanMap($('task-map'), state.site, { compact: true });
    patrolMap = new PlanMap($('patrol-map'), state.site, { compact: true });
    patrolMap.drawCheckpoints();
  }
  const setLink = bindBanner($('link-banner'), t);
  live = new LiveLink({
    onMessage,
    onStatus: (s, at) => {
      setLink(s, at);
      $('link-dot').dataset.state = s;
      if (s === 'up') flushNow().then(refresh);
      if (s === 'unauthorized') showLogin();
    },
  });
  await refreshQueue();
  if (snap) {   // shown at once, and kept (marked with its time) if the api does not answer
    (snap.tasks || []).forEach(upsertTask);
    state.team = snap.team; state.route = snap.route; state.points = snap.points;
    state.savedAt = snap.at;
    render();
  }
  await refresh();
  live.start();
  window.addEventListener('online', () => flushNow());
  setInterval(() => { if (navigator.onLine && state.queue.length) flushNow(); }, 5000);
  setInterval(renderTask, 5000);
}

// a shared phone: signing out forgets the copy (another user's copy is never shown either: loadSnapshot)
$('logout').addEventListener('click', () => localStorage.removeItem(SNAPSHOT_KEY));
boot({
  start,
  stop: () => { if (live) live.stop(); },
  onLang: () => { state.shownTask = null; render(); refreshQueue(); },
});

document.querySelectorAll('.tabs button').forEach((b) => b.addEventListener('click', () => showTab(b.dataset.tab)));
$('checkin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const code = $('checkin-code').value.trim();
  if (!code) return;
  perform({ kind: 'checkin', checkpoint: $('checkin-point').value, code });
  $('checkin-code').value = '';
});
