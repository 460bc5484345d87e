// The residents' page (群众点单): report without an account, follow it by its code, rate the answer.
// Plain script, no framework and nothing from outside, so a cheap phone loads it fast. Everything from
// the server is shown with textContent.
'use strict';
(function () {
  const STATES = { open: '已受理', dispatched: '已派单', accepted: '处理中', on_site: '处理中', declined: '待派单',
    escalated: '已上报', reopened: '重新办理', resolved: '已办结', closed: '已结案', false_alarm: '不予受理' };
  const STEPS = { opened: '已受理', dispatch: '已派给处理人员', override: '已改派', accept: '处理人员已接单',
    arrive: '处理人员已到场', resolve: '已办结', close: '已结案', reopen: '重新办理', escalate: '已上报社区',
    dissatisfied: '群众不满意，重新办理', false_alarm: '经核实不予受理', reply: '答复', rated: '已评价' };
  const RATINGS = { satisfied: '满意', basic: '基本满意', dissatisfied: '不满意' };
  const $ = (id) => document.getElementById(id);
  let form = { max_photos: 3, max_photo_bytes: 5 * 1024 * 1024 };
  let point = null;   // [x, y] metres on the plan (x east, y north from its bottom-left corner)

  function setupPlan(plan) {
    if (!plan) return;
    $('plan-pick').hidden = false;
    const img = $('plan');
    img.addEventListener('click', (ev) => {
      const r = img.getBoundingClientRect();
      const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
      point = [fx * plan.width_m, (1 - fy) * plan.height_m];
      const dot = $('plan-dot'); dot.hidden = false;
      dot.style.left = (fx * 100) + '%'; dot.style.top = (fy * 100) + '%';
      $('place').value = '';
      $('plan-note').textContent = '已选点，将按最近的地点受理';
    });
    $('place').addEventListener('change', () => { if ($('place').value) { point = null; $('plan-dot').hidden = true; $('plan-note').textContent = ''; } });
    img.src = plan.image_url;
  }

  function message(body, status) {
    if (body && typeof body.message === 'string') return body.message;
    if (body && typeof body.detail === 'string') return body.detail;
    if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join('; ');
    return '提交失败（' + status + '），请稍后再试';
  }

  async function call(url, opts) {
    const r = await fetch(url, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error(message(body, r.status));
    return body;
  }

  function option(sel, id, name) {
    const o = document.createElement('option');
    o.value = id; o.textContent = name; sel.appendChild(o);
  }

  // Shrink a big camera photo on the phone before sending (long side 1600 px); the original when it cannot.
  async function shrink(file) {
    if (!window.createImageBitmap || file.size < 400 * 1024) return file;
    try {
      const bmp = await createImageBitmap(file);
      const k = Math.min(1, 1600 / Math.max(bmp.width, bmp.height));
      const c = document.createElement('canvas');
      c.width = Math.round(bmp.width * k); c.height = Math.round(bmp.height * k);
      c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
      const blob = await new Promise((res) => c.toBlob(res, 'image/jpeg', 0.85));
      return blob && blob.size < file.size ? new File([blob], 'photo.jpg', { type: 'image/jpeg' }) : file;
    } catch (e) { return file; }
  }

  async function submitReport(ev) {
    ev.preventDefault();
    const err = $('report-error'); err.textContent = '';
    const files = [...$('photos').files];
    if (files.length > form.max_photos) { err.textContent = '最多上传 ' + form.max_photos + ' 张照片'; return; }
    const fd = new FormData();
    for (const k of ['category', 'place', 'building', 'unit', 'text', 'phone']) fd.append(k, $(k).value);
    if (point && !$('place').value) { fd.append('x', point[0].toFixed(1)); fd.append('y', point[1].toFixed(1)); }
    for (const f of files) fd.append('photos', await shrink(f));
    $('submit').disabled = true;
    try {
      const out = await call('/api/public/reports', { method: 'POST', body: fd });
      $('report').hidden = true; $('done').hidden = false;
      $('done-code').textContent = out.code;
      $('done-link').href = out.url;
      try { localStorage.setItem('sharpeyes.report', out.code); } catch (e) { /* private mode */ }
    } catch (e) { err.textContent = e.message; } finally { $('submit').disabled = false; }
  }

  function fmt(iso) {
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getMonth() + 1}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function showStatus(st) {
    $('report').hidden = true; $('done').hidden = true; $('status').hidden = false;
    $('st-code').textContent = st.code;
    $('st-category').textContent = st.category_name;
    $('st-state').textContent = STATES[st.state] || st.state;
    $('st-state').dataset.state = st.state;
    $('st-text').textContent = st.text;
    const ol = $('st-timeline'); ol.textContent = '';
    for (const s of st.timeline) {
      const li = document.createElement('li'); li.dataset.step = s.step;
      const t = document.createElement('time'); t.textContent = fmt(s.at); li.appendChild(t);
      li.appendChild(document.createTextNode((STEPS[s.step] || s.step) + (s.rating ? '：' + (RATINGS[s.rating] || '') : '')));
      if (s.text) { const p = document.createElement('span'); p.className = 'text'; p.textContent = s.text; li.appendChild(p); }
      ol.appendChild(li);
    }
    $('rate').hidden = !st.can_rate;
    const r = $('st-rating');
    r.hidden = !st.rating || st.can_rate;
    if (st.rating) r.textContent = '您的评价：' + (RATINGS[st.rating.rating] || '') + (st.rating.comment ? '（' + st.rating.comment + '）' : '');
  }

  async function load(code) {
    $('lookup-error').textContent = '';
    try {
      showStatus(await call('/api/public/reports/' + encodeURIComponent(code)));
      $('lookup-code').value = code;
    } catch (e) { $('lookup-error').textContent = e.message; }
  }

  async function submitRating(ev) {
    ev.preventDefault();
    const err = $('rate-error'); err.textContent = '';
    const picked = document.querySelector('#rate input[name=rating]:checked');
    if (!picked) { err.textContent = '请选择满意、基本满意或不满意'; return; }
    $('rate-submit').disabled = true;
    try {
      const st = await call('/api/public/reports/' + encodeURIComponent($('st-code').textContent) + '/rating', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ rating: picked.value, comment: $('rate-comment').value }) });
      showStatus(st);
    } catch (e) { err.textContent = e.message; } finally { $('rate-submit').disabled = false; }
  }

  async function init() {
    $('report').addEventListener('submit', submitReport);
    $('rate').addEventListener('submit', submitRating);
    $('lookup-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const c = $('lookup-code').value.trim();
      if (c) history.replaceState(null, '', '/r/?c=' + encodeURIComponent(c));
      if (c) load(c);
    });
    const code = new URLSearchParams(location.search).get('c');
    if (code) { load(code); return; }
    try {
      form = await call('/api/public/form');
      for (const c of form.categories) option($('category'), c.id, c.name);
      for (const p of form.places) option($('place'), p.id, p.name);
      setupPlan(form.plan);
      $('report').hidden = false;
    } catch (e) { $('lookup-error').textContent = e.message; }
  }
  init();
}());
