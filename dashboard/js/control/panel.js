// The incident panel: snapshot, clip, timeline, dispatch proposal with its reasons, and the operator's actions.
import { get, mediaUrl, post, routes } from '../shared/api.js';
import { allowedActions, allows, needsReason } from '../shared/actions.js';
import { clock, el, severityClass, untilDeadline } from '../shared/format.js';
import { t, tv } from '../shared/i18n.js';
import { bars } from './charts.js';

// The inputs an action takes from the panel (which actions are possible comes from the incident itself).
const PICKS_TEAM = new Set(['dispatch', 'override']);

let proposalCache = { id: null, at: 0, items: null };
let shownId = null;
let shownKey = '';

async function proposals(inc) {
  if (proposalCache.id === inc.id && Date.now() - proposalCache.at < 5000) return proposalCache.items;
  proposalCache = { id: inc.id, at: Date.now(), items: proposalCache.id === inc.id ? proposalCache.items : null };
  try { proposalCache.items = await get(routes.proposal(inc.id)); } catch { proposalCache.items = []; }
  return proposalCache.items;
}

export async function act(inc, action, { reason = '', teamId = null } = {}, ctx) {
  const msg = document.getElementById('panel-msg');
  try {
    const body = { action, reason };
    if (teamId !== null && teamId !== undefined && teamId !== '') body.team_id = Number(teamId);
    const updated = await post(routes.incidentAction(inc.id), body);
    if (updated && updated.id !== undefined) ctx.upsertIncident(updated, { quiet: true });
    if (msg) { msg.className = 'ok'; msg.textContent = t('act.done', { a: t(`act.${action}`) }); }
    proposalCache.id = null;
    await ctx.select(inc.id);
  } catch (err) {
    if (msg) { msg.className = 'error'; msg.textContent = t('act.failed', { msg: err.message }); }
  }
}

// A sensor incident's evidence (GET /api/sensors/incidents/{id}): the 关爱 household's contact and, for a
// water meter, the last 48 h hour by hour.
let careCache = { id: null, data: null };
async function loadEvidence(inc, ctx) {
  careCache = { id: inc.id, data: null };
  try { careCache.data = await get(routes.sensorEvidence(inc.id)); } catch { careCache.data = {}; }
  ctx.render();
}

function careBox(ev) {
  const e = (ev && ev.evidence) || {};
  const hh = e.household;
  const hours = (e.series && e.series.hours) || [];
  if (!hh && !hours.length) return null;
  return el('div', { class: 'care' },
    hh ? el('p', {}, el('strong', { text: `${t('care.title')}: ${hh.name || hh.id}` }), ' · ',
      el('span', { class: 'care-contact', text: `${t('care.contact')}: ${hh.contact_name || '—'} ${hh.contact_phone || ''}` })) : null,
    hours.length ? el('figure', { class: 'care-chart' }, bars(hours.map((h) => h.litres), { w: 288, h: 64, color: '#4aa3df', title: t('care.chart') }),
      el('figcaption', { text: `${t('care.chart')} · ${hours[0].hour.slice(5, 16)} – ${hours[hours.length - 1].hour.slice(5, 16)}` })) : null);
}

function media(inc) {
  const items = inc.media || [];
  const clip = [...items].reverse().find((m) => m.kind === 'clip');
  const photos = items.filter((m) => m.kind === 'photo');
  // The camera's snapshot only: the incident's snapshot_url may be a leader's photo (the newest image), which
  // has its own slot. Before the detail (with media) has loaded, nothing rather than the wrong picture.
  const snap = ([...items].reverse().find((m) => m.kind === 'snapshot') || {}).url || null;
  return { clip, photos, snap };
}

function timeline(inc) {
  const rows = inc.timeline || [];
  return el('ol', { class: 'timeline' }, ...rows.map((r) => el('li', {},
    el('span', { class: 'tl-time', text: clock(r.at) }),
    el('span', { class: 'tl-action', text: tv('act', r.action) }),
    r.to_state ? el('span', { class: `chip state-${r.to_state}`, text: tv('state', r.to_state) }) : null,
    el('span', { class: 'muted', text: r.actor }),
    r.reason ? el('div', { class: 'tl-reason', text: r.reason }) : null)));
}

function proposalBox(inc, items, ctx) {
  const box = el('div', { class: 'proposal' }, el('h3', { text: t('prop.title') }));
  if (!items) { box.append(el('p', { class: 'muted', text: t('prop.loading') })); return box; }
  if (!items.length) { box.append(el('p', { class: 'muted', text: t('prop.none') })); return box; }
  const canDispatch = allows(inc, 'dispatch');
  items.slice(0, 3).forEach((p, i) => {
    box.append(el('div', { class: `prop ${i === 0 ? 'best' : ''}`, dataset: { team: p.team_id } },
      el('div', { class: 'prop-head' },
        el('strong', { text: `${i + 1}. ${ctx.teamName(p.team_id, p.team)}` }),
        el('span', { class: 'muted', text: p.travel_s != null ? t('prop.eta', { m: Math.max(1, Math.round(p.travel_s / 60)) }) : '' }),
        canDispatch ? el('button', { type: 'button', class: 'small act-dispatch', onclick: () => act(inc, 'dispatch', { teamId: p.team_id }, ctx), text: t('act.dispatch') }) : null),
      el('ul', { class: 'reasons' }, ...(p.reasons || []).map((r) => el('li', { text: r })))));
  });
  return box;
}

function actionsBox(inc, ctx, teams) {
  const reason = el('input', { id: 'act-reason', placeholder: t('act.reason_ph') });
  // Any team may be sent, with or without a proposal (no place on the site, or every team off shift).
  const picksTeam = allowedActions(inc).some((a) => PICKS_TEAM.has(a));
  const teamSel = picksTeam ? el('select', { id: 'act-team' }, el('option', { value: '', text: t('act.pick_team') }),
    ...teams.map((tm) => el('option', { value: tm.id, text: `${tm.name} · ${tv('teamstatus', tm.status)}` }))) : null;
  const buttons = allowedActions(inc).map((a) => el('button', {
    type: 'button', class: `act-${a}`, dataset: { reason: needsReason(inc, a) ? 'required' : 'optional' },
    onclick: () => {
      const why = reason.value.trim();
      if (needsReason(inc, a) && !why) { reason.focus(); reason.classList.add('need'); return; }
      if (PICKS_TEAM.has(a) && !teamSel.value) { teamSel.focus(); teamSel.classList.add('need'); return; }
      act(inc, a, { reason: why, teamId: PICKS_TEAM.has(a) ? teamSel.value : null }, ctx);
    },
    text: t(`act.${a}`),
  }));
  return el('div', { class: 'actions' }, el('div', { class: 'act-inputs' }, teamSel, reason), el('div', { class: 'act-buttons' }, ...buttons),
    el('p', { id: 'panel-msg', role: 'status' }));
}

export async function renderPanel(state, ctx) {
  const box = document.getElementById('incident-panel');
  const inc = state.incidents.get(state.selected);
  if (!inc) { shownId = null; return; }
  if (inc.source === 'sensor' && careCache.id !== inc.id) loadEvidence(inc, ctx);
  const care = inc.source === 'sensor' && careCache.id === inc.id ? careBox(careCache.data) : null;
  const key = JSON.stringify([inc.state, inc.team_id, allowedActions(inc), inc.updated_at, (inc.timeline || []).length, (inc.media || []).length, document.documentElement.lang, !!care]);
  const sameIncident = shownId === inc.id;
  // Keep typed reasons and the playing clip: rebuild only when the incident changed.
  if (sameIncident && key === shownKey && box.dataset.proposal === String(proposalCache.at)) {
    const dl = box.querySelector('.deadline');
    if (dl) dl.textContent = untilDeadline(inc.deadline_at);
    return;
  }
  const keepReason = sameIncident ? (document.getElementById('act-reason') || {}).value : '';
  shownId = inc.id;
  shownKey = key;
  const { clip, photos, snap } = media(inc);
  const team = inc.team_id != null ? state.teams.get(inc.team_id) : null;
  const oldVideo = box.querySelector('video');
  const video = clip ? (oldVideo && oldVideo.dataset.src === clip.url ? oldVideo
    : el('video', { src: mediaUrl(clip.url), controls: true, muted: true, autoplay: true, loop: true, playsinline: true, preload: 'auto', dataset: { src: clip.url } })) : null;
  if (video) video.muted = true;
  const props = allows(inc, 'dispatch') ? (proposalCache.id === inc.id ? proposalCache.items : null) : [];
  box.replaceChildren(...[
    el('div', { class: 'panel-head' },
      el('span', { class: severityClass(inc.severity), text: String(inc.severity) }),
      el('h2', { text: `#${inc.id} ${tv('event', inc.event_type || inc.category)}` }),
      el('span', { class: `chip state-${inc.state}`, id: 'panel-state', text: tv('state', inc.state) })),
    el('dl', { class: 'facts' },
      el('dt', { text: t('inc.category') }), el('dd', { text: tv('cat', inc.category) }),
      el('dt', { text: t('inc.source') }), el('dd', { class: `source source-${inc.source}`, text: tv('source', inc.source) }),
      el('dt', { text: t('inc.where') }), el('dd', { text: [ctx.placeName(inc.place), inc.camera_id, inc.zone].filter(Boolean).join(' · ') || '—' }),
      el('dt', { text: t('inc.deadline') }), el('dd', { class: 'deadline', text: untilDeadline(inc.deadline_at) }),
      el('dt', { text: t('inc.team') }), el('dd', { text: team ? `${team.name} (${(team.people && team.people[team.leader] && team.people[team.leader].name) || team.leader || ''})` : '—' }),
      el('dt', { text: t('inc.events') }), el('dd', { text: String(inc.event_count ?? '—') })),
    care,
    inc.source === 'sensor' ? null : el('div', { class: 'media' },
      snap ? el('figure', {}, el('img', { class: 'snapshot', src: mediaUrl(snap), alt: t('inc.snapshot') }), el('figcaption', { text: t('inc.snapshot') })) : null,
      video ? el('figure', {}, video, el('figcaption', { text: t('inc.clip') })) : el('p', { class: 'muted no-clip', text: t('inc.no_clip') }),
      ...photos.map((p) => el('figure', {}, el('img', { class: 'photo', src: mediaUrl(p.url), alt: t('inc.photo') }), el('figcaption', { text: t('inc.photo') })))),
    props === null ? el('p', { class: 'muted', text: t('prop.loading') }) : props.length ? proposalBox(inc, props, ctx) : null,
    actionsBox(inc, ctx, [...state.teams.values()]),
    el('h3', { text: t('inc.timeline') }), timeline(inc)].filter(Boolean));
  if (keepReason) document.getElementById('act-reason').value = keepReason;
  box.dataset.proposal = String(proposalCache.at);
  if (allows(inc, 'dispatch') && (proposalCache.id !== inc.id || Date.now() - proposalCache.at > 5000)) {
    await proposals(inc);
    box.dataset.proposal = '';
    ctx.render();
  }
}
