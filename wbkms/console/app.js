// wbkms web console: plain JavaScript, no framework, no build step. Served by the wbkms binary
// (embedded with include_str!) under a `default-src 'self'` content security policy, so this
// file never uses inline scripts or style attributes, and never puts server data into
// innerHTML: every value from the API goes through textContent or element properties.
'use strict';

(function () {
  const TOKEN_KEY = 'wbkms.token';
  const CSV_HEADER = 'Device Fingerprint,Description';

  // ---------- small DOM helpers ----------
  const $ = (id) => document.getElementById(id);

  /** Creates an element with properties, attributes (`attrs`) and children (text or nodes). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'attrs') {
          for (const [a, av] of Object.entries(v)) {
            if (av !== undefined && av !== null && av !== false) node.setAttribute(a, String(av));
          }
        } else if (k === 'dataset') {
          for (const [a, av] of Object.entries(v)) node.dataset[a] = String(av);
        } else if (k === 'className') {
          node.className = v;
        } else if (k.startsWith('on') && typeof v === 'function') {
          node.addEventListener(k.slice(2), v);
        } else {
          node[k] = v;
        }
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---------- Base64 ----------
  function bytesToBase64(bytes) {
    let s = '';
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    }
    return btoa(s);
  }

  /** Decodes standard Base64 (white space ignored); throws on anything else. */
  function base64ToBytes(text) {
    const clean = String(text).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
      throw new Error('not valid Base64');
    }
    const bin = atob(clean);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function utf8ToBase64(text) {
    return bytesToBase64(new TextEncoder().encode(text));
  }

  // ---------- files ----------
  function downloadBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: filename, className: 'visually-hidden' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  /** A key file name from a key ID: only safe characters survive. */
  function safeName(s) {
    return String(s).replace(/[^A-Za-z0-9._-]/g, '_');
  }

  // ---------- API ----------
  class ApiError extends Error {
    constructor(code, message, status, requestId) {
      super(message);
      this.code = code;
      this.status = status;
      this.requestId = requestId;
    }
  }

  let token = null;

  async function call(action, params) {
    let resp;
    try {
      resp = await fetch('/', {
        method: 'POST',
        credentials: 'omit',
        cache: 'no-store',
        headers: {
          'X-Action': action,
          'Authorization': 'Bearer ' + (token || ''),
          'Content-Type': 'application/json',
        },
        body: JSON.stringify(params || {}),
      });
    } catch (e) {
      throw new ApiError('NETWORK', 'cannot reach the service: ' + e.message, 0, '');
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = null;
    }
    const r = data && typeof data === 'object' ? data.Response : null;
    if (!r || typeof r !== 'object') {
      throw new ApiError('HTTP ' + resp.status, 'unexpected answer from the service', resp.status, '');
    }
    if (r.Error) {
      const err = new ApiError(String(r.Error.Code || 'ERROR'), String(r.Error.Message || ''),
        resp.status, String(r.RequestId || ''));
      if (resp.status === 401 && action !== 'DescribeWhiteBoxServiceStatus') {
        // The token was revoked or expired while signed in.
        signOut('Session ended: ' + err.code + ' ' + err.message);
      }
      throw err;
    }
    if (!resp.ok) {
      throw new ApiError('HTTP ' + resp.status, 'request failed', resp.status, String(r.RequestId || ''));
    }
    return r;
  }

  // ---------- messages ----------
  let noticeTimer = null;

  function openDialog() {
    return document.querySelector('dialog[open]');
  }

  function errorText(err) {
    if (err instanceof ApiError) return { code: err.code, message: err.message, requestId: err.requestId };
    return { code: 'ERROR', message: err && err.message ? err.message : String(err), requestId: '' };
  }

  /** Shows an error in the page's alert and, when a dialog is open, inside that dialog. */
  function showError(err, where) {
    const { code, message, requestId } = errorText(err);
    $('error-code').textContent = code;
    $('error-message').textContent = message;
    $('error-request').textContent = requestId ? '(RequestId ' + requestId + ')' : '';
    $('error').hidden = false;
    const dlg = where || openDialog();
    if (dlg) {
      const box = dlg.querySelector('.dialog-error');
      if (box) {
        box.textContent = code + ': ' + message;
        box.hidden = false;
      }
    }
    if (window.console) console.warn('wbkms:', code, message);
  }

  function clearError() {
    $('error').hidden = true;
    $('error-code').textContent = '';
    $('error-message').textContent = '';
    $('error-request').textContent = '';
    for (const box of document.querySelectorAll('.dialog-error')) {
      box.hidden = true;
      box.textContent = '';
    }
  }

  function notify(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.hidden = true; }, 4000);
  }

  /** Runs an async action with a button disabled meanwhile; errors are shown, not thrown. */
  async function busy(button, fn) {
    const buttons = Array.isArray(button) ? button : [button];
    clearError();
    for (const b of buttons) if (b) { b.disabled = true; b.classList.add('is-busy'); }
    try {
      return await fn();
    } catch (e) {
      showError(e);
      return undefined;
    } finally {
      for (const b of buttons) if (b) { b.disabled = false; b.classList.remove('is-busy'); }
    }
  }

  function showDialog(dlg) {
    for (const box of dlg.querySelectorAll('.dialog-error')) { box.hidden = true; box.textContent = ''; }
    if (!dlg.open) dlg.showModal();
  }

  // ---------- sign-in ----------
  let role = null;

  function setSignedIn(status) {
    role = status.Role || '';
    $('whoami').textContent = role;
    $('whoami-token').textContent = status.TokenId ? 'token ' + status.TokenId : '';
    $('whoami-token').dataset.tokenId = String(status.TokenId || '');
    $('whoami-box').hidden = false;
    $('signin').hidden = true;
    $('app').hidden = false;
    document.body.dataset.role = role;
    for (const t of document.querySelectorAll('.admin-only')) t.hidden = role !== 'admin';
    showView('keys');
    if (role === 'admin') loadActionNames();
  }

  function signOut(message) {
    token = null;
    role = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* storage disabled */ }
    for (const d of document.querySelectorAll('dialog[open]')) d.close();
    $('whoami-box').hidden = true;
    $('app').hidden = true;
    $('signin').hidden = false;
    clear($('key-rows'));
    keys = [];
    clear($('audit-rows'));
    clear($('token-rows'));
    clear($('accesskey-rows'));
    showView('keys');
    delete document.body.dataset.role;
    const se = $('signin-error');
    if (message) {
      se.textContent = message;
      se.hidden = false;
    } else {
      se.hidden = true;
      se.textContent = '';
    }
    $('token-input').value = '';
    $('token-input').focus();
  }

  async function signIn(candidate) {
    token = candidate;
    try {
      const status = await call('DescribeWhiteBoxServiceStatus', {});
      try { sessionStorage.setItem(TOKEN_KEY, candidate); } catch (_) { /* storage disabled */ }
      $('signin-error').hidden = true;
      setSignedIn(status);
      await loadKeys();
      return true;
    } catch (e) {
      token = null;
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* storage disabled */ }
      const se = $('signin-error');
      if (e instanceof ApiError && e.status === 401) {
        se.textContent = 'Invalid token (' + e.code + ': ' + e.message + ')';
      } else {
        const t = errorText(e);
        se.textContent = 'Sign-in failed: ' + t.code + ': ' + t.message;
      }
      se.hidden = false;
      $('whoami-box').hidden = true;
      $('app').hidden = true;
      $('signin').hidden = false;
      return false;
    }
  }

  // ---------- key list ----------
  let keys = [];
  let offset = 0;
  let total = 0;

  function pageSize() {
    return Number($('page-size').value) || 20;
  }

  function listFilters() {
    const p = { Offset: offset, Limit: pageSize() };
    const st = $('filter-status').value;
    const alg = $('filter-algorithm').value;
    if (st) p.KeyStatus = st;
    if (alg) p.Algorithm = alg;
    const tk = $('filter-tag-key').value.trim();
    const tv = $('filter-tag-value').value.trim();
    // An empty value box means any value (TagValue left out), not the empty value.
    if (tk) p.TagFilters = [tv ? { TagKey: tk, TagValue: tv } : { TagKey: tk }];
    return p;
  }

  async function loadKeys() {
    $('key-loading').hidden = false;
    try {
      const r = await call('DescribeWhiteBoxKeyDetails', listFilters());
      keys = Array.isArray(r.KeyInfos) ? r.KeyInfos : [];
      total = Number(r.TotalCount) || 0;
      if (keys.length === 0 && offset > 0 && total > 0) {
        offset = Math.max(0, Math.floor((total - 1) / pageSize()) * pageSize());
        return loadKeys();
      }
      renderKeys();
    } finally {
      $('key-loading').hidden = true;
    }
  }

  function formatTime(rfc3339) {
    if (!rfc3339) return '';
    const d = new Date(rfc3339);
    if (Number.isNaN(d.getTime())) return String(rfc3339);
    const pad = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function modeLabel(k) {
    if (k.Mode === 'SPACE_HARD' && k.SpaceBits) return 'SPACE_HARD (' + k.SpaceBits + '-bit)';
    return String(k.Mode || '');
  }

  function deviceLabel(k) {
    const n = Number(k.DeviceCount) || 0;
    if (k.DeviceFingerprintBind || n > 0) return n + (n === 1 ? ' device, bound' : ' devices, bound');
    return 'not bound';
  }

  function renderKeys() {
    const body = $('key-rows');
    clear(body);
    for (const k of keys) body.append(keyRow(k));
    $('key-empty').hidden = keys.length !== 0;
    const from = keys.length ? offset + 1 : 0;
    $('page-info').textContent = from + '–' + (offset + keys.length) + ' of ' + total;
    $('prev-page').disabled = offset <= 0;
    $('next-page').disabled = offset + keys.length >= total;
  }

  function opButton(label, testid, onclick, danger) {
    return el('button', {
      type: 'button',
      className: 'btn btn-link' + (danger ? ' text-danger' : ''),
      attrs: { 'data-testid': testid },
      onclick,
    }, label);
  }

  function keyRow(k) {
    const enabled = k.Status === 'Enabled';
    const sw = el('input', {
      type: 'checkbox',
      checked: enabled,
      className: 'switch-input',
      attrs: { 'data-testid': 'enable-switch', 'aria-label': 'Enabled' },
    });
    const swText = el('span', { className: 'switch-text', attrs: { 'data-testid': 'status-text' } },
      enabled ? 'Enabled' : 'Disabled');
    sw.addEventListener('change', () => toggleKey(k, sw, swText));

    const tags = el('td', { className: 'tags-cell', attrs: { 'data-testid': 'tags' } });
    for (const t of Array.isArray(k.Tags) ? k.Tags : []) {
      const label = String(t.TagKey) + ': ' + String(t.TagValue);
      tags.append(el('span', { className: 'chip', title: label }, label));
    }

    const idCell = el('td', { className: 'id-cell' },
      el('button', {
        type: 'button',
        className: 'btn btn-link mono key-id',
        title: 'Details',
        attrs: { 'data-testid': 'key-id' },
        onclick: () => openDetails(k),
      }, String(k.KeyId)),
      el('div', { className: 'alias', attrs: { 'data-testid': 'alias' } }, String(k.Alias || '')),
      k.Description ? el('div', { className: 'muted desc', attrs: { 'data-testid': 'description' } }, String(k.Description)) : null);

    const tr = el('tr', {
      dataset: { keyId: String(k.KeyId), alias: String(k.Alias || ''), status: String(k.Status || '') },
      attrs: { 'data-testid': 'key-row' },
    },
    idCell,
    el('td', { title: String(k.CreateTime || ''), attrs: { 'data-testid': 'create-time' } }, formatTime(k.CreateTime)),
    el('td', { attrs: { 'data-testid': 'algorithm' } }, String(k.Algorithm || '')),
    el('td', { attrs: { 'data-testid': 'mode' } }, modeLabel(k),
      el('div', { className: 'muted small' }, 'v' + String(k.CurrentVersion ?? ''))),
    tags,
    el('td', {}, el('label', { className: 'switch' }, sw, el('span', { className: 'switch-slider' }), swText)),
    el('td', { attrs: { 'data-testid': 'device-status' } },
      el('span', { className: (k.DeviceFingerprintBind || k.DeviceCount > 0) ? 'badge badge-ok' : 'badge' }, deviceLabel(k))),
    el('td', { className: 'ops' },
      opButton('Encrypt', 'encrypt-btn', () => openEncrypt(k)),
      opButton('Devices', 'devices-btn', () => openDevices(k)),
      opButton('Download decryption key', 'download-key-btn', (ev) => downloadDecryptKey(k, ev.currentTarget)),
      opButton('Rotate', 'rotate-btn', () => confirmRotate(k)),
      opButton('Delete', 'delete-btn', () => openDelete(k), true)));
    return tr;
  }

  async function setKeyState(k, sw, swText, want) {
    await call(want ? 'EnableWhiteBoxKey' : 'DisableWhiteBoxKey', { KeyId: k.KeyId });
    k.Status = want ? 'Enabled' : 'Disabled';
    swText.textContent = k.Status;
    const tr = sw.closest('tr');
    if (tr) tr.dataset.status = k.Status;
    notify((want ? 'Enabled ' : 'Disabled ') + k.KeyId);
  }

  /** Enabling is immediate; disabling asks first (the switch goes back on if cancelled). */
  async function toggleKey(k, sw, swText) {
    const want = sw.checked;
    if (!want) {
      askConfirm('Disable key', 'Disable ' + keyLabel(k) + '? Encryption and key-file downloads ' +
        'are refused until it is enabled again; devices keep decrypting with the key files they ' +
        'already hold.', 'Disable', async () => {
        sw.disabled = true;
        try {
          await setKeyState(k, sw, swText, false);
        } finally {
          sw.disabled = false;
        }
      }, () => { sw.checked = true; }, true);
      return;
    }
    clearError();
    sw.disabled = true;
    try {
      await setKeyState(k, sw, swText, true);
    } catch (e) {
      sw.checked = false;
      showError(e);
    } finally {
      sw.disabled = false;
    }
  }

  function keyLabel(k) {
    return k.Alias ? String(k.Alias) + ' (' + String(k.KeyId) + ')' : String(k.KeyId);
  }

  // ---------- create ----------
  function addTagRow(key, value) {
    const row = el('div', { className: 'tag-row', attrs: { 'data-testid': 'tag-row' } },
      el('input', { placeholder: 'Key', maxLength: 128, value: key || '', className: 'tag-key', attrs: { 'data-testid': 'tag-key' } }),
      el('input', { placeholder: 'Value', maxLength: 256, value: value || '', className: 'tag-value', attrs: { 'data-testid': 'tag-value' } }),
      el('button', { type: 'button', className: 'btn btn-small', attrs: { 'data-testid': 'tag-remove' }, onclick: () => row.remove() }, 'Remove'));
    $('create-tags').append(row);
    return row;
  }

  // What each mode gives, shown under the mode select. SPACE_HARD is the default.
  const MODE_HELP = {
    SPACE_HARD: 'Default and recommended. The key cannot be taken from the key file: the file is ' +
      'a table of the cipher\'s own outputs, so finding the key from it is a known-plaintext attack ' +
      'on AES-256 / SM4 itself. The ciphertext is not plain AES-256-CBC / SM4-CBC: the service, ' +
      'wbdecrypt and the SDKs decrypt it with the key file, which also encrypts.',
    EXTERNAL: 'Chow-style white-box tables, ciphertext under a secret external encoding (the former ' +
      'default). Only for keys and devices that already use it or for interoperability; the ' +
      'ciphertext is not plain CBC either.',
    STANDARD: 'Chow-style white-box tables, ciphertext is plain AES-256-CBC / SM4-CBC. Only where ' +
      'other software must encrypt or decrypt the same data (plain CBC interoperability).',
  };

  /** A mode whose key can be recovered from its key file (the Chow-style modes). */
  function chowMode(mode) {
    return mode === 'EXTERNAL' || mode === 'STANDARD';
  }

  /** Shows the chosen mode's description, the line width (SPACE_HARD), and the Chow notice. */
  function updateModeUi() {
    const mode = $('create-mode').value;
    $('create-mode-help').textContent = MODE_HELP[mode] || '';
    $('create-space-bits-row').hidden = mode !== 'SPACE_HARD';
    $('create-space-bits').disabled = mode !== 'SPACE_HARD';
    const notice = $('create-mode-notice');
    if (chowMode(mode)) {
      notice.textContent = 'Warning: in ' + mode + ' mode the key is recoverable from the key file. ' +
        'Whoever gets a copy of the decryption key file (bound to devices or not) can extract the ' +
        'whole AES-256 / SM4 key within milliseconds: see SECURITY.md, "Key-file-only attacks". ' +
        'Choose SPACE_HARD unless you need plain AES-256-CBC / SM4-CBC interoperability.';
      notice.hidden = false;
    } else {
      notice.hidden = true;
      notice.textContent = '';
    }
  }

  function openCreate() {
    $('create-form').reset();
    clear($('create-tags'));
    updateModeUi();
    showDialog($('create-dialog'));
    $('create-alias').focus();
  }

  let lastCreated = null;

  async function submitCreate(ev) {
    ev.preventDefault();
    const dlg = $('create-dialog');
    const alias = $('create-alias').value.trim();
    if (!alias) return showError(new Error('an alias is required'), dlg);
    const tags = [];
    const seen = new Set();
    for (const row of $('create-tags').querySelectorAll('.tag-row')) {
      const k = row.querySelector('.tag-key').value.trim();
      const v = row.querySelector('.tag-value').value.trim();
      if (!k && !v) continue;
      if (!k) return showError(new Error('a tag needs a key'), dlg);
      if (seen.has(k)) return showError(new Error('tag key "' + k + '" appears twice'), dlg);
      seen.add(k);
      tags.push({ TagKey: k, TagValue: v });
    }
    const params = {
      Alias: alias,
      Algorithm: $('create-algorithm').value,
      Mode: $('create-mode').value,
    };
    // The line width applies to SPACE_HARD only (the service refuses it for the other modes).
    if (params.Mode === 'SPACE_HARD') params.SpaceBits = Number($('create-space-bits').value) || 16;
    const desc = $('create-description').value;
    if (desc) params.Description = desc;
    if (tags.length) params.Tags = tags;
    const submit = $('create-submit');
    submit.textContent = 'Creating…';
    await busy([submit], async () => {
      const r = await call('CreateWhiteBoxKey', params);
      dlg.close();
      lastCreated = r;
      const info = r.KeyInfo || {};
      $('created-key-id').textContent = String(r.KeyId || info.KeyId || '');
      $('created-alias').textContent = String(info.Alias || alias);
      $('created-algorithm').textContent = String(info.Algorithm || params.Algorithm);
      $('created-mode').textContent = modeLabel(info.Mode ? info : params);
      $('created-download-encrypt').hidden = !r.EncryptKey;
      const warning = $('created-warning');
      warning.textContent = typeof r.Warning === 'string' ? r.Warning : '';
      warning.hidden = !warning.textContent;
      showDialog($('created-dialog'));
      offset = 0;
      await loadKeys();
    });
    submit.textContent = 'Create';
  }

  function downloadCreated(which) {
    if (!lastCreated) return;
    try {
      const id = safeName(lastCreated.KeyId);
      if (which === 'encrypt') {
        downloadBlob(new Blob([base64ToBytes(lastCreated.EncryptKey)], { type: 'application/octet-stream' }), id + '.enc.wbkey');
      } else {
        downloadBlob(new Blob([base64ToBytes(lastCreated.DecryptKey)], { type: 'application/octet-stream' }), id + '.wbkey');
      }
    } catch (e) {
      showError(e);
    }
  }

  // ---------- details ----------
  let detailsKey = null;

  async function openDetails(k) {
    detailsKey = k;
    const dlg = $('details-dialog');
    dlg.dataset.loaded = 'false';
    clear($('details-list'));
    clear($('versions-rows'));
    $('rotation-state').textContent = '';
    $('details-alias').value = String(k.Alias || '');
    $('details-description').value = String(k.Description || '');
    showDialog(dlg);
    await refreshDetails();
  }

  /** Reads the key and its versions again and fills the details dialog. */
  async function refreshDetails() {
    if (!detailsKey) return;
    const dlg = $('details-dialog');
    const k = detailsKey;
    let info = k;
    let versions = null;
    try {
      const [r, v] = await Promise.all([
        call('DescribeWhiteBoxKey', { KeyId: k.KeyId }),
        call('ListWhiteBoxKeyVersions', { KeyId: k.KeyId }),
      ]);
      if (r.KeyInfo) info = r.KeyInfo;
      versions = Array.isArray(v.Versions) ? v.Versions : [];
    } catch (e) {
      showError(e, dlg);
    }
    if (detailsKey !== k) return;
    renderDetails(info);
    renderVersions(info, versions || []);
    renderRotation(info);
    dlg.dataset.loaded = 'true';
  }

  function renderDetails(info) {
    const list = $('details-list');
    clear(list);
    const rows = [
      ['Key ID', info.KeyId], ['Alias', info.Alias], ['Description', info.Description],
      ['Algorithm', info.Algorithm], ['Mode', modeLabel(info)], ['Status', info.Status],
      ['Creation time', info.CreateTime], ['Current version', info.CurrentVersion],
      ['Devices', deviceLabel(info)],
      ['Tags', (info.Tags || []).map((t) => t.TagKey + ': ' + t.TagValue).join(', ')],
    ];
    for (const [name, value] of rows) {
      list.append(el('dt', {}, name), el('dd', {}, value === undefined || value === null ? '' : String(value)));
    }
  }

  function renderVersions(info, versions) {
    const body = $('versions-rows');
    clear(body);
    // Newest first, as the current version is the one asked about most.
    for (const v of versions.slice().reverse()) {
      const n = Number(v.KeyVersion);
      body.append(el('tr', { attrs: { 'data-testid': 'version-row' }, dataset: { version: String(n) } },
        el('td', { className: 'mono' }, 'v' + n),
        el('td', { title: String(v.CreateTime || '') }, formatTime(v.CreateTime)),
        el('td', {}, v.Current ? el('span', { className: 'badge badge-ok', attrs: { 'data-testid': 'version-current' } }, 'current') : null),
        el('td', { className: 'ops' }, el('button', {
          type: 'button',
          className: 'btn btn-link',
          attrs: { 'data-testid': 'version-download' },
          onclick: (ev) => downloadDecryptKey(info, ev.currentTarget, n),
        }, 'Download this version'))));
    }
  }

  function renderRotation(info) {
    const state = $('rotation-state');
    state.dataset.enabled = String(Boolean(info.KeyRotationEnabled));
    state.dataset.next = info.NextRotateTime ? String(info.NextRotateTime) : '';
    if (info.KeyRotationEnabled) {
      const days = Number(info.RotateDays);
      const every = 'Every ' + days + (days === 1 ? ' day' : ' days') + ': ';
      state.textContent = info.NextRotateTime
        ? every + 'next rotation ' + formatTime(info.NextRotateTime) + ' (' + String(info.NextRotateTime) + ')'
        : every + 'paused while the key is disabled';
      $('rotation-days').value = String(days);
    } else {
      state.textContent = 'Off: the key is rotated only by hand (Rotate).';
      $('rotation-days').value = '365';
    }
    $('rotation-off').disabled = !info.KeyRotationEnabled;
  }

  async function saveRotation(ev) {
    ev.preventDefault();
    if (!detailsKey) return;
    const dlg = $('details-dialog');
    const days = Number($('rotation-days').value);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      return showError(new Error('the rotation period is 1 to 3650 days'), dlg);
    }
    const k = detailsKey;
    await busy($('rotation-save'), async () => {
      const r = await call('EnableWhiteBoxKeyRotation', { KeyId: k.KeyId, RotateDays: days });
      notify('Automatic rotation of ' + k.KeyId + ' every ' + days + ' days; next ' + formatTime(r.NextRotateTime));
      await refreshDetails();
    });
  }

  async function rotationOff() {
    if (!detailsKey) return;
    const k = detailsKey;
    await busy($('rotation-off'), async () => {
      await call('DisableWhiteBoxKeyRotation', { KeyId: k.KeyId });
      notify('Automatic rotation of ' + k.KeyId + ' turned off');
      await refreshDetails();
    });
  }

  async function saveAlias(ev) {
    ev.preventDefault();
    if (!detailsKey) return;
    const alias = $('details-alias').value.trim();
    if (!alias) return showError(new Error('an alias is required'), $('details-dialog'));
    await busy($('details-alias-save'), async () => {
      await call('UpdateWhiteBoxKeyAlias', { KeyId: detailsKey.KeyId, Alias: alias });
      notify('Alias updated');
      await loadKeys();
      const k = keys.find((x) => x.KeyId === detailsKey.KeyId);
      if (k) await openDetails(k);
    });
  }

  async function saveDescription(ev) {
    ev.preventDefault();
    if (!detailsKey) return;
    await busy($('details-description-save'), async () => {
      await call('UpdateWhiteBoxKeyDescription', { KeyId: detailsKey.KeyId, Description: $('details-description').value });
      notify('Description updated');
      await loadKeys();
      const k = keys.find((x) => x.KeyId === detailsKey.KeyId);
      if (k) await openDetails(k);
    });
  }

  // ---------- encrypt ----------
  let encryptKey = null;
  let encryptResult = null;

  function openEncrypt(k) {
    encryptKey = k;
    encryptResult = null;
    $('encrypt-form').reset();
    $('encrypt-key-label').textContent = keyLabel(k);
    $('encrypt-result').hidden = true;
    $('encrypt-result-iv').textContent = '';
    $('encrypt-result-ciphertext').textContent = '';
    $('encrypt-result-version').textContent = '';
    showDialog($('encrypt-dialog'));
    $('encrypt-plaintext').focus();
  }

  async function submitEncrypt(ev) {
    ev.preventDefault();
    const dlg = $('encrypt-dialog');
    if (!encryptKey) return;
    const pt = $('encrypt-plaintext').value.replace(/\s+/g, '');
    try {
      if (!pt) throw new Error('the plaintext is required (Base64)');
      if (base64ToBytes(pt).length === 0) throw new Error('the plaintext is empty');
    } catch (e) {
      return showError(new Error('Plaintext: ' + e.message), dlg);
    }
    const params = { KeyId: encryptKey.KeyId, PlainText: pt };
    const iv = $('encrypt-iv').value.replace(/\s+/g, '');
    if (iv) {
      let ok = false;
      try { ok = base64ToBytes(iv).length === 16; } catch (_) { ok = false; }
      if (!ok) return showError(new Error('the IV must be 16 bytes in Base64'), dlg);
      params.InitializationVector = iv;
    }
    for (const box of dlg.querySelectorAll('.dialog-error')) { box.hidden = true; box.textContent = ''; }
    await busy($('encrypt-submit'), async () => {
      $('encrypt-result').hidden = true;
      const r = await call('EncryptByWhiteBox', params);
      encryptResult = {
        KeyId: r.KeyId || encryptKey.KeyId,
        KeyVersion: r.KeyVersion,
        Algorithm: encryptKey.Algorithm,
        InitializationVector: r.InitializationVector,
        CipherText: r.CipherText,
      };
      $('encrypt-result-version').textContent = String(r.KeyVersion ?? '');
      $('encrypt-result-iv').textContent = String(r.InitializationVector || '');
      $('encrypt-result-ciphertext').textContent = String(r.CipherText || '');
      $('encrypt-result').hidden = false;
    });
  }

  async function copyText(text, button) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (_) { ok = false; }
    if (!ok) {
      const ta = el('textarea', { value: text, className: 'visually-hidden', readOnly: true });
      (openDialog() || document.body).append(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
      ta.remove();
    }
    if (button) {
      const old = button.textContent;
      button.textContent = ok ? 'Copied' : 'Copy failed';
      setTimeout(() => { button.textContent = old; }, 1500);
    }
  }

  function downloadEncryptResult() {
    if (!encryptResult) return;
    const json = JSON.stringify(encryptResult, null, 2) + '\n';
    downloadBlob(new Blob([json], { type: 'application/json' }),
      safeName(encryptResult.KeyId) + '-v' + safeName(encryptResult.KeyVersion) + '-ciphertext.json');
  }

  // ---------- devices ----------
  let devicesKey = null;
  let devices = [];

  function renderDevices() {
    const body = $('devices-rows');
    clear(body);
    devices.forEach((d, i) => {
      body.append(el('tr', { attrs: { 'data-testid': 'device-row' }, dataset: { identity: d.Identity } },
        el('td', { className: 'mono break', attrs: { 'data-testid': 'device-identity-cell' } }, d.Identity),
        el('td', { attrs: { 'data-testid': 'device-description-cell' } }, d.Description),
        el('td', {}, el('button', {
          type: 'button',
          className: 'btn btn-link text-danger',
          attrs: { 'data-testid': 'device-remove' },
          onclick: () => { devices.splice(i, 1); renderDevices(); },
        }, 'Remove'))));
    });
    $('devices-empty').hidden = devices.length !== 0;
    $('devices-count').textContent = devices.length + (devices.length === 1 ? ' device' : ' devices');
  }

  function checkFingerprint(fp) {
    // As the service checks: 1 to 256 printable ASCII characters, no spaces.
    return fp.length >= 1 && fp.length <= 256 && /^[\x21-\x7e]+$/.test(fp);
  }

  /** Adds devices, skipping identities already in the list; returns how many were added. */
  function addDevices(list) {
    let added = 0;
    for (const d of list) {
      if (devices.some((x) => x.Identity === d.Identity)) continue;
      devices.push({ Identity: d.Identity, Description: d.Description || '' });
      added++;
    }
    renderDevices();
    return added;
  }

  async function openDevices(k) {
    devicesKey = k;
    devices = [];
    $('devices-key-label').textContent = keyLabel(k);
    $('devices-status').textContent = 'Loading…';
    $('device-add-form').reset();
    $('devices-csv').value = '';
    $('devices-rotate').checked = true;
    hideDevicesResult();
    renderDevices();
    const dlg = $('devices-dialog');
    showDialog(dlg);
    dlg.dataset.loaded = 'false';
    try {
      const r = await call('DescribeWhiteBoxDeviceFingerprints', { KeyId: k.KeyId });
      devices = (Array.isArray(r.DeviceFingerprints) ? r.DeviceFingerprints : []).map((d) => ({
        Identity: String(d.Identity || ''),
        Description: String(d.Description || ''),
      }));
      renderDevices();
      $('devices-status').textContent = '';
      dlg.dataset.loaded = 'true';
    } catch (e) {
      $('devices-status').textContent = '';
      showError(e, dlg);
    }
  }

  function submitAddDevice(ev) {
    ev.preventDefault();
    const dlg = $('devices-dialog');
    const id = $('device-identity').value.trim();
    const desc = $('device-description').value.trim();
    if (!checkFingerprint(id)) {
      return showError(new Error('a device fingerprint is 1 to 256 printable ASCII characters without spaces'), dlg);
    }
    if (devices.some((x) => x.Identity === id)) {
      return showError(new Error('this device is already in the list'), dlg);
    }
    addDevices([{ Identity: id, Description: desc }]);
    $('device-add-form').reset();
    $('devices-status').textContent = 'Added 1 device (not saved yet)';
    $('device-identity').focus();
  }

  /** Splits one CSV line into fields: commas separate, double quotes quote ("" is a quote). */
  function splitCsvLine(line) {
    const out = [];
    let cur = '';
    let quoted = false;
    let wasQuoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"') {
          if (line[i + 1] === '"') { cur += '"'; i++; } else { quoted = false; }
        } else {
          cur += c;
        }
      } else if (c === '"' && cur.trim() === '') {
        quoted = true;
        wasQuoted = true;
        cur = '';
      } else if (c === ',') {
        out.push(wasQuoted ? cur : cur.trim());
        cur = '';
        wasQuoted = false;
      } else {
        cur += c;
      }
    }
    if (quoted) throw new Error('unterminated quote');
    out.push(wasQuoted ? cur : cur.trim());
    return out;
  }

  /**
   * Parses the device CSV (header `Device Fingerprint,Description`): a UTF-8 byte-order mark
   * and CR LF line ends are accepted, blank lines skipped, the description may be quoted.
   * Errors name the line, never echo its content.
   */
  function parseDeviceCsv(text) {
    const lines = String(text).replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
    let i = 0;
    while (i < lines.length && lines[i].trim() === '') i++;
    if (i >= lines.length) throw new Error('the CSV file is empty');
    let header;
    try { header = splitCsvLine(lines[i]).map((s) => s.trim().toLowerCase()); } catch (_) { header = []; }
    if (header[0] !== 'device fingerprint') {
      throw new Error('the CSV header must be `' + CSV_HEADER + '`');
    }
    const out = [];
    for (i = i + 1; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      let fields;
      try { fields = splitCsvLine(line); } catch (e) {
        throw new Error('CSV line ' + (i + 1) + ': ' + e.message);
      }
      const fp = (fields[0] || '').trim();
      const desc = fields.length > 1 ? fields.slice(1).join(',').trim() : '';
      if (!checkFingerprint(fp)) throw new Error('CSV line ' + (i + 1) + ': invalid device fingerprint');
      if (desc.length > 256) throw new Error('CSV line ' + (i + 1) + ': description too long');
      out.push({ Identity: fp, Description: desc });
    }
    return out;
  }

  async function uploadCsv() {
    const input = $('devices-csv');
    const file = input.files && input.files[0];
    if (!file) return;
    const dlg = $('devices-dialog');
    try {
      if (file.size > 4 * 1024 * 1024) throw new Error('the CSV file is larger than 4 MiB');
      const text = await file.text();
      const list = parseDeviceCsv(text);
      const added = addDevices(list);
      const skipped = list.length - added;
      $('devices-status').textContent = 'Imported ' + added + (added === 1 ? ' device' : ' devices') +
        (skipped ? ' (' + skipped + ' already listed)' : '') + ' from ' + file.name + ' (not saved yet)';
    } catch (e) {
      showError(e, dlg);
    } finally {
      input.value = '';
    }
  }

  function downloadTemplate() {
    downloadBlob(new Blob([CSV_HEADER + '\n'], { type: 'text/csv' }), 'device-fingerprints-template.csv');
  }

  function clearDevices() {
    devices = [];
    renderDevices();
    $('devices-status').textContent = 'All devices removed from the list: save to unbind them';
  }

  function hideDevicesResult() {
    $('devices-result').hidden = true;
    $('devices-result-text').textContent = '';
    $('devices-result-warning').textContent = '';
    $('devices-result-warning').hidden = true;
    $('devices-cancel').textContent = 'Cancel';
  }

  async function saveDevices() {
    if (!devicesKey) return;
    const dlg = $('devices-dialog');
    const k = devicesKey;
    await busy([$('devices-save-btn')], async () => {
      hideDevicesResult();
      const r = await call('OverwriteWhiteBoxDeviceFingerprints', {
        KeyId: k.KeyId,
        DeviceFingerprints: devices.map((d) => ({ Identity: d.Identity, Description: d.Description })),
        // Removing a device rotates the key unless this is unchecked (the service's default).
        Rotate: $('devices-rotate').checked,
      });
      const removed = (Array.isArray(r.RemovedDevices) ? r.RemovedDevices : []).map((d) =>
        String(d && typeof d === 'object' ? d.Identity || '' : d));
      const warning = typeof r.Warning === 'string' ? r.Warning : '';
      const saved = 'Devices saved for ' + k.KeyId + ': ' + devices.length;
      if (!r.Rotated && !warning && removed.length === 0) {
        // Nothing to read: close as before.
        dlg.close();
        notify(saved);
        await loadKeys();
        return;
      }
      // Devices were removed: the dialog stays open with what happened to the key.
      const parts = [saved + '.'];
      if (removed.length) {
        parts.push('Removed ' + removed.length + (removed.length === 1 ? ' device: ' : ' devices: ') +
          removed.join(', ') + '.');
      }
      if (r.Rotated) {
        parts.push('Rotated to version ' + String(r.KeyVersion ?? '') + ': new ciphertext needs the new ' +
          'key version, so download the decryption key again for the remaining devices.');
      } else {
        parts.push('The key was not rotated (current version ' + String(r.KeyVersion ?? '') + ').');
      }
      $('devices-result-text').textContent = parts.join(' ');
      $('devices-result-warning').textContent = warning;
      $('devices-result-warning').hidden = !warning;
      $('devices-result').hidden = false;
      $('devices-cancel').textContent = 'Close';
      notify(r.Rotated ? saved + '; rotated to version ' + String(r.KeyVersion ?? '') : saved);
      await loadKeys();
    });
  }

  // ---------- decryption key download ----------
  /** Downloads the key file of the current version, or of `version` (named `<id>.v<n>.wbkey`). */
  async function downloadDecryptKey(k, button, version) {
    await busy(button, async () => {
      const params = { KeyId: k.KeyId };
      if (version !== undefined) params.KeyVersion = version;
      const r = await call('DescribeWhiteBoxDecryptKey', params);
      const bytes = base64ToBytes(r.DecryptKey || '');
      if (bytes.length === 0) throw new Error('the service sent an empty key file');
      const name = safeName(r.KeyId || k.KeyId) + (version !== undefined ? '.v' + safeName(r.KeyVersion) : '') + '.wbkey';
      downloadBlob(new Blob([bytes], { type: 'application/octet-stream' }), name);
      notify('Downloaded the decryption key of ' + k.KeyId + ' (version ' + r.KeyVersion + ')');
    });
  }

  // ---------- confirm / rotate ----------
  let confirmAction = null;
  let confirmCancel = null;

  /**
   * Asks before `action`; `onCancel` runs when the dialog is closed without it having been
   * done (Cancel, Escape, signing out). `danger` makes the OK button red.
   */
  function askConfirm(title, message, okLabel, action, onCancel, danger) {
    $('confirm-title').textContent = title;
    $('confirm-message').textContent = message;
    $('confirm-ok').textContent = okLabel;
    $('confirm-ok').className = 'btn ' + (danger ? 'btn-danger' : 'btn-primary');
    confirmAction = action;
    confirmCancel = onCancel || null;
    showDialog($('confirm-dialog'));
  }

  async function runConfirm() {
    if (!confirmAction) return;
    const action = confirmAction;
    await busy([$('confirm-ok')], async () => {
      await action();
      confirmAction = null;
      confirmCancel = null;
      $('confirm-dialog').close();
    });
  }

  function confirmClosed() {
    const cancel = confirmAction ? confirmCancel : null;
    confirmAction = null;
    confirmCancel = null;
    if (cancel) cancel();
  }

  function confirmRotate(k) {
    askConfirm('Rotate key', 'Rotate ' + keyLabel(k) + '? New ciphertext uses a new key version; ' +
      'devices need the new decryption key file for it. Older versions stay available.', 'Rotate', async () => {
      const r = await call('RotateWhiteBoxKey', { KeyId: k.KeyId });
      notify('Rotated ' + (r.KeyId || k.KeyId) + ': now version ' + r.KeyVersion);
      await loadKeys();
    });
  }

  // ---------- delete ----------
  let deleteKey = null;

  function openDelete(k) {
    deleteKey = k;
    $('delete-form').reset();
    $('delete-key-label').textContent = keyLabel(k);
    $('delete-alias').textContent = String(k.Alias || k.KeyId);
    $('delete-submit').disabled = true;
    showDialog($('delete-dialog'));
    $('delete-confirm-input').focus();
  }

  function deleteTyped() {
    if (!deleteKey) return false;
    return $('delete-confirm-input').value === String(deleteKey.Alias || deleteKey.KeyId);
  }

  async function submitDelete(ev) {
    ev.preventDefault();
    if (!deleteKey || !deleteTyped()) return;
    const k = deleteKey;
    await busy($('delete-submit'), async () => {
      await call('DeleteWhiteBoxKey', { KeyId: k.KeyId });
      $('delete-dialog').close();
      deleteKey = null;
      notify('Deleted ' + k.KeyId);
      await loadKeys();
    });
    $('delete-submit').disabled = !deleteTyped();
  }

  // ---------- views ----------
  /** Shows one view (keys, audit, credentials); `load`: read its data now. */
  function showView(name, load) {
    if (name !== 'keys' && role !== 'admin') name = 'keys';
    for (const t of document.querySelectorAll('.tab')) {
      if (t.dataset.view === name) t.setAttribute('aria-current', 'page');
      else t.removeAttribute('aria-current');
    }
    $('view-keys').hidden = name !== 'keys';
    $('view-audit').hidden = name !== 'audit';
    $('view-credentials').hidden = name !== 'credentials';
    if (!load) return;
    if (name === 'keys') busy(null, loadKeys);
    if (name === 'audit') busy(null, loadAudit);
    if (name === 'credentials') busy(null, loadCredentials);
  }

  /** The action names for the audit filter's suggestions, from the OpenAPI document. */
  async function loadActionNames() {
    const list = $('audit-actions');
    if (list.childElementCount) return;
    let names = [];
    try {
      const resp = await fetch('/openapi.json', { credentials: 'omit', cache: 'no-store' });
      const doc = await resp.json();
      const e = doc.paths['/'].post.parameters[0].schema.enum;
      if (Array.isArray(e)) names = e.map(String);
    } catch (_) {
      names = [];
    }
    // Records that are not API actions.
    names.push('ScheduledRotation', 'GET /metrics');
    for (const n of names) list.append(el('option', { value: n }));
  }

  // ---------- audit log ----------
  const AUDIT_PAGE = 50;
  let auditOffset = 0;

  /** A datetime-local value (local time) as RFC 3339 UTC. */
  function localToRfc3339(value) {
    if (!value) return '';
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) throw new Error('not a time: ' + value);
    return d.toISOString();
  }

  function auditParams() {
    const p = { Offset: auditOffset, Limit: AUDIT_PAGE };
    const key = $('audit-key').value.trim();
    const cred = $('audit-credential').value.trim();
    const action = $('audit-action').value.trim();
    if (key) p.KeyId = key;
    if (cred) p.TokenId = cred;
    if (action) p.Action = action;
    const start = localToRfc3339($('audit-start').value);
    const end = localToRfc3339($('audit-end').value);
    if (start) p.StartTime = start;
    if (end) p.EndTime = end;
    return p;
  }

  async function loadAudit() {
    const section = $('view-audit');
    section.dataset.loaded = 'false';
    const r = await call('ListWhiteBoxAuditRecords', auditParams());
    renderChains(r);
    const records = Array.isArray(r.Records) ? r.Records : [];
    const total = Number(r.TotalCount) || 0;
    const body = $('audit-rows');
    clear(body);
    for (const rec of records) body.append(auditRow(rec));
    $('audit-empty').hidden = records.length !== 0;
    const from = records.length ? auditOffset + 1 : 0;
    $('audit-page-info').textContent = from + '–' + (auditOffset + records.length) + ' of ' + total;
    $('audit-prev').disabled = auditOffset <= 0;
    $('audit-next').disabled = auditOffset + records.length >= total;
    section.dataset.loaded = 'true';
  }

  function renderChains(r) {
    const chains = Array.isArray(r.Chains) ? r.Chains : [];
    const badge = $('audit-chain-badge');
    const intact = r.Intact === true;
    badge.textContent = intact ? 'intact' : 'broken';
    badge.className = 'badge ' + (intact ? 'badge-ok' : 'badge-bad');
    $('audit-chain').dataset.state = intact ? 'intact' : 'broken';
    const parts = chains.map((c) => c.Intact
      ? String(c.Instance) + ': ' + Number(c.Records) + ' records, head ' + String(c.Head || '').slice(0, 16) + '…'
      : String(c.Instance) + ': broken at record ' + Number(c.BrokenAt) + ' (' + String(c.Reason || '') + ')');
    $('audit-chain-text').textContent = (chains.length === 1 ? '1 chain' : chains.length + ' chains') +
      (parts.length ? ' — ' + parts.join('; ') : '');
  }

  function auditRow(rec) {
    const ok = rec.Code === 'OK';
    const keysCell = el('td', { className: 'mono break keys-cell', attrs: { 'data-testid': 'audit-keys' } });
    for (const id of Array.isArray(rec.KeyIds) ? rec.KeyIds : []) keysCell.append(el('div', {}, String(id)));
    return el('tr', {
      attrs: { 'data-testid': 'audit-row' },
      dataset: { action: String(rec.Action || ''), code: String(rec.Code || '') },
    },
    el('td', { className: 'nowrap' },
      el('div', { title: String(rec.Time || '') }, formatTime(rec.Time)),
      el('div', { className: 'muted small mono', title: 'hash ' + String(rec.Hash || '') },
        String(rec.Instance || '') + ' #' + String(rec.Seq ?? ''))),
    el('td', { className: 'nowrap', attrs: { 'data-testid': 'audit-action' } }, String(rec.Action || '')),
    keysCell,
    el('td', { className: 'mono break cred-cell', attrs: { 'data-testid': 'audit-credential' } },
      el('div', {}, String(rec.TokenId || '')),
      el('div', { className: 'muted small' }, String(rec.Remote || ''))),
    el('td', { className: 'nowrap', attrs: { 'data-testid': 'audit-result' } },
      el('span', { className: ok ? 'badge badge-ok' : 'badge badge-bad' }, String(rec.Status ?? '') + ' ' + String(rec.Code || ''))),
    el('td', { className: 'small break-word note-cell' }, String(rec.Override || '')));
  }

  // ---------- tokens and access keys ----------
  const CREDENTIALS = {
    token: {
      kind: 'token',
      label: 'token',
      create: 'CreateWhiteBoxToken',
      list: 'ListWhiteBoxTokens',
      listField: 'Tokens',
      revoke: 'RevokeWhiteBoxToken',
      idField: 'TokenId',
      secretField: 'Token',
      secretLabel: 'Token',
      prefix: 'token',
    },
    accesskey: {
      kind: 'accesskey',
      label: 'access key',
      create: 'CreateWhiteBoxAccessKey',
      list: 'ListWhiteBoxAccessKeys',
      listField: 'AccessKeys',
      revoke: 'RevokeWhiteBoxAccessKey',
      idField: 'SecretId',
      secretField: 'SecretKey',
      secretLabel: 'SecretKey',
      prefix: 'accesskey',
    },
  };

  async function loadCredentials() {
    const section = $('view-credentials');
    section.dataset.loaded = 'false';
    const [t, a] = await Promise.all([call(CREDENTIALS.token.list, {}), call(CREDENTIALS.accesskey.list, {})]);
    renderCredentials(CREDENTIALS.token, Array.isArray(t.Tokens) ? t.Tokens : []);
    renderCredentials(CREDENTIALS.accesskey, Array.isArray(a.AccessKeys) ? a.AccessKeys : []);
    section.dataset.loaded = 'true';
  }

  function credentialState(c) {
    if (c.Revoked) return 'Revoked';
    if (c.Expired) return 'Expired';
    return 'Active';
  }

  function renderCredentials(kind, list) {
    const body = $(kind.prefix + '-rows');
    clear(body);
    // Newest first.
    for (const c of list.slice().reverse()) {
      const id = String(c[kind.idField] || '');
      const state = credentialState(c);
      const mine = kind.kind === 'token' && id === $('whoami-token').dataset.tokenId;
      body.append(el('tr', {
        attrs: { 'data-testid': kind.prefix + '-row' },
        dataset: { id, state },
      },
      el('td', { className: 'mono break' }, id, mine ? el('div', { className: 'muted small' }, 'this session') : null),
      el('td', { className: 'break-word' }, String(c.Name || '')),
      el('td', {}, String(c.Role || '')),
      el('td', { title: String(c.CreateTime || '') }, formatTime(c.CreateTime)),
      el('td', { title: String(c.ExpireTime || ''), attrs: { 'data-testid': 'cred-expires' } }, c.ExpireTime ? formatTime(c.ExpireTime) : 'never'),
      el('td', { title: String(c.LastUsedTime || '') }, c.LastUsedTime ? formatTime(c.LastUsedTime) : '—'),
      el('td', { attrs: { 'data-testid': 'cred-state' } },
        el('span', { className: state === 'Active' ? 'badge badge-ok' : 'badge' }, state)),
      el('td', { className: 'ops' }, el('button', {
        type: 'button',
        className: 'btn btn-link text-danger',
        disabled: c.Revoked === true,
        attrs: { 'data-testid': 'cred-revoke' },
        onclick: () => confirmRevoke(kind, id, mine),
      }, 'Revoke'))));
    }
    $(kind.prefix + '-empty').hidden = list.length !== 0;
  }

  async function createCredential(ev, kind) {
    ev.preventDefault();
    const name = $(kind.prefix + '-name').value.trim();
    if (!name) return showError(new Error('a name is required'));
    const params = { Name: name, Role: $(kind.prefix + '-role').value };
    const expires = $(kind.prefix + '-expires').value;
    if (expires) params.ExpiresIn = expires;
    await busy($(kind.prefix + '-create'), async () => {
      const r = await call(kind.create, params);
      $(kind.prefix + '-name').value = '';
      $('secret-title').textContent = 'New ' + kind.label + ' ' + String(r[kind.idField] || '');
      $('secret-id-label').textContent = kind.idField;
      $('secret-id').textContent = String(r[kind.idField] || '');
      $('secret-role').textContent = String(r.Role || '');
      $('secret-expires').textContent = r.ExpireTime ? formatTime(r.ExpireTime) + ' (' + String(r.ExpireTime) + ')' : 'never (until revoked)';
      $('secret-value-label').textContent = kind.secretLabel;
      $('secret-value').textContent = String(r[kind.secretField] || '');
      showDialog($('secret-dialog'));
      notify('Created ' + kind.label + ' ' + String(r[kind.idField] || ''));
      await loadCredentials();
    });
  }

  function confirmRevoke(kind, id, mine) {
    askConfirm('Revoke ' + kind.label, 'Revoke ' + kind.label + ' ' + id + '? It stops working at once, on ' +
      'every instance; this cannot be undone.' + (mine ? ' It is the token of this session: you will be signed out.' : ''),
    'Revoke', async () => {
      await call(kind.revoke, { [kind.idField]: id });
      if (mine) {
        signOut('Signed out: the token of this session was revoked');
        return;
      }
      notify('Revoked ' + kind.label + ' ' + id);
      await loadCredentials();
    }, null, true);
  }

  // ---------- wiring ----------
  function init() {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (!t) return;
      await busy($('signin-btn'), () => signIn(t));
    });
    $('signout-btn').addEventListener('click', () => signOut(''));
    $('error-close').addEventListener('click', clearError);

    $('create-btn').addEventListener('click', openCreate);
    $('create-tag-add').addEventListener('click', () => addTagRow().querySelector('input').focus());
    $('create-form').addEventListener('submit', submitCreate);
    $('create-mode').addEventListener('change', updateModeUi);
    $('created-download-decrypt').addEventListener('click', () => downloadCreated('decrypt'));
    $('created-download-encrypt').addEventListener('click', () => downloadCreated('encrypt'));

    $('refresh-btn').addEventListener('click', () => busy($('refresh-btn'), loadKeys));
    $('search-btn').addEventListener('click', () => { offset = 0; busy($('search-btn'), loadKeys); });
    for (const id of ['filter-status', 'filter-algorithm']) {
      $(id).addEventListener('change', () => { offset = 0; busy(null, loadKeys); });
    }
    $('page-size').addEventListener('change', () => { offset = 0; busy(null, loadKeys); });
    $('prev-page').addEventListener('click', () => { offset = Math.max(0, offset - pageSize()); busy(null, loadKeys); });
    $('next-page').addEventListener('click', () => { offset += pageSize(); busy(null, loadKeys); });

    $('alias-form').addEventListener('submit', saveAlias);
    $('description-form').addEventListener('submit', saveDescription);

    $('encrypt-form').addEventListener('submit', submitEncrypt);
    $('encrypt-encode-btn').addEventListener('click', () => {
      $('encrypt-plaintext').value = utf8ToBase64($('encrypt-text').value);
    });
    $('copy-iv').addEventListener('click', (ev) => copyText($('encrypt-result-iv').textContent, ev.currentTarget));
    $('copy-ciphertext').addEventListener('click', (ev) => copyText($('encrypt-result-ciphertext').textContent, ev.currentTarget));
    $('encrypt-download').addEventListener('click', downloadEncryptResult);

    $('device-add-form').addEventListener('submit', submitAddDevice);
    $('devices-csv').addEventListener('change', uploadCsv);
    $('devices-template-btn').addEventListener('click', downloadTemplate);
    $('devices-clear-btn').addEventListener('click', clearDevices);
    $('devices-save-btn').addEventListener('click', saveDevices);

    $('confirm-ok').addEventListener('click', runConfirm);
    // Cancel undoes at once (the dialog's close event, which also covers Escape, comes later).
    $('confirm-cancel').addEventListener('click', () => { confirmClosed(); $('confirm-dialog').close(); });
    $('confirm-dialog').addEventListener('close', confirmClosed);

    for (const t of document.querySelectorAll('.tab')) {
      t.addEventListener('click', () => showView(t.dataset.view, true));
    }
    $('rotation-form').addEventListener('submit', saveRotation);
    $('rotation-off').addEventListener('click', rotationOff);

    $('audit-filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      auditOffset = 0;
      busy($('audit-search'), loadAudit);
    });
    $('audit-reset').addEventListener('click', () => {
      $('audit-filters').reset();
      auditOffset = 0;
      busy($('audit-reset'), loadAudit);
    });
    $('audit-prev').addEventListener('click', () => { auditOffset = Math.max(0, auditOffset - AUDIT_PAGE); busy(null, loadAudit); });
    $('audit-next').addEventListener('click', () => { auditOffset += AUDIT_PAGE; busy(null, loadAudit); });

    $('token-form').addEventListener('submit', (ev) => createCredential(ev, CREDENTIALS.token));
    $('accesskey-form').addEventListener('submit', (ev) => createCredential(ev, CREDENTIALS.accesskey));
    $('secret-copy').addEventListener('click', (ev) => copyText($('secret-value').textContent, ev.currentTarget));
    $('secret-close').addEventListener('click', () => {
      $('secret-value').textContent = '';
      $('secret-dialog').close();
    });
    // The secret leaves the page when its dialog closes, however it is closed.
    $('secret-dialog').addEventListener('close', () => { $('secret-value').textContent = ''; });

    $('delete-form').addEventListener('submit', submitDelete);
    $('delete-confirm-input').addEventListener('input', () => { $('delete-submit').disabled = !deleteTyped(); });

    // Every [data-close] button closes its dialog.
    for (const b of document.querySelectorAll('dialog [data-close]')) {
      b.addEventListener('click', () => b.closest('dialog').close());
    }

    let saved = null;
    try { saved = sessionStorage.getItem(TOKEN_KEY); } catch (_) { saved = null; }
    if (saved) {
      signIn(saved).catch(showError);
    } else {
      $('signin').hidden = false;
      $('token-input').focus();
    }
  }

  // Exposed for tests of the CSV parser only (no secrets, no state).
  window.wbkmsConsole = Object.freeze({ parseDeviceCsv });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
