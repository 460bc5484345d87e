// Rule forms generated from the api's rule schema (GET /api/camera-configs/schema, read from the config's
// own models): one input per field, by its widget; empty optional fields are left out of the config, so a
// rule keeps only what the user set (the YAML export stays as short as the contract's examples).
import { el } from '../shared/format.js';
import { t } from '../shared/i18n.js';

function input(field, value, path, classes) {
  const common = { 'data-field': path, 'data-name': field.name, title: field.description };
  switch (field.widget) {
    case 'labels': {
      const sel = el('select', { ...common, multiple: true });
      for (const c of classes) sel.append(el('option', { value: c, selected: (value || []).includes(c) }, c));
      return sel;
    }
    case 'enum': {
      const sel = el('select', common, field.required ? null : el('option', { value: '' }, '—'));
      for (const o of field.options) sel.append(el('option', { value: o, selected: value === o }, o));
      return sel;
    }
    case 'number': case 'integer':
      return el('input', { ...common, type: 'number', step: field.widget === 'integer' ? '1' : 'any',
        min: field.min ?? undefined, max: field.max ?? undefined, value: value ?? '',
        placeholder: field.default !== undefined ? String(field.default) : '' });
    case 'bool':
      return el('input', { ...common, type: 'checkbox', checked: !!value });
    case 'schedule':
      return el('input', { ...common, value: (value || []).join(', '), placeholder: '22:00-06:00' });
    case 'text':
      return el('input', { ...common, value: value ?? '' });
    default:   // points, label scores: JSON
      return el('input', { ...common, value: value === undefined ? '' : JSON.stringify(value),
        placeholder: field.widget === 'points' ? '[[0.1, 0.5], [0.9, 0.5]]' : '{"person": 0.5}' });
  }
}

function read(field, elx) {
  switch (field.widget) {
    case 'labels': return [...elx.selectedOptions].map((o) => o.value);
    case 'bool': return elx.checked;
    case 'number': return elx.value === '' ? undefined : Number(elx.value);
    case 'integer': return elx.value === '' ? undefined : parseInt(elx.value, 10);
    case 'schedule': return elx.value.trim() ? elx.value.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    case 'enum': case 'text': return elx.value === '' ? undefined : elx.value;
    default:
      if (!elx.value.trim()) return undefined;
      try { return JSON.parse(elx.value); } catch { return elx.value; }   // the api says what is wrong
  }
}

// A rule's form: a kind selector and its fields; `path` is the rule's key path (zones.NAME.rules.I).
export function ruleForm(schema, classes, rule, path, onRemove) {
  const box = el('div', { class: 'rule', 'data-rule': path });
  const kinds = Object.keys(schema);
  const kindSel = el('select', { 'data-field': `${path}.kind`, 'data-name': 'kind' },
    kinds.map((k) => el('option', { value: k, selected: rule.kind === k, title: schema[k].description }, k)));
  const render = () => {
    const keep = box._read ? box._read() : rule;
    box.replaceChildren();
    const kind = kindSel.value;
    const fields = schema[kind].fields;
    box.append(el('label', {}, el('span', {}, t('camcfg.rule_kind')), kindSel, el('small', { class: 'field-error' })));
    const inputs = fields.map((f) => {
      const inp = input(f, keep[f.name], `${path}.${f.name}`, classes);
      box.append(el('label', {}, el('span', {}, f.name + (f.required ? ' *' : '')), inp,
        el('small', { class: 'field-error' })));
      return [f, inp];
    });
    box.append(el('button', { type: 'button', class: 'ghost', onclick: onRemove }, t('camcfg.remove_rule')));
    box._read = () => {
      const out = { kind: kindSel.value };
      for (const [f, inp] of inputs) {
        const v = read(f, inp);
        if (v !== undefined && !(Array.isArray(v) && !v.length && !f.required)) out[f.name] = v;
      }
      return out;
    };
  };
  kindSel.addEventListener('change', render);
  render();
  return box;
}

export function readRule(box) { return box._read(); }

// The api's errors, each at its field (data-field = the key path); what has no field goes to `general`.
export function showErrors(root, errors, general) {
  clearErrors(root, general);
  const rest = [];
  for (const e of errors) {
    let target = null;
    for (let path = e.field; path && !target; path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '') {
      target = root.querySelector(`[data-field="${CSS.escape(path)}"]`);
    }
    if (!target) { rest.push(e.field ? `${e.field}: ${e.message}` : e.message); continue; }
    target.classList.add('need');
    const slot = target.closest('label, .shape-card')?.querySelector('.field-error');
    if (slot) slot.textContent = e.message; else rest.push(`${e.field}: ${e.message}`);
  }
  general.textContent = rest.join('\n');
}

export function clearErrors(root, general) {
  root.querySelectorAll('.need').forEach((x) => x.classList.remove('need'));
  root.querySelectorAll('.field-error').forEach((x) => { x.textContent = ''; });
  general.textContent = '';
}
