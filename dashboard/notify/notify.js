// Admins: notification subscriptions (企业微信, 钉钉, signed webhook, SMS) and the dead letters, with resend.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const token = localStorage.getItem('se.token');
  const CHANNELS = { wecom: '企业微信', dingtalk: '钉钉', webhook: 'Webhook', sms: '短信' };
  async function call(url, opts = {}) {
    const headers = { Authorization: 'Bearer ' + token };
    if (opts.json) { headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(opts.json); }
    const r = await fetch(url, { ...opts, headers });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && (body.message || (typeof body.detail === 'string' ? body.detail : ''))) || '失败（' + r.status + '）');
    return body;
  }
  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) { if (k === 'text') e.textContent = v; else e.setAttribute(k, v); }
    for (const k of kids) if (k) e.appendChild(k);
    return e;
  }
  function button(text, fn) { const b = el('button', { type: 'button', text }); b.addEventListener('click', fn); return b; }

  async function load() {
    $('error').textContent = '';
    try {
      const subs = await call('/api/subscriptions');
      const names = Object.fromEntries(subs.map((s) => [s.id, s.name]));
      $('subs').tBodies[0].replaceChildren(...subs.map((s) => el('tr', { 'data-id': String(s.id) },
        el('td', { text: s.name }), el('td', { text: CHANNELS[s.channel] || s.channel }), el('td', { text: s.target }),
        el('td', { text: s.scope + (s.scope_value ? '：' + s.scope_value : '') }), el('td', { text: s.active ? '有效' : '已停用' }),
        el('td', {}, s.active ? button('停用', async () => { await call('/api/subscriptions/' + s.id, { method: 'DELETE' }); load(); }) : null))));
      const dead = await call('/api/notifications?state=dead');
      $('dead').tBodies[0].replaceChildren(...dead.map((d) => el('tr', { 'data-id': String(d.id) },
        el('td', { text: '#' + d.id }), el('td', { text: names[d.subscription_id] || String(d.subscription_id) }),
        el('td', { text: '#' + d.incident_id }), el('td', { text: String(d.attempts) }), el('td', { text: d.last_error }),
        el('td', {}, button('重发', async () => { await call(`/api/notifications/${d.id}/resend`, { method: 'POST' }); load(); })))));
    } catch (e) { $('error').textContent = e.message; }
  }
  $('add').addEventListener('submit', async (e) => {
    e.preventDefault(); $('s-result').textContent = '';
    const json = { name: $('s-name').value, channel: $('s-channel').value, target: $('s-target').value,
      secret: $('s-secret').value, scope: $('s-scope').value, scope_value: $('s-value').value };
    try {
      const s = await call('/api/subscriptions', { method: 'POST', json });
      $('s-result').textContent = s.secret ? '已添加。签名密钥（只显示这一次）：' + s.secret : '已添加';
      load();
    } catch (err) { $('s-result').textContent = err.message; }
  });
  if (!token) { $('error').textContent = '请先在指挥中心以管理员登录'; return; }
  load();
}());
