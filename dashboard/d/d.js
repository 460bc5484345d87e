// The departments' and grid workers' phone page (吹哨报到): the calls to my body, 报到, a written answer,
// 转办 with a reason. Plain script; the queue is fetched again every 10 s and after each step.
'use strict';
(function () {
  const STATES = { called: '待报到', acknowledged: '已报到，待答复', answered: '已答复', transferred: '已转办' };
  const RUNGS = { grid: '网格吹哨', office: '社区吹哨', department: '部门报到', transfer: '转办' };
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem('sharpeyes.dtoken') || '';
  let bodies = [];

  async function call(url, opts = {}) {
    const headers = { ...(opts.headers || {}), Authorization: 'Bearer ' + token };
    if (opts.json) { headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(opts.json); }
    const r = await fetch(url, { ...opts, headers });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { logout(); throw new Error('请重新登录'); }
    if (!r.ok) throw new Error((body && (body.message || (typeof body.detail === 'string' ? body.detail : ''))) || '失败（' + r.status + '）');
    return body;
  }

  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v); else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid) e.appendChild(kid);
    return e;
  }

  function fmt(iso) {
    const d = new Date(iso); const p = (n) => String(n).padStart(2, '0');
    return `${d.getMonth() + 1}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  async function step(c, what, json, errBox) {
    errBox.textContent = '';
    try { await call(`/api/calls/${c.id}/${what}`, { method: 'POST', json }); await load(); }
    catch (e) { errBox.textContent = e.message; }
  }

  function card(c) {
    const err = el('p', { class: 'error', role: 'alert' });
    const box = el('article', { class: 'card call', dataset: { id: String(c.id), state: c.state } },
      el('h2', { text: `#${c.incident_id} ${c.incident_title}` }),
      el('p', { text: `${RUNGS[c.rung] || c.rung} · ${STATES[c.state] || c.state}${c.overdue ? ' · 已超时' : ''}` }),
      el('p', { text: '限 ' + fmt(c.due_at) + ' 前报到并答复' }),
      c.reason ? el('p', { class: 'quote', text: c.reason }) : null,
      c.answer ? el('p', { class: 'quote answer', text: '答复：' + c.answer }) : null);
    if (c.state === 'called') {
      box.appendChild(el('button', { class: 'ack', type: 'button', text: '报到', onclick: () => step(c, 'ack', undefined, err) }));
    }
    if (c.state === 'acknowledged') {
      const text = el('textarea', { class: 'answer-text', rows: '3', maxlength: '5000', placeholder: '处理情况（必填）' });
      box.appendChild(text);
      box.appendChild(el('button', { class: 'answer', type: 'button', text: '提交答复',
        onclick: () => (text.value.trim() ? step(c, 'answer', { text: text.value }, err) : (err.textContent = '请填写处理情况')) }));
    }
    if (c.state === 'called' || c.state === 'acknowledged') {
      const sel = el('select', { class: 'transfer-to' });
      for (const b of bodies) if (b.id !== c.body_id) sel.appendChild(el('option', { value: String(b.id), text: b.name }));
      const why = el('input', { class: 'transfer-reason', maxlength: '2000', placeholder: '转办原因（必填）' });
      box.appendChild(el('details', {}, el('summary', { text: '转办' }), sel, why,
        el('button', { class: 'transfer', type: 'button', text: '确认转办',
          onclick: () => (why.value.trim() ? step(c, 'transfer', { body_id: Number(sel.value), reason: why.value }, err) : (err.textContent = '请填写转办原因')) })));
    }
    box.appendChild(err);
    return box;
  }

  async function load() {
    const calls = await call('/api/calls');
    const open = calls.filter((c) => c.state === 'called' || c.state === 'acknowledged');
    $('count').textContent = `待办 ${open.length} 件`;
    $('calls').replaceChildren(...open.map(card), ...calls.filter((c) => !open.includes(c)).slice(0, 20).map(card));
  }

  function logout() {
    token = ''; sessionStorage.removeItem('sharpeyes.dtoken');
    $('queue').hidden = true; $('login').hidden = false;
  }

  async function start() {
    const me = await call('/api/auth/me');
    bodies = await call('/api/bodies');
    const mine = bodies.find((b) => b.id === me.body_id);
    $('who').textContent = `${mine ? mine.name : ''} · ${me.name}`;
    $('login').hidden = true; $('queue').hidden = false;
    await load();
  }

  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      const r = await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: $('username').value, password: $('password').value }) });
      const body = await r.json();
      if (!r.ok) throw new Error(typeof body.detail === 'string' ? body.detail : '登录失败');
      token = body.access_token; sessionStorage.setItem('sharpeyes.dtoken', token);
      await start();
    } catch (e) { $('login-error').textContent = e.message; }
  });
  $('logout').addEventListener('click', logout);
  setInterval(() => { if (token) load().catch(() => {}); }, 10000);
  if (token) start().catch(() => logout()); else $('login').hidden = false;
}());
