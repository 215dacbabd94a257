/* govloop mobile workbench: offline task list, forms and queue; case data kept in
 * IndexedDB only encrypted (AES-GCM) under the grant's key, which lives in memory only. */
(() => {
  'use strict';

  const T = JSON.parse(document.getElementById('field-i18n').textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const API = '/api/v1/field';
  const DB_NAME = 'govloop-field';
  const STORES = ['meta', 'tasks', 'cases', 'queue'];
  const PHOTO_MAX_BYTES = 200 * 1024;
  const PHOTO_MAX_SIDE = 1280;
  const GRANT_CHECK_MS = 60 * 1000;
  const FIELD_ORDER = [
    'name', 'sex', 'birth_date', 'id_number', 'phone', 'address', 'credit_code',
    'legal_rep_name', 'legal_rep_id_number', 'project_code', 'enterprise_credit_code',
  ];

  const state = {
    deviceId: null,
    queueKey: null, // device-local, non-extractable: encrypts the task list and the queue
    tasks: [],
    forms: {},
    grants: {}, // taskId -> {token, grantId, key: CryptoKey}  (memory only)
    notices: {}, // taskId -> why its case data was wiped
    revoked: false,
  };
  const $view = document.getElementById('view');
  const $banner = document.getElementById('banner');
  const $net = document.getElementById('net');
  const $queuebar = document.getElementById('queuebar');

  // --- small helpers --------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function banner(message, kind) {
    $banner.textContent = message || '';
    $banner.dataset.kind = kind || 'info';
    $banner.hidden = !message;
  }
  function uuid() {
    return crypto.randomUUID();
  }

  // --- IndexedDB -----------------------------------------------------------------------
  let dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = () => {
          for (const name of STORES) req.result.createObjectStore(name);
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return dbPromise;
  }
  async function tx(store, mode, fn) {
    const conn = await db();
    return new Promise((resolve, reject) => {
      const t = conn.transaction(store, mode);
      const result = fn(t.objectStore(store));
      t.oncomplete = () => resolve(result && 'result' in result ? result.result : undefined);
      t.onerror = () => reject(t.error);
    });
  }
  const idb = {
    get: (s, k) => tx(s, 'readonly', (o) => o.get(k)),
    put: (s, k, v) => tx(s, 'readwrite', (o) => o.put(v, k)),
    del: (s, k) => tx(s, 'readwrite', (o) => o.delete(k)),
    all: (s) => tx(s, 'readonly', (o) => o.getAll()),
    keys: (s) => tx(s, 'readonly', (o) => o.getAllKeys()),
    clear: (s) => tx(s, 'readwrite', (o) => o.clear()),
  };
  async function wipeAll() {
    state.grants = {};
    for (const s of STORES) await idb.clear(s).catch(() => {});
    const conn = await db();
    conn.close();
    dbPromise = null;
    await new Promise((resolve) => {
      const req = indexedDB.deleteDatabase(DB_NAME);
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    });
  }

  // --- WebCrypto ------------------------------------------------------------------------
  function hexBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function importGrantKey(hex) {
    return crypto.subtle.importKey('raw', hexBytes(hex), 'AES-GCM', false, ['encrypt', 'decrypt']);
  }
  async function seal(key, value) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = new TextEncoder().encode(JSON.stringify(value));
    return { iv, ct: await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, data) };
  }
  async function unseal(key, box) {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.iv }, key, box.ct);
    return JSON.parse(new TextDecoder().decode(plain));
  }
  async function deviceKey() {
    let key = await idb.get('meta', 'queueKey');
    if (!key) {
      key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
        'encrypt',
        'decrypt',
      ]);
      await idb.put('meta', 'queueKey', key);
    }
    return key;
  }

  // --- network ---------------------------------------------------------------------------
  class Offline extends Error {}
  async function api(path, { method = 'GET', body, token } = {}) {
    const headers = { Accept: 'application/json', 'X-Device-Id': state.deviceId || '' };
    if (method !== 'GET') headers['X-CSRF-Token'] = CSRF;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers['X-Grant-Token'] = token;
    let resp;
    try {
      resp = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (err) {
      throw new Offline(String(err));
    }
    const data = await resp.json().catch(() => ({}));
    if (resp.status === 401) {
      location.href = '/login?next=/field/';
      throw new Offline('signed out');
    }
    if (resp.status === 403 && data.error === 'device_revoked') await onRevoked();
    return { ok: resp.ok, status: resp.status, data };
  }
  async function onRevoked() {
    if (state.revoked) return;
    state.revoked = true;
    await wipeAll();
    banner(T.device_revoked, 'error');
    $view.replaceChildren(el('p', { class: 'muted' }, T.device_revoked));
  }
  function setNet() {
    const online = navigator.onLine;
    $net.textContent = online ? T.online : T.offline;
    $net.dataset.state = online ? 'online' : 'offline';
  }

  // --- device ----------------------------------------------------------------------------
  function deviceName() {
    const ua = navigator.userAgent;
    if (/Android/i.test(ua)) return 'Android';
    if (/iPhone|iPad/i.test(ua)) return 'iOS';
    return navigator.platform || 'Browser';
  }
  async function ensureDevice() {
    state.deviceId = await idb.get('meta', 'deviceId');
    if (!state.deviceId) {
      state.deviceId = uuid();
      await idb.put('meta', 'deviceId', state.deviceId);
    }
    if (!navigator.onLine) return;
    try {
      const r = await api('/devices', {
        method: 'POST',
        body: { device_id: state.deviceId, name: deviceName() },
      });
      if (!r.ok && r.data.error !== 'device_revoked') banner(r.data.message || T.failed, 'error');
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
    }
  }

  // --- tasks -----------------------------------------------------------------------------
  async function loadTasks() {
    if (navigator.onLine) {
      try {
        const r = await api('/tasks');
        if (r.ok) {
          state.tasks = r.data.tasks;
          state.forms = r.data.forms;
          await idb.put('tasks', 'list', await seal(state.queueKey, r.data));
          return;
        }
        if (r.status !== 403) banner(r.data.message || T.failed, 'error');
        else return;
      } catch (err) {
        if (!(err instanceof Offline)) throw err;
      }
    }
    const box = await idb.get('tasks', 'list');
    if (box) {
      const data = await unseal(state.queueKey, box);
      state.tasks = data.tasks;
      state.forms = data.forms;
    }
  }
  function taskById(id) {
    return state.tasks.find((t) => t.id === id);
  }

  // --- case data -------------------------------------------------------------------------
  async function wipeCase(taskId, reason) {
    const had = (await idb.get('cases', taskId)) || state.grants[taskId];
    await idb.del('cases', taskId);
    delete state.grants[taskId];
    state.notices[taskId] = reason === 'task_completed' ? T.case_closed_wiped : T.case_wiped;
    if (had && navigator.onLine && !state.revoked) {
      api('/purged', { method: 'POST', body: { task_id: taskId, reason } }).catch(() => {});
    }
    const box = document.querySelector(`[data-case="${taskId}"]`);
    if (box) renderCaseMessage(box, state.notices[taskId], 'wiped');
  }
  async function openCase(task) {
    // online: open (or renew) the grant, fetch its key and the case, keep an encrypted copy
    const g = await api(`/tasks/${task.id}/grant`, { method: 'POST' });
    if (!g.ok) return { error: g.data.message || T.failed };
    const k = await api('/key', { token: g.data.token });
    if (k.status === 410) {
      await wipeCase(task.id, 'grant_ended');
      return { error: k.data.message };
    }
    if (!k.ok) return { error: k.data.message || T.failed };
    const key = await importGrantKey(k.data.key);
    const c = await api('/case', { token: g.data.token });
    if (!c.ok) return { error: c.data.message || T.failed };
    state.grants[task.id] = { token: g.data.token, grantId: g.data.grant_id, key };
    const box = await seal(key, c.data.subjects);
    await idb.put('cases', task.id, { taskId: task.id, grantId: g.data.grant_id, ...box });
    delete state.notices[task.id];
    return { subjects: c.data.subjects, fresh: true };
  }
  async function cachedCase(task) {
    const held = state.grants[task.id];
    const box = await idb.get('cases', task.id);
    if (!held || !box || box.grantId !== held.grantId) return null;
    return { subjects: await unseal(held.key, box), fresh: false };
  }
  async function checkGrants() {
    // a grant that ended (time limit, case closed, sign-out elsewhere) takes the copy with it
    for (const [taskId, held] of Object.entries(state.grants)) {
      try {
        const r = await api('/key', { token: held.token });
        if (r.status === 410 || (r.status === 403 && r.data.error !== 'device_revoked')) {
          await wipeCase(Number(taskId), 'grant_ended');
        }
      } catch (err) {
        if (!(err instanceof Offline)) throw err;
        return;
      }
    }
    const stored = await idb.all('cases');
    const orphans = stored.filter((b) => !state.grants[b.taskId]);
    if (!orphans.length) return;
    try {
      const r = await api('/grants/status', {
        method: 'POST',
        body: { grant_ids: orphans.map((b) => b.grantId) },
      });
      if (!r.ok) return;
      for (const b of orphans) if (!r.data.live[String(b.grantId)]) await wipeCase(b.taskId, 'grant_ended');
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
    }
  }

  // --- queue -----------------------------------------------------------------------------
  async function enqueue(task, values) {
    const item = {
      clientId: uuid(),
      taskId: task.id,
      number: task.number,
      baseVersion: task.version,
      capturedAt: new Date().toISOString(),
      status: 'pending',
      message: null,
      box: await seal(state.queueKey, values),
    };
    await idb.put('queue', item.clientId, item);
    return item;
  }
  let syncing = null;
  function sync() {
    if (!syncing) syncing = doSync().finally(() => (syncing = null));
    return syncing;
  }
  async function doSync() {
    if (!navigator.onLine || state.revoked) return renderQueue();
    const items = (await idb.all('queue')).filter((i) => i.status === 'pending');
    for (const item of items) {
      const values = await unseal(state.queueKey, item.box);
      let r;
      try {
        r = await api(`/tasks/${item.taskId}/submissions`, {
          method: 'POST',
          body: {
            client_id: item.clientId,
            base_version: item.baseVersion,
            values,
            captured_at: item.capturedAt,
          },
        });
      } catch (err) {
        if (err instanceof Offline) break;
        throw err;
      }
      if (r.status === 403 && r.data.error === 'device_revoked') return;
      if (r.ok) {
        item.status = r.data.status === 'conflict' ? 'conflict' : 'synced';
        item.message = r.data.conflict || null;
        item.serverId = r.data.id;
        item.box = null; // the server holds it now; the device keeps only the state
        if (item.status === 'synced') await wipeCase(item.taskId, 'task_completed');
      } else if (r.status >= 500) {
        break; // try again later, keep it queued
      } else {
        item.status = 'rejected'; // kept with its data so nothing is lost; the reason is shown
        item.message = r.data.message || T.failed;
      }
      await idb.put('queue', item.clientId, item);
    }
    await renderQueue();
    if (location.hash === '' || location.hash === '#/') await showTasks(false);
  }
  async function renderQueue() {
    const items = await idb.all('queue');
    if (!items.length) {
      $queuebar.hidden = true;
      return;
    }
    const count = (s) => items.filter((i) => i.status === s).length;
    $queuebar.hidden = false;
    $queuebar.replaceChildren(
      el('strong', {}, T.queue_summary, '：'),
      ...['pending', 'synced', 'conflict', 'rejected']
        .filter((s) => count(s))
        .map((s) => el('span', { class: `qstate q-${s}`, 'data-state': s }, `${T[s]} ${count(s)}`)),
    );
    for (const item of items) {
      const note = document.querySelector(`[data-queued="${item.clientId}"]`);
      if (note) note.hidden = item.status !== 'pending';
      const node = document.querySelector(`[data-queue-task="${item.taskId}"]`);
      if (node) node.replaceChildren(queueBadge(item));
    }
  }
  function queueBadge(item) {
    return el(
      'span',
      { class: `qstate q-${item.status}`, 'data-state': item.status, title: item.message || '' },
      T[item.status],
      item.message ? `：${item.message}` : '',
    );
  }

  // --- views -----------------------------------------------------------------------------
  async function showTasks(reload = true) {
    if (reload) await loadTasks();
    if (state.revoked) return;
    const queue = await idb.all('queue');
    const latest = {};
    for (const q of queue) latest[q.taskId] = q;
    const done = queue.filter((q) => !state.tasks.some((t) => t.id === q.taskId));
    const list = el(
      'ul',
      { class: 'tasks' },
      state.tasks.map((t) =>
        el(
          'li',
          { class: 'task', 'data-task': t.id },
          el(
            'a',
            { href: `#/task/${t.id}` },
            el('span', { class: `ttype t-${t.task_type}` }, t.type_label),
            el('span', { class: 'tnum' }, t.number),
            el('span', { class: 'ttitle' }, t.title),
            el('span', { class: 'tmeta' }, taskMeta(t, false)),
          ),
          el('span', { 'data-queue-task': t.id }, latest[t.id] ? queueBadge(latest[t.id]) : ''),
        ),
      ),
    );
    const finished = done.length
      ? el(
          'ul',
          { class: 'tasks done' },
          done.map((q) =>
            el('li', { class: 'task' }, el('span', { class: 'tnum' }, q.number), el('span', { 'data-queue-task': q.taskId }, queueBadge(q))),
          ),
        )
      : '';
    $view.replaceChildren(
      el('h1', {}, T.my_tasks),
      state.tasks.length ? list : el('p', { class: 'muted' }, T.no_tasks),
      finished,
    );
    await renderQueue();
  }

  function renderCaseMessage(box, message, kind) {
    box.replaceChildren(el('h2', {}, T.case_data), el('p', { class: `cmsg c-${kind}`, 'data-case-state': kind }, message));
  }
  function byFieldOrder([a], [b]) {
    const rank = (k) => (FIELD_ORDER.includes(k) ? FIELD_ORDER.indexOf(k) : FIELD_ORDER.length);
    return rank(a) - rank(b) || a.localeCompare(b);
  }
  function taskMeta(t, withLabel) {
    const parts = [];
    if (t.due) parts.push(`${T.due} ${t.due}`);
    if (t.address) parts.push(withLabel ? `${T.address}：${t.address}` : t.address);
    return parts.join(' · ');
  }
  function renderSubjects(box, result) {
    const cards = result.subjects.map((s) =>
      el(
        'dl',
        { class: 'subject', 'data-subject': s.id },
        el('dt', { class: 'skind' }, T.kinds[s.kind] || s.kind),
        el('dd', {}, ''),
        Object.entries(s.values).sort(byFieldOrder).flatMap(([k, v]) => [
          el('dt', {}, T.field_labels[k] || k),
          el('dd', {}, k === 'sex' ? T.sex_values[v] || String(v) : String(v), s.masked.includes(k) ? el('small', { class: 'masked' }, ` (${T.masked})`) : ''),
        ]),
      ),
    );
    box.replaceChildren(
      el('h2', {}, T.case_data),
      el('p', { class: 'muted small' }, result.fresh ? T.case_scope : T.case_offline_copy),
      ...cards,
    );
    box.dataset.caseState = 'shown';
  }

  async function showTask(id) {
    if (!state.tasks.length) await loadTasks();
    const task = taskById(id);
    if (!task) return showTasks();
    const caseBox = el('section', { class: 'card case', 'data-case': task.id });
    const form = state.forms[task.task_type];
    // recorded once: a queued or synced submission replaces the form
    const recorded = (await idb.all('queue')).find(
      (q) => q.taskId === task.id && (q.status === 'pending' || q.status === 'synced'),
    );
    $view.replaceChildren(
      el('a', { class: 'back', href: '#/' }, '‹ ', T.back),
      el(
        'section',
        { class: 'card' },
        el('div', {}, el('span', { class: `ttype t-${task.task_type}` }, task.type_label), ' ', el('span', { class: 'tnum' }, task.number)),
        el('h1', { class: 'ttitle' }, task.title),
        el('p', { class: 'tmeta' }, taskMeta(task, true)),
      ),
      caseBox,
      recorded
        ? el('section', { class: 'card' }, el('span', { 'data-queue-task': task.id }, queueBadge(recorded)))
        : form
          ? renderForm(task, form)
          : '',
    );
    renderCaseMessage(caseBox, '…', 'loading');
    let result = null;
    try {
      result = navigator.onLine ? await openCase(task) : await cachedCase(task);
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
      result = await cachedCase(task);
    }
    if (result && result.subjects) renderSubjects(caseBox, result);
    else if (result && result.error) renderCaseMessage(caseBox, result.error, 'denied');
    else renderCaseMessage(caseBox, state.notices[task.id] || T.case_locked, state.notices[task.id] ? 'wiped' : 'locked');
  }

  // --- the form --------------------------------------------------------------------------
  function renderForm(task, form) {
    const photos = {};
    const places = {};
    const inputs = form.fields.map((f) => fieldInput(f, photos, places));
    const errors = el('div', { class: 'ferrors', role: 'alert' });
    const node = el(
      'form',
      { class: 'card fform', id: 'task-form', novalidate: true },
      el('h2', {}, form.label, ' · ', T.form),
      inputs,
      errors,
      el('button', { type: 'submit', class: 'fbtn fbtn-primary fbtn-block' }, T.submit),
    );
    node.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = collect(node, form, photos, places);
      const missing = form.fields.filter((f) => f.required && isEmpty(values[f.name], f));
      errors.replaceChildren(...missing.map((f) => el('p', {}, `${f.label}：${T.required}`)));
      if (missing.length) return;
      const item = await enqueue(task, values);
      node.replaceChildren(el('p', { class: 'queued', 'data-queued': item.clientId }, T.queued), el('span', { 'data-queue-task': task.id }, queueBadge(item)));
      await renderQueue();
      sync();
    });
    return node;
  }
  function isEmpty(v, f) {
    if (f.type === 'checkbox') return v !== true;
    return v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length);
  }
  function fieldInput(f, photos, places) {
    const label = el('span', { class: 'flabel' }, f.label, f.required ? el('em', {}, ' *') : '');
    const name = f.name;
    if (f.type === 'textarea') return el('label', { class: 'ffield' }, label, el('textarea', { name, maxlength: f.max_length || 200, rows: 3 }));
    if (f.type === 'text') return el('label', { class: 'ffield' }, label, el('input', { name, type: 'text', maxlength: f.max_length || 200 }));
    if (f.type === 'number') return el('label', { class: 'ffield' }, label, el('input', { name, type: 'number', inputmode: 'decimal', min: f.min, max: f.max, step: 'any' }));
    if (f.type === 'date') return el('label', { class: 'ffield' }, label, el('input', { name, type: 'date' }));
    if (f.type === 'checkbox') return el('label', { class: 'ffield fcheck' }, el('input', { name, type: 'checkbox' }), label);
    if (f.type === 'select')
      return el('label', { class: 'ffield' }, label, el('select', { name }, el('option', { value: '' }, T.choose), f.options.map((o) => el('option', { value: o }, o))));
    if (f.type === 'photo') {
      photos[name] = [];
      const thumbs = el('div', { class: 'thumbs' });
      const input = el('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: f.max_count > 1, 'data-photo': name });
      input.addEventListener('change', async () => {
        for (const file of input.files) {
          if (photos[name].length >= f.max_count) {
            banner(`${f.label}：${T.photo_too_many}`, 'error');
            break;
          }
          const url = await downscale(file);
          photos[name].push(url);
          thumbs.append(el('img', { src: url, alt: f.label }));
        }
        input.value = '';
      });
      return el('div', { class: 'ffield' }, label, el('label', { class: 'fbtn fbtn-ghost fphoto' }, T.take_photo, input), thumbs);
    }
    if (f.type === 'location') {
      const status = el('span', { class: 'muted small', 'data-location': name });
      const manual = el('input', { type: 'text', name: `${name}__manual`, placeholder: T.manual_place, maxlength: 200 });
      const button = el('button', { type: 'button', class: 'fbtn fbtn-ghost' }, T.locate);
      button.addEventListener('click', () => {
        status.textContent = T.locating;
        if (!navigator.geolocation) {
          status.textContent = T.locate_failed;
          return;
        }
        navigator.geolocation.getCurrentPosition(
          (pos) => {
            places[name] = { source: 'gps', lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy };
            status.textContent = `${T.located} ${pos.coords.latitude.toFixed(5)}, ${pos.coords.longitude.toFixed(5)} (±${Math.round(pos.coords.accuracy)} m)`;
          },
          () => {
            status.textContent = T.locate_failed;
            manual.focus();
          },
          { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
        );
      });
      return el('div', { class: 'ffield' }, label, el('div', { class: 'frow' }, button, status), manual);
    }
    return el('p', {}, f.label);
  }
  function collect(node, form, photos, places) {
    const values = {};
    for (const f of form.fields) {
      if (f.type === 'photo') values[f.name] = photos[f.name];
      else if (f.type === 'location') {
        const text = node.elements[`${f.name}__manual`].value.trim();
        values[f.name] = places[f.name] || (text ? { source: 'manual', text } : null);
      } else if (f.type === 'checkbox') values[f.name] = node.elements[f.name].checked;
      else if (f.type === 'number') {
        const raw = node.elements[f.name].value;
        values[f.name] = raw === '' ? null : Number(raw);
      } else values[f.name] = node.elements[f.name].value;
    }
    return values;
  }
  async function downscale(file) {
    // phones shoot 3–12 MB photos; the server takes JPEGs of about 200 KB
    const bitmap = await createImageBitmap(file);
    let scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    let quality = 0.82;
    for (let i = 0; i < 12; i++) {
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', quality));
      if (blob.size <= PHOTO_MAX_BYTES) {
        return new Promise((r) => {
          const reader = new FileReader();
          reader.onload = () => r(reader.result);
          reader.readAsDataURL(blob);
        });
      }
      if (quality > 0.5) quality -= 0.12;
      else scale *= 0.75;
    }
    throw new Error('photo too large');
  }

  // --- sign-out --------------------------------------------------------------------------
  async function signOut() {
    const pending = (await idb.all('queue')).filter((i) => i.status === 'pending');
    if (pending.length) {
      await sync();
      const left = (await idb.all('queue')).filter((i) => i.status === 'pending');
      if (left.length) {
        banner(T.pending_logout, 'error');
        return;
      }
    }
    await wipeAll();
    try {
      await fetch('/field/logout', {
        method: 'POST',
        headers: { Accept: 'application/json', 'X-CSRF-Token': CSRF },
        credentials: 'same-origin',
      });
    } catch (err) {
      /* offline: the local wipe is done; the server ends the grants when they expire */
    }
    location.href = '/login?next=/field/';
  }

  // --- start -----------------------------------------------------------------------------
  async function route() {
    if (state.revoked) return;
    const m = location.hash.match(/^#\/task\/(\d+)$/);
    if (m) await showTask(Number(m[1]));
    else await showTasks();
  }
  async function start() {
    setNet();
    if (!window.crypto || !crypto.subtle || !window.indexedDB) {
      banner(T.no_crypto, 'error');
      return;
    }
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/field/sw.js', { scope: '/field/' }).catch(() => {});
    }
    state.queueKey = await deviceKey();
    await ensureDevice();
    if (state.revoked) return;
    await route();
    await sync();
    await checkGrants();
    window.addEventListener('hashchange', () => route());
    window.addEventListener('online', async () => {
      setNet();
      await sync();
      await checkGrants();
    });
    window.addEventListener('offline', setNet);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && navigator.onLine) checkGrants();
    });
    setInterval(() => navigator.onLine && checkGrants(), GRANT_CHECK_MS);
    document.getElementById('logout').addEventListener('click', signOut);
    document.body.dataset.ready = '1';
  }
  start().catch((err) => {
    banner(`${T.failed}: ${err && err.message ? err.message : err}`, 'error');
  });
})();
