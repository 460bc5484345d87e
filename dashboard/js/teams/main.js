// Admins: the patrol teams (队员, 队长, skills, base, roster, timezone), listed, edited and added.
// The page only reshapes what is typed; the server checks the whole team and says why it refuses
// (POST /api/teams, PATCH /api/teams/{id}). An ES module; signed in through the control room (its token).
import { auth, get, post, request } from '../shared/api.js';
import { el } from '../shared/format.js';
import { $, placesOf } from '../shared/page.js';

const STATUS = { off_duty: '下班', available: '待命', on_patrol: '巡逻中', dispatched: '已派出', on_site: '到场' };
let teams = [];
let editing = null;   // the team being edited, or null when adding one
let placeNames = {};  // place id -> name, from the site

const nameOf = (tm, id) => (tm.people && tm.people[id] && tm.people[id].name) || id;
const shiftText = (s) => `${(s.days || []).join(',')} ${s.start}-${s.end}${s.crosses_midnight ? ' 次日' : ''}`;

function row(tm) {
  return el('tr', { 'data-id': String(tm.id) },
    el('td', { text: `${tm.name} (${tm.key})` }), el('td', { text: nameOf(tm, tm.leader) }),
    el('td', { class: 'members', text: tm.members.map((m) => nameOf(tm, m)).join('、') }),
    el('td', { text: tm.skills.join(' ') }), el('td', { text: tm.home_grid || '' }), el('td', { text: tm.base ? placeNames[tm.base] || tm.base : '' }),
    el('td', { text: tm.roster.map(shiftText).join('；') }), el('td', { text: tm.timezone }),
    el('td', { text: STATUS[tm.status] || tm.status }),
    el('td', {}, el('button', { type: 'button', class: 'edit', text: '编辑', onclick: () => open(tm) })));
}

async function load() {
  $('error').textContent = '';
  try {
    teams = await get('/api/teams');
    $('teams').tBodies[0].replaceChildren(...teams.map(row));
  } catch (e) { $('error').textContent = e.message; }
}

async function loadPlaces() {
  try {
    const places = Object.entries(placesOf(await get('/api/site')));
    $('places').replaceChildren(...places.map(([id, p]) => el('option', { value: id, text: p.name || id })));
    placeNames = Object.fromEntries(places.map(([id, p]) => [id, p.name || id]));
  } catch { /* the base stays a free text field, shown by its id */ }
}

// Members as typed: one a line, "id name [phone]"; the people entries keep what the page does not show.
function membersFromText(text, known) {
  const members = [];
  const people = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const [id, name, phone] = line.split(/\s+/);
    members.push(id);
    const entry = { ...(known[id] || {}) };
    if (name) entry.name = name;
    if (phone) entry.phone = phone; else delete entry.phone;
    if (Object.keys(entry).length) people[id] = entry;   // a member may have no entry

  }
  return { members, people };
}

function rosterFromText(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const m = line.match(/^(\S+)\s+(\S+?)-(\S+?)(\s+(次日|\+1))?$/);
    if (!m) return { line };   // sent as it is: the server names what is wrong with it
    const shift = { days: m[1].split(','), start: m[2], end: m[3] };
    if (m[4]) shift.crosses_midnight = true;
    return shift;
  });
}

function leaderChoices(selected) {
  const { members, people } = membersFromText($('t-members').value, editing ? editing.people : {});
  $('t-leader').replaceChildren(...members.map((id) => el('option', { value: id, text: `${(people[id] || {}).name || id} (${id})` })));
  if (members.includes(selected)) $('t-leader').value = selected;
}

function open(tm) {
  editing = tm;
  $('t-title').textContent = tm ? `编辑：${tm.name}` : '新建队伍';
  $('t-key').value = tm ? tm.key : '';
  $('t-key').disabled = !!tm;
  $('t-name').value = tm ? tm.name : '';
  $('t-members').value = tm ? tm.members.map((id) => [id, (tm.people[id] || {}).name || '', (tm.people[id] || {}).phone || '']
    .join(' ').trim()).join('\n') : '';
  leaderChoices(tm ? tm.leader : null);
  $('t-skills').value = tm ? tm.skills.join(' ') : '';
  $('t-grid').value = tm ? tm.home_grid || '' : '';
  $('t-base').value = tm ? tm.base || '' : '';
  $('t-timezone').value = tm ? tm.timezone : 'Asia/Shanghai';
  $('t-roster').value = tm ? tm.roster.map(shiftText).join('\n') : '';
  $('t-result').textContent = '';
  $('edit').hidden = false;
  $('t-name').focus();
}

function formBody() {
  const { members, people } = membersFromText($('t-members').value, editing ? editing.people : {});
  return {
    name: $('t-name').value.trim(), leader: $('t-leader').value, members, people,
    skills: $('t-skills').value.split(/[\s,，]+/).filter(Boolean),
    home_grid: $('t-grid').value.trim() || null, base: $('t-base').value.trim() || null,
    timezone: $('t-timezone').value.trim(), roster: rosterFromText($('t-roster').value),
  };
}

$('t-members').addEventListener('input', () => leaderChoices($('t-leader').value));
$('new').addEventListener('click', () => open(null));
$('t-cancel').addEventListener('click', () => { $('edit').hidden = true; });
$('edit').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('t-result');
  out.textContent = ''; out.classList.remove('bad');
  try {
    const saved = editing ? await request('PATCH', `/api/teams/${editing.id}`, formBody())
      : await post('/api/teams', { key: $('t-key').value.trim(), ...formBody() });
    out.textContent = `已保存：${saved.name}`;
    editing = saved;
    $('t-key').disabled = true;
    await load();
  } catch (err) {   // the server's reason; nothing was changed
    out.textContent = `未保存：${err.message}`;
    out.classList.add('bad');
  }
});

if (auth.token) loadPlaces().then(load); else $('error').textContent = '请先在指挥中心以管理员登录';
