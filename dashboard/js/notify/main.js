// Admins: notification subscriptions (企业微信, 钉钉, signed webhook, SMS) and the dead letters, with resend.
// An ES module; signed in through the control room (its token).
import { auth, get, post, request } from '../shared/api.js';
import { el } from '../shared/format.js';
import { $ } from '../shared/page.js';

const CHANNELS = { wecom: '企业微信', dingtalk: '钉钉', webhook: 'Webhook', sms: '短信' };
const button = (text, fn) => el('button', { type: 'button', text, onclick: fn });

async function load() {
  $('error').textContent = '';
  try {
    const subs = await get('/api/subscriptions');
    const names = Object.fromEntries(subs.map((s) => [s.id, s.name]));
    $('subs').tBodies[0].replaceChildren(...subs.map((s) => el('tr', { 'data-id': String(s.id) },
      el('td', { text: s.name }), el('td', { text: CHANNELS[s.channel] || s.channel }), el('td', { text: s.target }),
      el('td', { text: s.scope + (s.scope_value ? '：' + s.scope_value : '') }), el('td', { text: s.active ? '有效' : '已停用' }),
      el('td', {}, s.active ? button('停用', () => act(request('DELETE', '/api/subscriptions/' + s.id))) : null))));
    const dead = await get('/api/notifications?state=dead');
    $('dead').tBodies[0].replaceChildren(...dead.map((d) => el('tr', { 'data-id': String(d.id) },
      el('td', { text: '#' + d.id }), el('td', { text: names[d.subscription_id] || String(d.subscription_id) }),
      el('td', { text: '#' + d.incident_id }), el('td', { text: String(d.attempts) }), el('td', { text: d.last_error }),
      el('td', {}, button('重发', () => act(post(`/api/notifications/${d.id}/resend`)))))));
  } catch (e) { $('error').textContent = e.message; }
}

// A refused step says why in the page's error line instead of failing silently.
async function act(done) {
  try { await done; } catch (e) { $('error').textContent = e.message; return; }
  load();
}

$('add').addEventListener('submit', async (e) => {
  e.preventDefault(); $('s-result').textContent = '';
  const json = { name: $('s-name').value, channel: $('s-channel').value, target: $('s-target').value,
    secret: $('s-secret').value, scope: $('s-scope').value, scope_value: $('s-value').value };
  try {
    const s = await post('/api/subscriptions', json);
    $('s-result').textContent = s.secret ? '已添加。签名密钥（只显示这一次）：' + s.secret : '已添加';
    load();
  } catch (err) { $('s-result').textContent = err.message; }
});
if (auth.token) load(); else $('error').textContent = '请先在指挥中心以管理员登录';
