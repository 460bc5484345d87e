// One dictionary (i18n.json, {key: {zh, en}}) for every text of both pages; zh-CN by default.
let dict = {};
let lang = localStorage.getItem('se.lang') || 'zh';
const listeners = new Set();

export async function loadI18n() {
  const r = await fetch('/i18n.json', { cache: 'no-cache' }).catch(() => null);
  if (r && r.ok) dict = await r.json();
  apply(document);
}

export function getLang() { return lang; }

export function t(key, vars) {
  const entry = dict[key];
  let s = entry ? (entry[lang] ?? entry.zh) : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
  return s;
}

// Labels for values coming from the api (states, categories, event types): fall back to the raw value.
export function tv(prefix, value) {
  if (value === null || value === undefined || value === '') return '—';
  const key = `${prefix}.${value}`;
  return dict[key] ? t(key) : String(value).replace(/_/g, ' ');
}

export function apply(root) {
  root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll('[data-i18n-title]').forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

export function setLang(next) {
  lang = next;
  localStorage.setItem('se.lang', next);
  apply(document);
  listeners.forEach((fn) => fn(next));
}

export function onLangChange(fn) { listeners.add(fn); }

export function bindLangSwitch(button) {
  const show = () => { button.textContent = lang === 'zh' ? 'EN' : '中文'; };
  show();
  button.addEventListener('click', () => { setLang(lang === 'zh' ? 'en' : 'zh'); show(); });
}
