// The departments' and grid workers' phone page (吹哨报到): the calls to my body, 报到, a written answer,
// 转办 with a reason. The buttons are the server's `allowed_actions` of each call (the page never decides
// what a call allows); the queue is fetched again every 10 s and after each step. Its own sign-in, kept for
// the browser tab only (sessionStorage), apart from the control room's.
import { auth, get, login, post, setUnauthorizedHandler, useTokenStore } from '../shared/api.js';
import { el } from '../shared/format.js';
import { $ } from '../shared/page.js';

useTokenStore(sessionStorage, 'sharpeyes.d');
const STATES = { called: '待报到', acknowledged: '已报到，待答复', answered: '已答复', transferred: '已转办' };
const RUNGS = { grid: '网格吹哨', office: '社区吹哨', department: '部门报到', transfer: '转办' };
let bodies = [];

function fmt(iso) {
  const d = new Date(iso); const p = (n) => String(n).padStart(2, '0');
  return `${d.getMonth() + 1}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function step(c, what, json, errBox) {
  errBox.textContent = '';
  try { await post(`/api/calls/${c.id}/${what}`, json); await load(); } catch (e) { errBox.textContent = e.message; }
}

// One control per action the server allows; an action that needs text refuses to send without it.
function controls(c, err) {
  const needs = (a) => (c.needs_text || []).includes(a);
  const out = [];
  if (c.allowed_actions.includes('ack')) {
    out.push(el('button', { class: 'ack', type: 'button', text: '报到', onclick: () => step(c, 'ack', undefined, err) }));
  }
  if (c.allowed_actions.includes('answer')) {
    const text = el('textarea', { class: 'answer-text', rows: '3', maxlength: '5000', placeholder: '处理情况（必填）' });
    out.push(text, el('button', { class: 'answer', type: 'button', text: '提交答复',
      onclick: () => (needs('answer') && !text.value.trim() ? (err.textContent = '请填写处理情况')
        : step(c, 'answer', { text: text.value }, err)) }));
  }
  if (c.allowed_actions.includes('transfer')) {
    const sel = el('select', { class: 'transfer-to' });
    for (const b of bodies) if (b.id !== c.body_id) sel.append(el('option', { value: String(b.id), text: b.name }));
    const why = el('input', { class: 'transfer-reason', maxlength: '2000', placeholder: '转办原因（必填）' });
    out.push(el('details', {}, el('summary', { text: '转办' }), sel, why,
      el('button', { class: 'transfer', type: 'button', text: '确认转办',
        onclick: () => (needs('transfer') && !why.value.trim() ? (err.textContent = '请填写转办原因')
          : step(c, 'transfer', { body_id: Number(sel.value), reason: why.value }, err)) })));
  }
  return out;
}

function card(c) {
  const err = el('p', { class: 'error', role: 'alert' });
  return el('article', { class: 'card call', dataset: { id: String(c.id), state: c.state } },
    el('h2', { text: `#${c.incident_id} ${c.incident_title}` }),
    el('p', { text: `${RUNGS[c.rung] || c.rung} · ${STATES[c.state] || c.state}${c.overdue ? ' · 已超时' : ''}` }),
    el('p', { text: '限 ' + fmt(c.due_at) + ' 前报到并答复' }),
    c.reason ? el('p', { class: 'quote', text: c.reason }) : null,
    c.answer ? el('p', { class: 'quote answer', text: '答复：' + c.answer }) : null,
    ...controls(c, err), err);
}

async function load() {
  const calls = await get('/api/calls');
  const open = calls.filter((c) => c.allowed_actions.length);
  $('count').textContent = `待办 ${open.length} 件`;
  $('calls').replaceChildren(...open.map(card), ...calls.filter((c) => !open.includes(c)).slice(0, 20).map(card));
}

function logout() {
  auth.clear();
  $('queue').hidden = true; $('login').hidden = false;
}
setUnauthorizedHandler(logout);

async function start() {
  const me = auth.user || await get('/api/auth/me');
  bodies = await get('/api/bodies');
  const mine = bodies.find((b) => b.id === me.body_id);
  $('who').textContent = `${mine ? mine.name : ''} · ${me.name}`;
  $('login').hidden = true; $('queue').hidden = false;
  await load();
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('login-error').textContent = '';
  try {
    await login($('username').value, $('password').value);
    await start();
  } catch (e) { $('login-error').textContent = e.message || '登录失败'; }
});
$('logout').addEventListener('click', logout);
setInterval(() => { if (auth.token) load().catch(() => {}); }, 10000);
if (auth.token) start().catch(() => logout()); else $('login').hidden = false;
