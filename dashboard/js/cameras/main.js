// The cameras page (admin, engineer): each camera's health, add / edit / disable, the source tried before
// saving, zones and masks drawn on a still, rule forms generated from the rule schema, errors at the field.
import { auth, get, HttpError, mediaUrl, request, routes } from '../shared/api.js';
import { el, parseTime } from '../shared/format.js';
import { t, tv } from '../shared/i18n.js';
import { $, boot, placesOf, safe } from '../shared/page.js';
import { ZoneEditor } from './editor.js';
import { clearErrors, readRule, ruleForm, showErrors } from './forms.js';

const page = { cams: [], schema: null, classes: [], places: {}, editing: null, timer: null };
let editor = null;
let tool = null;

const fmtTime = (v) => { const d = parseTime(v); return d ? new Date(d).toLocaleTimeString() : '—'; };
const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;

// ---- the list ----------------------------------------------------------------------------------------
async function loadList() {
  try {
    page.cams = await get(routes.cameraConfigs());
    $('list-error').textContent = '';
  } catch (err) {
    $('list-error').textContent = err instanceof HttpError && err.status === 403 ? t('camcfg.forbidden') : err.message;
    return;
  }
  const body = $('cam-table').querySelector('tbody');
  body.replaceChildren(...page.cams.map((c) => el('tr', { 'data-cam': c.camera, class: c.enabled ? '' : 'disabled' },
    el('td', {}, c.camera),
    el('td', {}, el('span', { class: `chip cam-${c.state}` }, c.enabled ? tv('camstate', c.state) : t('camcfg.disabled'))),
    el('td', { class: 'fps' }, `${c.fps ? Number(c.fps).toFixed(1) : '0'} / ${c.detect_fps ?? '—'}`
      + (c.detector_load !== null && c.detector_load !== undefined ? ` · ${Math.round(c.detector_load * 100)}%` : '')),
    el('td', {}, fmtTime(c.last_frame_at || c.last_seen_at)),
    el('td', {}, c.uptime_24h === null || c.uptime_24h === undefined ? '—' : `${(c.uptime_24h * 100).toFixed(1)}%`),
    el('td', {}, String(c.reconnects_24h ?? 0)),
    el('td', { class: 'err', title: c.last_error_at || '' }, c.state === 'online' ? '' : (c.last_error || c.detail || '')),
    el('td', { class: 'storage' }, `${mb(c.storage_bytes || 0)} · ${c.storage_files || 0}`),
    el('td', {},
      el('button', { type: 'button', class: 'ghost', 'data-act': 'edit', onclick: () => openEditor(c.camera) }, t('camcfg.edit')),
      el('button', { type: 'button', class: 'ghost', 'data-act': 'debug', onclick: () => openDebug(c.camera) }, t('camcfg.debug')),
      el('button', { type: 'button', class: 'ghost', 'data-act': 'toggle', onclick: () => toggle(c) },
        c.enabled ? t('camcfg.disable') : t('camcfg.enable'))))));
}

// Import a YAML file of the contract: every camera of it, or none (the error names the camera and field).
async function importYaml(file) {
  $('list-error').textContent = '';
  const r = await fetch(routes.cameraImport(), { method: 'POST', body: await file.text(),
    headers: { 'Content-Type': 'application/yaml', Authorization: `Bearer ${auth.token}` } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { $('list-error').textContent = typeof body.detail === 'string' ? body.detail : String(r.status); return; }
  await loadList();
  $('list-error').textContent = t('camcfg.imported', { n: body.length });
}

async function toggle(c) {
  await request('POST', routes.cameraEnabled(c.camera), { enabled: !c.enabled });
  await loadList();
}

// ---- the debug view: about one frame a second while it is open (the worker draws it only then) --------
function openDebug(name) {
  closeDebug();
  $('debug').hidden = false;
  $('debug-title').textContent = t('camcfg.debug_title', { name });
  $('debug-msg').textContent = t('camcfg.debug_wait');
  const img = $('debug-img');
  img.dataset.ok = '';
  img.onload = () => { img.dataset.ok = '1'; $('debug-msg').textContent = ''; };
  img.onerror = () => { $('debug-msg').textContent = t('camcfg.debug_wait'); };
  const load = () => { img.src = mediaUrl(routes.cameraDebug(name)) + `&t=${Date.now()}`; };
  load();
  page.debugTimer = setInterval(load, 1000);
}

function closeDebug() { clearInterval(page.debugTimer); $('debug').hidden = true; }

// ---- the editor ---------------------------------------------------------------------------------------
function shapesOf(config) {
  const out = [];
  for (const [name, z] of Object.entries(config.zones || {})) {
    const { polygon, rules, ...rest } = z;
    out.push({ kind: 'zone', name, points: polygon.map((p) => [...p]), rules: rules || [], rest });
  }
  for (const p of (config.objects && config.objects.mask) || []) out.push({ kind: 'objmask', points: p.map((q) => [...q]) });
  for (const p of (config.motion && config.motion.mask) || []) out.push({ kind: 'motionmask', points: p.map((q) => [...q]) });
  return out;
}

function syncRules() {
  for (const card of $('shapes').querySelectorAll('.shape-card')) {
    const shape = card._shape;
    if (shape.kind === 'zone') shape.rules = [...card.querySelectorAll('.rule')].map(readRule);
  }
}

function shapePath(shape) {
  const same = editor.shapes.filter((s) => s.kind === shape.kind);
  if (shape.kind === 'zone') return `zones.${shape.name}.polygon`;
  return `${shape.kind === 'objmask' ? 'objects' : 'motion'}.mask.${same.indexOf(shape)}`;
}

function renderCards() {
  const box = $('shapes');
  box.replaceChildren();
  for (const shape of editor.shapes) {
    const path = shapePath(shape);
    const card = el('div', { class: `shape-card${shape === editor.selected ? ' selected' : ''}`, 'data-field': path,
      'data-kind': shape.kind });
    card._shape = shape;
    const head = el('div', { class: 'head' }, el('strong', {}, t(`camcfg.kind_${shape.kind}`)));
    if (shape.kind === 'zone') {
      head.append(el('input', { class: 'zone-name', value: shape.name, 'aria-label': t('camcfg.zone_name'),
        onchange: (e) => { syncRules(); shape.name = e.target.value.trim(); editor.render(); renderCards(); } }));
    }
    head.append(el('span', { class: 'grow' }),
      el('button', { type: 'button', class: 'ghost', onclick: () => { syncRules(); editor.select(shape); } }, t('camcfg.select')),
      el('button', { type: 'button', class: 'ghost', 'data-act': 'delete', onclick: () => { syncRules(); editor.remove(shape); } },
        t('camcfg.delete')));
    card.append(head, el('small', { class: 'field-error' }));
    if (shape.kind === 'zone') {
      const rulePath = (i) => `zones.${shape.name}.rules.${i}`;
      shape.rules.forEach((rule, i) => card.append(ruleForm(page.schema, page.classes, rule, rulePath(i), () => {
        syncRules(); shape.rules.splice(i, 1); renderCards();
      })));
      card.append(el('button', { type: 'button', 'data-act': 'add-rule', onclick: () => {
        syncRules(); shape.rules.push({ kind: 'presence' }); renderCards();
      } }, t('camcfg.add_rule')));
    }
    box.append(card);
  }
}

function nextZoneName() {
  const names = new Set(editor.shapes.filter((s) => s.kind === 'zone').map((s) => s.name));
  let i = 1;
  while (names.has(`zone${i}`)) i += 1;
  return `zone${i}`;
}

function startTool(kind) {
  syncRules();
  tool = kind;
  editor.start(kind);
  $('tool-finish').hidden = false;
  $('tool-hint').textContent = t('camcfg.draw_hint');
}

function finishTool() {
  if (!editor.finish()) { $('tool-hint').textContent = t('camcfg.need_3'); return; }
  tool = null;
  $('tool-finish').hidden = true;
  $('tool-hint').textContent = '';
}

function setStill(src) {
  const img = $('still');
  img.onload = () => editor.setSize(img.naturalWidth, img.naturalHeight);
  img.src = src;
}

async function openEditor(name) {
  syncRules();
  const ed = $('editor');
  clearErrors(ed, $('ed-error'));
  $('ed-saved').textContent = '';
  $('probe-msg').textContent = '';
  const row = name ? await get(routes.cameraConfig(name)) : null;
  page.editing = { name, config: row ? row.config : {}, retention: row ? row.retention : {} };
  const cfg = page.editing.config;
  const schema = await get(routes.cameraSchema(name));
  page.schema = schema.rules;
  page.classes = schema.classes;
  $('ed-title').textContent = name ? t('camcfg.edit_title', { name }) : t('camcfg.add_title');
  $('ed-name').value = name || '';
  $('ed-name').disabled = !!name;
  $('ed-source').value = cfg.source || '';
  $('ed-detect-source').value = cfg.detect_source || '';
  $('ed-fps').value = (cfg.detect && cfg.detect.fps) || 5;
  $('ed-model').value = (cfg.detector && cfg.detector.model) || '';
  const place = $('ed-place');
  place.replaceChildren(el('option', { value: '' }, '—'),
    ...Object.keys(page.places).sort().map((p) => el('option', { value: p }, page.places[p].name || p)));
  place.value = (cfg.location && cfg.location.node) || '';
  $('ret-snap').value = page.editing.retention.snapshot_days ?? '';
  $('ret-clip').value = page.editing.retention.clip_days ?? '';
  editor.load(shapesOf(cfg));
  renderCards();
  $('still').removeAttribute('src');
  if (name) setStill(mediaUrl(routes.cameraStill(name)) + `&t=${Date.now()}`);
  ed.hidden = false;
  const hist = name ? await get(routes.cameraHistory(name)) : [];
  $('ed-history').replaceChildren(...hist.map((h) => el('li', {},
    `r${h.revision} · ${fmtTime(h.at)} · ${h.actor} · ${h.action}: ${(h.changed || []).join(', ')}`)));
}

async function probe() {
  const msg = $('probe-msg');
  clearErrors($('editor'), $('ed-error'));
  msg.textContent = t('camcfg.probing');
  try {
    const r = await request('POST', routes.cameraProbe(), { source: $('ed-source').value.trim() });
    setStill(r.jpeg);
    msg.textContent = t('camcfg.probe_ok', { w: r.width, h: r.height });
    return true;
  } catch (err) {
    msg.textContent = '';
    showErrors($('editor'), (err.body && err.body.errors) || [{ field: 'source', message: err.message }], $('ed-error'));
    return false;
  }
}

// ONVIF: the camera's profiles and their stream URIs; picking one fills the source (then try it), and the
// smallest of several is offered as the detect sub-stream (decoding a 1080p main stream costs ~5x more)
async function readOnvif() {
  clearErrors($('editor'), $('ed-error'));
  const sel = $('onvif-streams');
  try {
    const streams = await request('POST', routes.cameraOnvif(), {
      host: $('onvif-host').value.trim(), port: Number($('onvif-port').value || 80),
      username: $('onvif-user').value, password: $('onvif-pass').value });
    const label = (s) => `${s.name} ${s.width || '?'}×${s.height || '?'} · ${s.uri}`;
    sel.replaceChildren(el('option', { value: '' }, t('camcfg.onvif_pick')),
      ...streams.map((s) => el('option', { value: s.source }, label(s))));
    sel.hidden = false;
    const sub = $('onvif-detect');
    sub.replaceChildren(el('option', { value: '' }, t('camcfg.onvif_pick_detect')),
      ...streams.map((s) => el('option', { value: s.source }, label(s))));
    sub.hidden = streams.length < 2;
    const area = (s) => (s.width || 0) * (s.height || 0);
    const smallest = streams.filter(area).sort((a, b) => area(a) - area(b))[0];
    if (streams.length > 1 && smallest && !$('ed-detect-source').value) {
      sub.value = smallest.source;
      $('ed-detect-source').value = smallest.source;
    }
  } catch (err) {
    showErrors($('editor'), (err.body && err.body.errors) || [{ field: 'host', message: err.message }], $('ed-error'));
  }
}

function buildConfig() {
  syncRules();
  const cfg = structuredClone(page.editing.config || {});
  cfg.source = $('ed-source').value.trim();
  const sub = $('ed-detect-source').value.trim();
  if (sub) cfg.detect_source = sub; else delete cfg.detect_source;
  const fps = $('ed-fps').value;
  if (fps !== '') cfg.detect = { ...(cfg.detect || {}), fps: Number(fps) };
  const node = $('ed-place').value;
  if (node) cfg.location = { ...(cfg.location || {}), node }; else delete cfg.location;
  const model = $('ed-model').value.trim();
  if (model) cfg.detector = { ...(cfg.detector || {}), model };
  else if (cfg.detector) { delete cfg.detector.model; if (!Object.keys(cfg.detector).length) delete cfg.detector; }
  cfg.zones = {};
  for (const s of editor.shapes.filter((x) => x.kind === 'zone')) {
    cfg.zones[s.name] = { ...(s.rest || {}), polygon: s.points, rules: s.rules };
  }
  for (const [kind, section] of [['objmask', 'objects'], ['motionmask', 'motion']]) {
    const masks = editor.shapes.filter((x) => x.kind === kind).map((x) => x.points);
    if (masks.length) cfg[section] = { ...(cfg[section] || {}), mask: masks };
    else if (cfg[section]) { delete cfg[section].mask; if (!Object.keys(cfg[section]).length) delete cfg[section]; }
  }
  return cfg;
}

async function save() {
  const ed = $('editor');
  clearErrors(ed, $('ed-error'));
  $('ed-saved').textContent = '';
  const config = buildConfig();
  const name = page.editing.name || $('ed-name').value.trim();
  try {
    const saved = page.editing.name
      ? await request('PUT', routes.cameraConfig(name), { config })
      : await request('POST', routes.cameraConfigs(), { name, config });
    const retention = {};
    if ($('ret-snap').value) retention.snapshot_days = Number($('ret-snap').value);
    if ($('ret-clip').value) retention.clip_days = Number($('ret-clip').value);
    await request('PUT', routes.cameraRetention(name), retention);
    await loadList();
    await openEditor(name);
    $('ed-saved').textContent = saved.changed.length ? t('camcfg.saved', { rev: saved.revision }) : t('camcfg.unchanged');
  } catch (err) {
    const errors = (err.body && err.body.errors) || [{ field: '', message: err.message }];
    showErrors(ed, errors, $('ed-error'));
  }
}

function start() {
  const me = auth.user;
  $('who').textContent = me ? `${me.name} · ${tv('role', me.role)}` : '';
  editor = new ZoneEditor($('overlay'), {
    onChange: (shape, what) => {
      if (what === 'added' && shape.kind === 'zone') { shape.name = nextZoneName(); shape.rules = []; editor.render(); }
      renderCards();
    },
    onSelect: () => renderCards(),
  });
  $('cam-add').onclick = () => openEditor(null);
  $('ed-close').onclick = () => { $('editor').hidden = true; };
  $('debug-close').onclick = closeDebug;
  $('ed-probe').onclick = probe;
  $('onvif-read').onclick = readOnvif;
  $('onvif-streams').onchange = (e) => { if (e.target.value) { $('ed-source').value = e.target.value; probe(); } };
  $('onvif-detect').onchange = (e) => { $('ed-detect-source').value = e.target.value; };
  $('ed-save').onclick = save;
  $('tool-zone').onclick = () => startTool('zone');
  $('tool-objmask').onclick = () => startTool('objmask');
  $('tool-motionmask').onclick = () => startTool('motionmask');
  $('tool-finish').onclick = finishTool;
  $('cam-import').onchange = (e) => { if (e.target.files[0]) importYaml(e.target.files[0]); e.target.value = ''; };
  $('cam-export').onclick = (e) => { e.preventDefault(); window.open(mediaUrl(routes.cameraExport()), '_blank'); };
  safe(routes.site()).then((site) => { page.places = placesOf(site); });
  loadList();
  page.timer = setInterval(loadList, 5000);
}

boot({ start, stop: () => clearInterval(page.timer), onLang: () => loadList() });
