// Drives the wbkms web console in headless Chromium, as a person would: signs in, creates a
// key (SPACE_HARD, the default mode), encrypts a secret, binds this machine to the key,
// downloads the decryption key file, removes devices (without rotation: a warning; with it:
// version 2), toggles the key off and on, rotates, creates an EXTERNAL key (notice and warning)
// and deletes it (after a cancelled try), asks before disabling (cancel leaves the key enabled),
// lists the key's versions and downloads version 1 after the rotations, sets and clears the
// rotation period, creates, uses and revokes a token and an access key in the credentials view,
// and filters the audit log by key, by action, by credential (exactly the token's records) and
// by time (a window before the log: none, the empty-state text; one around now: rows inside
// it), then resets the filters, with the chain shown intact; at 1280 x 800 every view fits the
// width, with every control in view. Writes what run.sh needs to decrypt
// on the "device" with wbdecrypt: DOWNLOAD_DIR/{key-id,iv,ciphertext}.txt,
// DOWNLOAD_DIR/<KeyId>.wbkey (version 1, downloaded before the rotations) and
// DOWNLOAD_DIR/<KeyId>.v1.wbkey, <KeyId>.v3.wbkey (from the versions list, after them).
//
// Environment: BASE_URL (http://127.0.0.1:PORT), TOKEN (admin), DOWNLOAD_DIR, FINGERPRINT
// (this machine's), SECRET (the text to encrypt), CHROMIUM (default /usr/bin/chromium),
// READER_TOKEN (optional: a reader's token, to check that refusals are shown).
// Exits non-zero on the first failed step; saves a screenshot of the page then.
import { chromium } from 'playwright-core';
import { strict as assert } from 'node:assert';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};
const BASE_URL = env('BASE_URL').replace(/\/+$/, '');
const TOKEN = env('TOKEN');
const DOWNLOAD_DIR = path.resolve(env('DOWNLOAD_DIR'));
const FINGERPRINT = env('FINGERPRINT');
const SECRET = env('SECRET', 'IY9Ynrabcdj05YH1234LE370HOM');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
// Creating a key generates its white-box tables: slow in a debug build.
const SLOW = 180_000;

const ALIAS = 'browser-aes';
// A second key, to delete: an alias that would run script if it were parsed as HTML.
const XSS_ALIAS = 'sm4 <img src=x onerror="window.__xss=1">';
const OTHER_FP = (n) => 'wbfp1-' + String(n).repeat(40).slice(0, 40);

let step = 0;
function ok(msg) {
  step++;
  console.log(`ok ${step} - ${msg}`);
}

const problems = [];

async function main() {
  await mkdir(DOWNLOAD_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  // Any script error or CSP violation fails the test (the server sends default-src 'self').
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  const expectedFailures = [];
  page.on('response', (r) => {
    if (r.url().endsWith('/favicon.ico')) return;
    if (r.status() >= 400 && !expectedFailures.some((f) => f(r))) {
      problems.push(`unexpected HTTP ${r.status()} for ${r.request().headers()['x-action'] || r.url()}`);
    }
  });

  try {
    await run(page, expectedFailures);
  } catch (e) {
    const shot = path.join(DOWNLOAD_DIR, 'failure.png');
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`not ok ${step + 1} - ${e.message}\n(screenshot: ${shot})`);
    await browser.close();
    throw e;
  }
  await page.screenshot({ path: path.join(DOWNLOAD_DIR, 'final.png'), fullPage: true });
  await browser.close();
  // Chromium logs a failed fetch (4xx) as a console error; those were expected above.
  const real = problems.filter((p) => !/status of (400|401|403|404|409) /.test(p) || /favicon/.test(p));
  assert.deepEqual(real, [], 'no script errors, no CSP violations, no unexpected HTTP errors');
  ok('no script errors, CSP violations or unexpected HTTP errors in the page');
}

/** The row of a key in the list. */
const row = (page, keyId) => page.locator(`tr[data-key-id="${keyId}"]`);

/** Waits until the key's row shows current version `n` (the Mode column ends in `v<n>`). */
async function waitVersion(page, keyId, n, timeout = 30_000) {
  await page.waitForFunction(([id, v]) => {
    const t = document.querySelector(`tr[data-key-id="${id}"] [data-testid=mode]`)?.textContent || '';
    return new RegExp('v' + v + '$').test(t.trim());
  }, [keyId, n], { timeout });
}

/** Waits until the key's row shows `text` in its Devices column. */
async function waitDeviceStatus(page, keyId, re) {
  await page.waitForFunction(([id, src]) => {
    const cell = document.querySelector(`tr[data-key-id="${id}"] [data-testid=device-status]`);
    return cell && new RegExp(src).test(cell.textContent);
  }, [keyId, re.source]);
}

/** Clicks via `click` and returns the JSON body of the `action` request it sends. */
async function requestBody(page, action, click) {
  const [req] = await Promise.all([
    page.waitForRequest((q) => q.headers()['x-action'] === action),
    click(),
  ]);
  return JSON.parse(req.postData() || '{}');
}

async function expectChecked(locator, want, what) {
  await locator.waitFor();
  const got = await locator.isChecked();
  assert.equal(got, want, `${what}: switch is ${got ? 'on' : 'off'}, expected ${want ? 'on' : 'off'}`);
}

/**
 * Waits for `locator` to become visible; fails at once, with the message shown, if the page
 * shows an error (#error) first.
 */
async function visibleOrError(page, locator, timeout = 30_000) {
  const err = page.locator('#error');
  const which = await Promise.race([
    locator.waitFor({ state: 'visible', timeout }).then(() => 'ok'),
    err.waitFor({ state: 'visible', timeout: timeout + 1000 }).then(() => 'error'),
  ]);
  if (which === 'error' && !(await locator.isVisible())) {
    const code = (await page.locator('#error-code').textContent()).trim();
    const msg = (await page.locator('#error-message').textContent()).trim();
    throw new Error(`the console shows an error: ${code}: ${msg}`);
  }
}

/** Waits for `locator` to be hidden (a dialog closing on success); fails at once on an error. */
async function hiddenOrError(page, locator, timeout = 30_000) {
  const err = page.locator('#error');
  const which = await Promise.race([
    locator.waitFor({ state: 'hidden', timeout }).then(() => 'ok'),
    err.waitFor({ state: 'visible', timeout: timeout + 1000 }).then(() => 'error'),
  ]);
  if (which === 'error' && (await locator.isVisible())) {
    const code = (await page.locator('#error-code').textContent()).trim();
    const msg = (await page.locator('#error-message').textContent()).trim();
    throw new Error(`the console shows an error: ${code}: ${msg}`);
  }
}

/**
 * At the page's width (1280 px): no horizontal scrolling of the page, no table that scrolls
 * sideways, and every displayed control (button, input, select, link) of the page and of an
 * open dialog inside the viewport.
 */
async function assertFits(page, what) {
  const m = await page.evaluate(() => {
    const d = document.documentElement;
    const width = d.clientWidth;
    const out = { scroll: d.scrollWidth, width, outside: [], scrolling: [] };
    const name = (e) => e.dataset.testid || e.id || e.textContent.trim().slice(0, 30) || e.tagName;
    for (const e of document.querySelectorAll('button, input, select, textarea, a[href]')) {
      if (e.classList.contains('visually-hidden') || e.closest('.visually-hidden')) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not displayed (closed dialog, hidden view)
      if (r.left < -0.5 || r.right > width + 0.5) out.outside.push(`${name(e)} at ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    for (const w of document.querySelectorAll('.table-wrap')) {
      const r = w.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (w.scrollWidth > w.clientWidth + 1) out.scrolling.push(`${w.querySelector('table')?.dataset.testid || 'a table'}: ${w.scrollWidth} > ${w.clientWidth}`);
    }
    return out;
  });
  assert.ok(m.scroll <= m.width, `${what}: the page scrolls sideways (${m.scroll} > ${m.width})`);
  assert.deepEqual(m.scrolling, [], `${what}: a table scrolls sideways`);
  assert.deepEqual(m.outside, [], `${what}: controls outside the ${m.width} px viewport`);
}

/** Calls the API directly (not through the page) with `token`: [status, Response]. */
async function api(page, token, action, body) {
  const r = await page.request.post(BASE_URL + '/', {
    headers: { 'X-Action': action, Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    data: JSON.stringify(body || {}),
  });
  return [r.status(), (await r.json()).Response];
}

/** Waits until the view or dialog has loaded its data (`data-loaded="true"`). */
async function loaded(page, selector, timeout = 30_000) {
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.loaded === 'true', selector, { timeout });
}

/** Clicks OK (or Cancel) in the confirmation dialog, which must be open. */
async function confirm(page, answer, titleRe) {
  const dlg = page.locator('#confirm-dialog');
  await dlg.waitFor({ state: 'visible' });
  if (titleRe) assert.match(await page.locator('#confirm-title').textContent(), titleRe);
  await page.locator(answer ? '#confirm-ok' : '#confirm-cancel').click();
  await hiddenOrError(page, dlg, SLOW);
}

async function run(page, expectedFailures) {
  // --- headers: the console is served under a CSP
  const resp = await page.goto(BASE_URL + '/');
  assert.equal(resp.status(), 200, 'GET / answers 200');
  const csp = resp.headers()['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/, `GET / sends a default-src 'self' CSP (got "${csp}")`);
  ok('console page served with a CSP');

  // --- a wrong token is refused
  expectedFailures.push((r) => r.status() === 401);
  await page.locator('#token-input').fill('wbkms-not-a-token');
  await page.locator('#signin-btn').click();
  const signinError = page.locator('#signin-error');
  await signinError.waitFor({ state: 'visible' });
  assert.match(await signinError.textContent(), /invalid token/i);
  assert.equal(await page.locator('#app').isVisible(), false, 'the key list stays hidden');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('wbkms.token')), null, 'no bad token kept');
  ok('a wrong token shows "invalid token"');

  // --- sign in
  await page.locator('#token-input').fill(TOKEN);
  await page.locator('#signin-btn').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal((await page.locator('#whoami').textContent()).trim(), 'admin');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('wbkms.token')), TOKEN, 'token in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  ok('signed in as admin');

  // --- the create form: SPACE_HARD is the default, listed first; the Chow modes show a notice
  await page.locator('#create-btn').click();
  await page.locator('#create-dialog').waitFor({ state: 'visible' });
  const modeSel = page.locator('#create-mode');
  const notice = page.locator('#create-mode-notice');
  const bitsSel = page.locator('#create-space-bits');
  assert.equal(await modeSel.inputValue(), 'SPACE_HARD', 'default mode is SPACE_HARD');
  assert.equal(await modeSel.locator('option').first().getAttribute('value'), 'SPACE_HARD', 'SPACE_HARD listed first');
  assert.match(await modeSel.locator('option').first().textContent(), /default/i);
  assert.match(await page.locator('#create-mode-help').textContent(), /recommended/i, 'SPACE_HARD described as recommended');
  assert.equal(await bitsSel.isVisible(), true, 'line width shown for SPACE_HARD');
  assert.equal(await bitsSel.inputValue(), '16', 'line width 16 by default');
  assert.deepEqual(await bitsSel.locator('option').evaluateAll((os) => os.map((o) => o.value).sort()), ['16', '8']);
  assert.equal(await notice.isVisible(), false, 'no notice for SPACE_HARD');
  for (const m of ['EXTERNAL', 'STANDARD']) {
    await modeSel.selectOption(m);
    await notice.waitFor({ state: 'visible' });
    const text = await notice.textContent();
    assert.match(text, /recoverable from the key file/i, `${m}: the notice says the key is recoverable`);
    assert.match(text, /SECURITY\.md/, `${m}: the notice names SECURITY.md`);
    assert.match(await page.locator('#create-mode-help').textContent(), /Chow-style/, `${m}: described as Chow-style`);
    assert.equal(await bitsSel.isVisible(), false, `${m}: no line width`);
  }
  await modeSel.selectOption('SPACE_HARD');
  await notice.waitFor({ state: 'hidden' });
  assert.equal(await bitsSel.isVisible(), true, 'line width shown again');
  // Closing and opening the form again starts from the defaults.
  await modeSel.selectOption('EXTERNAL');
  await page.locator('#create-cancel').click();
  await page.locator('#create-btn').click();
  assert.equal(await modeSel.inputValue(), 'SPACE_HARD', 'the form reopens with SPACE_HARD');
  assert.equal(await notice.isVisible(), false, 'and without the notice');
  ok('create form: SPACE_HARD (16) by default; EXTERNAL and STANDARD show the key-file notice');

  // --- create the key (AES_256, default mode SPACE_HARD, 16 bits) with a tag
  await page.locator('#create-alias').fill(ALIAS);
  await page.locator('#create-algorithm').selectOption('AES_256');
  await page.locator('#create-description').fill('made by the browser test');
  await page.locator('#create-tag-add').click();
  await page.locator('#create-tags [data-testid=tag-key]').last().fill('env');
  await page.locator('#create-tags [data-testid=tag-value]').last().fill('ci');
  const createBody = await requestBody(page, 'CreateWhiteBoxKey', () => page.locator('#create-submit').click());
  assert.equal(createBody.Mode, 'SPACE_HARD', 'Mode sent');
  assert.equal(createBody.SpaceBits, 16, 'SpaceBits sent');
  await visibleOrError(page, page.locator('#created-dialog'), SLOW);
  const keyId = (await page.locator('#created-key-id').textContent()).trim();
  assert.ok(keyId.length > 0, 'the new key has an id');
  assert.match(await page.locator('#created-mode').textContent(), /SPACE_HARD \(16-bit\)/);
  assert.equal(await page.locator('#created-warning').isVisible(), false, 'no warning for SPACE_HARD');
  assert.equal(await page.locator('#created-download-encrypt').isVisible(), true, 'a SPACE_HARD key file also encrypts');
  await page.locator('#created-close').click();
  await page.locator('#created-dialog').waitFor({ state: 'hidden' });
  ok(`created key ${keyId} (SPACE_HARD, 16-bit), no warning`);

  // --- it is in the list, with its columns
  const r = row(page, keyId);
  await r.waitFor();
  assert.equal((await r.locator('[data-testid=alias]').textContent()).trim(), ALIAS);
  assert.equal((await r.locator('[data-testid=algorithm]').textContent()).trim(), 'AES_256');
  assert.match(await r.locator('[data-testid=mode]').textContent(), /SPACE_HARD \(16-bit\)/);
  assert.match(await r.locator('[data-testid=tags]').textContent(), /env: ci/);
  assert.match(await r.locator('[data-testid=create-time]').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.match(await r.locator('[data-testid=device-status]').textContent(), /not bound/);
  await expectChecked(r.locator('[data-testid=enable-switch]'), true, 'a new key');
  ok('the key is listed: alias, AES_256, SPACE_HARD (16-bit), tag, enabled, not bound');

  // --- encrypt the secret
  const secretB64 = Buffer.from(SECRET, 'utf8').toString('base64');
  await r.locator('[data-testid=encrypt-btn]').click();
  await page.locator('#encrypt-dialog').waitFor({ state: 'visible' });
  // The helper encodes text as Base64 the same way.
  await page.locator('#encrypt-text').fill(SECRET);
  await page.locator('#encrypt-encode-btn').click();
  assert.equal(await page.locator('#encrypt-plaintext').inputValue(), secretB64, 'the Base64 helper');
  await page.locator('#encrypt-plaintext').fill(secretB64);
  await page.locator('#encrypt-submit').click();
  await visibleOrError(page, page.locator('#encrypt-result'));
  const iv = (await page.locator('#encrypt-result-iv').textContent()).trim();
  const ciphertext = (await page.locator('#encrypt-result-ciphertext').textContent()).trim();
  assert.equal(Buffer.from(iv, 'base64').length, 16, 'a 16-byte IV');
  assert.ok(ciphertext.length >= 24, 'a ciphertext');
  assert.equal((await page.locator('#encrypt-result-version').textContent()).trim(), '1', 'key version 1');
  // Copy buttons put the values on the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE_URL });
  await page.locator('#copy-ciphertext').click();
  const clip = await page.evaluate(() => navigator.clipboard.readText()).catch(() => null);
  if (clip !== null) assert.equal(clip, ciphertext, 'copied ciphertext');
  // The JSON download has the same values.
  const [jsonDl] = await Promise.all([page.waitForEvent('download'), page.locator('#encrypt-download').click()]);
  const jsonPath = path.join(DOWNLOAD_DIR, jsonDl.suggestedFilename());
  await jsonDl.saveAs(jsonPath);
  const saved = JSON.parse(await readFile(jsonPath, 'utf8'));
  assert.equal(saved.CipherText, ciphertext);
  assert.equal(saved.InitializationVector, iv);
  assert.equal(saved.KeyId, keyId);
  // With a given IV the service uses it.
  const fixedIv = Buffer.alloc(16, 7).toString('base64');
  await page.locator('#encrypt-iv').fill(fixedIv);
  await page.locator('#encrypt-submit').click();
  await page.waitForFunction((v) => document.getElementById('encrypt-result-iv').textContent === v, fixedIv);
  await page.locator('#encrypt-result').waitFor({ state: 'visible' });
  // An IV of the wrong length is refused in the page.
  await page.locator('#encrypt-iv').fill('AAAA');
  await page.locator('#encrypt-submit').click();
  await page.locator('#encrypt-dialog .dialog-error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#encrypt-dialog .dialog-error').textContent(), /16 bytes/);
  await page.locator('#encrypt-close').click();
  await page.locator('#error-close').click();
  await page.locator('#error').waitFor({ state: 'hidden' });
  await writeFile(path.join(DOWNLOAD_DIR, 'iv.txt'), iv + '\n');
  await writeFile(path.join(DOWNLOAD_DIR, 'ciphertext.txt'), ciphertext + '\n');
  await writeFile(path.join(DOWNLOAD_DIR, 'key-id.txt'), keyId + '\n');
  ok('encrypted the secret: IV and ciphertext read from the page, copied and downloaded');

  // --- devices: CSV upload, remove, add this machine, save
  await r.locator('[data-testid=devices-btn]').click();
  const dev = page.locator('#devices-dialog');
  await dev.waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.getElementById('devices-dialog').dataset.loaded === 'true');
  assert.equal(await dev.locator('[data-testid=device-row]').count(), 0, 'no devices yet');
  const [tplDl] = await Promise.all([page.waitForEvent('download'), page.locator('#devices-template-btn').click()]);
  const tplPath = path.join(DOWNLOAD_DIR, 'template.csv');
  await tplDl.saveAs(tplPath);
  assert.equal(await readFile(tplPath, 'utf8'), 'Device Fingerprint,Description\n', 'CSV template');
  const csv = '\uFEFFDevice Fingerprint,Description\r\n' +
    `${OTHER_FP(1)},"Lab phone, shelf 2"\r\n` +
    '\r\n' +
    `${OTHER_FP(2)},tablet\r\n` +
    `${OTHER_FP(3)},\r\n`;
  await page.locator('#devices-csv').setInputFiles({ name: 'devices.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
  await page.waitForFunction(() => document.querySelectorAll('#devices-rows tr').length === 3);
  const descs = await dev.locator('[data-testid=device-description-cell]').allTextContents();
  assert.deepEqual(descs, ['Lab phone, shelf 2', 'tablet', ''], 'CSV descriptions (quoted, plain, empty)');
  // A CSV with a wrong header is refused.
  await page.locator('#devices-csv').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('Fingerprint\nabc\n') });
  await dev.locator('.dialog-error').waitFor({ state: 'visible' });
  assert.match(await dev.locator('.dialog-error').textContent(), /header/);
  assert.equal(await dev.locator('[data-testid=device-row]').count(), 3, 'the list is unchanged');
  await page.evaluate(() => document.getElementById('error-close').click());
  // Unbind all empties the list; upload again, remove two, add this machine.
  await page.locator('#devices-clear-btn').click();
  assert.equal(await dev.locator('[data-testid=device-row]').count(), 0, 'unbind all');
  await page.locator('#devices-csv').setInputFiles({ name: 'devices.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
  await page.waitForFunction(() => document.querySelectorAll('#devices-rows tr').length === 3);
  await dev.locator(`tr[data-identity="${OTHER_FP(2)}"] [data-testid=device-remove]`).click();
  await dev.locator(`tr[data-identity="${OTHER_FP(3)}"] [data-testid=device-remove]`).click();
  await page.locator('#device-identity').fill(FINGERPRINT);
  await page.locator('#device-description').fill('browser test machine');
  await page.locator('#device-add-btn').click();
  const ids = await dev.locator('[data-testid=device-identity-cell]').allTextContents();
  assert.deepEqual(ids, [OTHER_FP(1), FINGERPRINT]);
  assert.equal(await page.locator('#devices-rotate').isChecked(), true, 'rotate on removal: checked by default');
  await page.locator('#devices-save-btn').click();
  // Adding devices never rotates: the dialog closes as before.
  await hiddenOrError(page, dev);
  await waitDeviceStatus(page, keyId, /2 devices, bound/);
  await waitVersion(page, keyId, 1);
  // Saved on the service: reopen and see them.
  await r.locator('[data-testid=devices-btn]').click();
  await page.waitForFunction(() => document.getElementById('devices-dialog').dataset.loaded === 'true');
  const savedIds = (await dev.locator('[data-testid=device-identity-cell]').allTextContents()).sort();
  assert.deepEqual(savedIds, [OTHER_FP(1), FINGERPRINT].sort(), 'devices saved on the service');
  await page.locator('#devices-cancel').click();
  ok('bound the key to this machine and one other device (CSV upload, remove, add, save)');

  // --- download the decryption key file (bound to those devices now)
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    r.locator('[data-testid=download-key-btn]').click(),
  ]);
  assert.equal(dl.suggestedFilename(), `${keyId}.wbkey`);
  const keyPath = path.join(DOWNLOAD_DIR, `${keyId}.wbkey`);
  await dl.saveAs(keyPath);
  const keyBytes = await readFile(keyPath);
  assert.ok(keyBytes.length > 1000, `a key file (${keyBytes.length} bytes)`);
  ok(`downloaded ${keyId}.wbkey (${keyBytes.length} bytes)`);

  // --- remove a device with the rotate box unchecked: no rotation, a warning
  const devResult = page.locator('#devices-result');
  await r.locator('[data-testid=devices-btn]').click();
  await page.waitForFunction(() => document.getElementById('devices-dialog').dataset.loaded === 'true');
  assert.equal(await devResult.isVisible(), false, 'no result before saving');
  await dev.locator(`tr[data-identity="${OTHER_FP(1)}"] [data-testid=device-remove]`).click();
  await page.locator('#devices-rotate').uncheck();
  const noRotBody = await requestBody(page, 'OverwriteWhiteBoxDeviceFingerprints', () => page.locator('#devices-save-btn').click());
  assert.equal(noRotBody.Rotate, false, 'Rotate: false sent');
  assert.deepEqual(noRotBody.DeviceFingerprints.map((d) => d.Identity), [FINGERPRINT]);
  await visibleOrError(page, devResult, SLOW);
  const noRotText = await page.locator('#devices-result-text').textContent();
  assert.doesNotMatch(noRotText, /Rotated to version/, `not rotated (${noRotText})`);
  assert.match(noRotText, /not rotated \(current version 1\)/, `still version 1 (${noRotText})`);
  assert.ok(noRotText.includes(OTHER_FP(1)), 'the removed device is named');
  const noRotWarning = page.locator('#devices-result-warning');
  assert.equal(await noRotWarning.isVisible(), true, 'the service\'s warning is shown');
  assert.ok((await noRotWarning.textContent()).trim().length > 0, 'a warning text');
  await page.locator('#devices-cancel').click();
  await dev.waitFor({ state: 'hidden' });
  await waitDeviceStatus(page, keyId, /1 device, bound/);
  await waitVersion(page, keyId, 1);
  ok(`removed a device without rotating: still version 1, warning "${(await noRotWarning.textContent()).trim()}"`);

  // --- add a device (no rotation), then remove it with the box checked: rotated to version 2
  await r.locator('[data-testid=devices-btn]').click();
  await page.waitForFunction(() => document.getElementById('devices-dialog').dataset.loaded === 'true');
  assert.equal(await page.locator('#devices-rotate').isChecked(), true, 'the box is checked again on reopening');
  assert.equal(await devResult.isVisible(), false, 'the last result is gone');
  await page.locator('#device-identity').fill(OTHER_FP(2));
  await page.locator('#device-add-btn').click();
  await page.locator('#devices-save-btn').click();
  await hiddenOrError(page, dev);
  await waitDeviceStatus(page, keyId, /2 devices, bound/);
  await waitVersion(page, keyId, 1);
  await r.locator('[data-testid=devices-btn]').click();
  await page.waitForFunction(() => document.getElementById('devices-dialog').dataset.loaded === 'true');
  await dev.locator(`tr[data-identity="${OTHER_FP(2)}"] [data-testid=device-remove]`).click();
  const rotBody = await requestBody(page, 'OverwriteWhiteBoxDeviceFingerprints', () => page.locator('#devices-save-btn').click());
  assert.equal(rotBody.Rotate, true, 'Rotate: true sent');
  await visibleOrError(page, devResult, SLOW);
  const rotText = await page.locator('#devices-result-text').textContent();
  assert.match(rotText, /Rotated to version 2/, `rotated (${rotText})`);
  assert.ok(rotText.includes(OTHER_FP(2)), 'the removed device is named');
  assert.equal(await page.locator('#devices-result-warning').isVisible(), false, 'no warning when rotated');
  await page.locator('#devices-cancel').click();
  await dev.waitFor({ state: 'hidden' });
  await waitVersion(page, keyId, 2);
  await waitDeviceStatus(page, keyId, /1 device, bound/);
  ok('adding a device does not rotate; removing one rotates: "Rotated to version 2"');

  // --- disabling asks first: cancelled, the key stays enabled (also on the service)
  await r.locator('[data-testid=enable-switch]').click();
  await confirm(page, false, /Disable key/);
  // The switch goes back on.
  await page.waitForFunction((id) => document.querySelector(`tr[data-key-id="${id}"] [data-testid=enable-switch]`)?.checked === true, keyId);
  assert.equal((await r.locator('[data-testid=status-text]').textContent()).trim(), 'Enabled');
  await page.reload();
  await expectChecked(row(page, keyId).locator('[data-testid=enable-switch]'), true, 'after a cancelled disable and reload');
  ok('disable asks first; cancelled, the key stays enabled');

  // --- disable, survives a reload; encrypting then fails with a visible error
  const disableBody = await requestBody(page, 'DisableWhiteBoxKey', async () => {
    await row(page, keyId).locator('[data-testid=enable-switch]').click();
    await confirm(page, true, /Disable key/);
  });
  assert.equal(disableBody.KeyId, keyId);
  await page.waitForFunction((id) => document.querySelector(`tr[data-key-id="${id}"]`)?.dataset.status === 'Disabled', keyId);
  await page.reload();
  await expectChecked(row(page, keyId).locator('[data-testid=enable-switch]'), false, 'after disable and reload');
  assert.equal((await row(page, keyId).locator('[data-testid=status-text]').textContent()).trim(), 'Disabled');
  expectedFailures.push((res) => res.request().headers()['x-action'] === 'EncryptByWhiteBox' && res.status() >= 400 && res.status() < 500);
  await row(page, keyId).locator('[data-testid=encrypt-btn]').click();
  await page.locator('#encrypt-plaintext').fill(secretB64);
  await page.locator('#encrypt-submit').click();
  await page.locator('#encrypt-dialog .dialog-error').waitFor({ state: 'visible' });
  const errText = await page.locator('#encrypt-dialog .dialog-error').textContent();
  assert.match(errText, /^\S+: \S/, `the error shows code and message (${errText})`);
  assert.ok(await page.locator('#error').count() === 1 && (await page.locator('#error-code').textContent()).length > 0, '#error filled');
  assert.equal(await page.locator('#encrypt-result').isVisible(), false, 'no result for a disabled key');
  await page.locator('#encrypt-close').click();
  await page.locator('#error-close').click();
  ok(`disabled: the switch stays off after reload, encrypt shows ${errText.split(':')[0]}`);

  // --- enable again
  await row(page, keyId).locator('[data-testid=enable-switch]').check();
  await page.waitForFunction((id) => document.querySelector(`tr[data-key-id="${id}"]`)?.dataset.status === 'Enabled', keyId);
  await page.reload();
  await expectChecked(row(page, keyId).locator('[data-testid=enable-switch]'), true, 'after enable and reload');
  ok('enabled again: the switch is on after reload');

  // --- rotate: version 3 (the device removal above made version 2)
  await row(page, keyId).locator('[data-testid=rotate-btn]').click();
  await page.locator('#confirm-dialog').waitFor({ state: 'visible' });
  await page.locator('#confirm-ok').click();
  await hiddenOrError(page, page.locator('#confirm-dialog'), SLOW);
  await waitVersion(page, keyId, 3);
  ok('rotated: current version 3');
  await assertFits(page, 'the key list');

  // --- key details: the versions, and version 1's key file after the rotations
  const details = page.locator('#details-dialog');
  await row(page, keyId).locator('[data-testid=key-id]').click();
  await loaded(page, '#details-dialog');
  const versionRows = details.locator('[data-testid=version-row]');
  assert.deepEqual(await versionRows.evaluateAll((rs) => rs.map((x) => x.dataset.version)), ['3', '2', '1'], 'versions, newest first');
  assert.equal(await versionRows.first().locator('[data-testid=version-current]').count(), 1, 'version 3 is current');
  assert.equal(await details.locator('[data-testid=version-current]').count(), 1, 'one current version');
  await assertFits(page, 'the key details');
  for (const v of ['1', '3']) {
    const [vdl] = await Promise.all([
      page.waitForEvent('download', { timeout: SLOW }),
      details.locator(`tr[data-version="${v}"] [data-testid=version-download]`).click(),
    ]);
    assert.equal(vdl.suggestedFilename(), `${keyId}.v${v}.wbkey`);
    await vdl.saveAs(path.join(DOWNLOAD_DIR, `${keyId}.v${v}.wbkey`));
  }
  ok('key details list versions 3, 2, 1; downloaded version 1 and version 3');

  // --- the rotation period: set (NextRotateTime shown, as the service says), then off
  const rotState = page.locator('#rotation-state');
  assert.match(await rotState.textContent(), /^Off/, 'no rotation period yet');
  await page.locator('#rotation-days').fill('30');
  const rotBody2 = await requestBody(page, 'EnableWhiteBoxKeyRotation', () => page.locator('#rotation-save').click());
  assert.deepEqual(rotBody2, { KeyId: keyId, RotateDays: 30 });
  await page.waitForFunction(() => document.getElementById('rotation-state').dataset.next !== '');
  const next = await rotState.getAttribute('data-next');
  const [st, described] = await api(page, TOKEN, 'DescribeWhiteBoxKey', { KeyId: keyId });
  assert.equal(st, 200);
  assert.equal(described.KeyInfo.NextRotateTime, next, 'the NextRotateTime shown is the service\'s');
  assert.equal(described.KeyInfo.RotateDays, 30);
  const [, vlist] = await api(page, TOKEN, 'ListWhiteBoxKeyVersions', { KeyId: keyId });
  const v3made = Date.parse(vlist.Versions.find((v) => v.Current).CreateTime);
  assert.equal(Date.parse(next) - v3made, 30 * 86_400_000, 'due 30 days after version 3 was made');
  assert.match(await rotState.textContent(), /Every 30 days: next rotation/);
  assert.ok((await rotState.textContent()).includes(next), 'the time is shown');
  await page.locator('#rotation-off').click();
  await page.waitForFunction(() => document.getElementById('rotation-state').dataset.enabled === 'false');
  assert.match(await rotState.textContent(), /^Off/);
  const [, after] = await api(page, TOKEN, 'DescribeWhiteBoxKey', { KeyId: keyId });
  assert.equal(after.KeyInfo.KeyRotationEnabled, false);
  await page.locator('#details-close').click();
  await details.waitFor({ state: 'hidden' });
  ok(`rotation period: every 30 days, next ${next}; then turned off`);

  // --- a second key, EXTERNAL, with markup in its alias: the notice before, the service's
  // warning after; the alias shown as text; then deleted after typing the alias
  await page.locator('#create-btn').click();
  await page.locator('#create-alias').fill(XSS_ALIAS);
  await page.locator('#create-algorithm').selectOption('SM4');
  await page.locator('#create-mode').selectOption('EXTERNAL');
  await page.locator('#create-mode-notice').waitFor({ state: 'visible' });
  const extBody = await requestBody(page, 'CreateWhiteBoxKey', () => page.locator('#create-submit').click());
  assert.equal(extBody.Mode, 'EXTERNAL', 'Mode EXTERNAL sent');
  assert.equal('SpaceBits' in extBody, false, 'no SpaceBits for EXTERNAL');
  await visibleOrError(page, page.locator('#created-dialog'), SLOW);
  const key2 = (await page.locator('#created-key-id').textContent()).trim();
  assert.equal((await page.locator('#created-algorithm').textContent()).trim(), 'SM4');
  assert.match(await page.locator('#created-mode').textContent(), /EXTERNAL/);
  const createdWarning = page.locator('#created-warning');
  assert.equal(await createdWarning.isVisible(), true, 'the service\'s warning is shown for EXTERNAL');
  const warnText = (await createdWarning.textContent()).trim();
  assert.match(warnText, /SECURITY\.md/, `the warning names SECURITY.md (${warnText})`);
  assert.equal(await page.locator('#created-download-encrypt').isVisible(), false, 'an EXTERNAL key file only decrypts');
  await page.locator('#created-close').click();
  const r2 = row(page, key2);
  await r2.waitFor();
  assert.match(await r2.locator('[data-testid=mode]').textContent(), /EXTERNAL/);
  assert.equal((await r2.locator('[data-testid=alias]').textContent()), XSS_ALIAS, 'the alias is text');
  assert.equal(await r2.locator('img').count(), 0, 'no element made from the alias');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no script ran');
  ok(`created EXTERNAL SM4 key ${key2} with the warning "${warnText}"; its HTML-like alias is shown as text`);

  await assertFits(page, 'the key list with two keys');
  // Delete, cancelled: the key stays.
  await r2.locator('[data-testid=delete-btn]').click();
  await page.locator('#delete-dialog').waitFor({ state: 'visible' });
  await page.locator('#delete-confirm-input').fill(XSS_ALIAS);
  await page.locator('#delete-cancel').click();
  await page.locator('#delete-dialog').waitFor({ state: 'hidden' });
  await page.reload();
  await r2.waitFor();
  ok('delete cancelled: the key is still there after a reload');

  await r2.locator('[data-testid=delete-btn]').click();
  await page.locator('#delete-dialog').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#delete-submit').isDisabled(), true, 'delete needs the alias');
  await page.locator('#delete-confirm-input').fill('wrong');
  assert.equal(await page.locator('#delete-submit').isDisabled(), true, 'a wrong alias');
  await page.locator('#delete-confirm-input').fill(XSS_ALIAS);
  await page.locator('#delete-submit').click();
  await hiddenOrError(page, page.locator('#delete-dialog'));
  await r2.waitFor({ state: 'detached' });
  assert.equal(await row(page, keyId).count(), 1, 'the first key is still there');
  ok(`deleted ${key2} after typing its alias`);

  // --- filters
  await page.locator('#filter-algorithm').selectOption('SM4');
  await page.waitForFunction(() => document.querySelectorAll('#key-rows tr').length === 0);
  await page.locator('#filter-algorithm').selectOption('');
  await row(page, keyId).waitFor();
  ok('the algorithm filter');

  // --- tokens: create one with an expiry in the console, use it, revoke it, see it refused
  await page.locator('#tab-credentials').click();
  await loaded(page, '#view-credentials');
  const tokenRows = page.locator('#token-rows [data-testid=token-row]');
  const before = await tokenRows.count();
  assert.ok(before >= 2, 'the admin and reader tokens are listed');
  await page.locator('#token-name').fill('browser-ci');
  await page.locator('#token-role').selectOption('operator');
  await page.locator('#token-expires').selectOption('1d');
  const tokBody = await requestBody(page, 'CreateWhiteBoxToken', () => page.locator('#token-create').click());
  assert.deepEqual(tokBody, { Name: 'browser-ci', Role: 'operator', ExpiresIn: '1d' });
  const secretDlg = page.locator('#secret-dialog');
  await visibleOrError(page, secretDlg);
  const newTokenId = (await page.locator('#secret-id').textContent()).trim();
  const newToken = (await page.locator('#secret-value').textContent()).trim();
  assert.match(newTokenId, /^tok-[0-9a-f]{16}$/);
  assert.match(newToken, /^wbkms_/);
  assert.match(await secretDlg.textContent(), /shown only this once/);
  assert.doesNotMatch(await page.locator('#secret-expires').textContent(), /never/, 'it expires');
  await page.locator('#secret-close').click();
  await secretDlg.waitFor({ state: 'hidden' });
  await page.waitForFunction(() => document.getElementById('secret-value').textContent === '');
  const tokRow = page.locator(`#token-rows tr[data-id="${newTokenId}"]`);
  await tokRow.waitFor();
  assert.equal(await tokRow.getAttribute('data-state'), 'Active');
  const expiresShown = (await tokRow.locator('[data-testid=cred-expires]').getAttribute('title')) || '';
  const inADay = Date.now() + 86_400_000;
  assert.ok(Math.abs(Date.parse(expiresShown) - inADay) < 600_000, `expires in a day (${expiresShown})`);
  assert.ok(!(await page.locator('#view-credentials').textContent()).includes(newToken), 'the list never shows the token');
  const [s1, listed] = await api(page, newToken, 'DescribeWhiteBoxKeyDetails', {});
  assert.equal(s1, 200, 'the new token lists keys');
  assert.ok(listed.KeyInfos.some((k) => k.KeyId === keyId), 'and sees the key');
  expectedFailures.push((res) => res.request().headers()['x-action'] === 'DeleteWhiteBoxKey' && res.status() === 403);
  const [s1b] = await api(page, newToken, 'DeleteWhiteBoxKey', { KeyId: keyId });
  assert.equal(s1b, 403, 'an operator token may not delete');
  await assertFits(page, 'the credentials view');
  await tokRow.locator('[data-testid=cred-revoke]').click();
  await confirm(page, true, /Revoke token/);
  await page.waitForFunction((id) => document.querySelector(`#token-rows tr[data-id="${id}"]`)?.dataset.state === 'Revoked', newTokenId);
  assert.equal(await tokRow.locator('[data-testid=cred-revoke]').isDisabled(), true, 'no second revoke');
  const [s2, refused] = await api(page, newToken, 'DescribeWhiteBoxKeyDetails', {});
  assert.equal(s2, 401, 'a revoked token is refused');
  assert.equal(refused.Error.Code, '03000001');
  ok(`created token ${newTokenId} (operator, expires ${expiresShown}), used it, revoked it: refused`);

  // --- access keys: create (the SecretKey once), revoke after a cancelled try
  await page.locator('#accesskey-name').fill('browser-tccli');
  await page.locator('#accesskey-role').selectOption('reader');
  await page.locator('#accesskey-expires').selectOption('');
  const akBody = await requestBody(page, 'CreateWhiteBoxAccessKey', () => page.locator('#accesskey-create').click());
  assert.deepEqual(akBody, { Name: 'browser-tccli', Role: 'reader' });
  await visibleOrError(page, secretDlg);
  const secretId = (await page.locator('#secret-id').textContent()).trim();
  const secretKey = (await page.locator('#secret-value').textContent()).trim();
  assert.match(secretId, /^AKID[A-Za-z0-9]{32}$/);
  assert.match(secretKey, /^[A-Za-z0-9]{32}$/);
  assert.match(await page.locator('#secret-expires').textContent(), /never/);
  await page.locator('#secret-close').click();
  await secretDlg.waitFor({ state: 'hidden' });
  const akRow = page.locator(`#accesskey-rows tr[data-id="${secretId}"]`);
  await akRow.waitFor();
  assert.equal((await akRow.locator('[data-testid=cred-expires]').textContent()).trim(), 'never');
  assert.ok(!(await page.locator('#view-credentials').textContent()).includes(secretKey), 'the list never shows the SecretKey');
  await akRow.locator('[data-testid=cred-revoke]').click();
  await confirm(page, false, /Revoke access key/);
  assert.equal(await akRow.getAttribute('data-state'), 'Active', 'cancelled: still active');
  const [, aksBefore] = await api(page, TOKEN, 'ListWhiteBoxAccessKeys', {});
  assert.equal(aksBefore.AccessKeys.find((k) => k.SecretId === secretId).Revoked, false, 'cancelled: not revoked on the service');
  await akRow.locator('[data-testid=cred-revoke]').click();
  await confirm(page, true, /Revoke access key/);
  await page.waitForFunction((id) => document.querySelector(`#accesskey-rows tr[data-id="${id}"]`)?.dataset.state === 'Revoked', secretId);
  const [, aks] = await api(page, TOKEN, 'ListWhiteBoxAccessKeys', {});
  assert.equal(aks.AccessKeys.find((k) => k.SecretId === secretId).Revoked, true, 'revoked on the service');
  ok(`created access key ${secretId}, revoke cancelled once, then revoked`);

  // --- the audit log: the chain intact; by key, by action, by credential, by time; reset
  await page.locator('#tab-audit').click();
  await loaded(page, '#view-audit');
  assert.equal(await page.locator('#audit-chain').getAttribute('data-state'), 'intact');
  assert.equal((await page.locator('#audit-chain-badge').textContent()).trim(), 'intact');
  assert.match(await page.locator('#audit-chain-text').textContent(), /records, head [0-9a-f]{16}/);
  await assertFits(page, 'the audit log');
  const auditRows = page.locator('#audit-rows [data-testid=audit-row]');
  assert.ok(await auditRows.count() > 10, 'records listed');
  const auditEmpty = page.locator('#audit-empty');
  assert.equal(await auditEmpty.isVisible(), false, 'no empty-state text with records');
  /** The "of N" of the pager: how many records match. */
  const auditTotal = async () => {
    const m = /^(\d+)–(\d+) of (\d+)$/.exec((await page.locator('#audit-page-info').textContent()).trim());
    assert.ok(m, 'the pager shows "a–b of n"');
    return { from: Number(m[1]), to: Number(m[2]), total: Number(m[3]) };
  };
  const unfilteredTotal = (await auditTotal()).total;
  /** Clicks Search; returns the ListWhiteBoxAuditRecords request the console sent. */
  const search = async () => {
    const body = await requestBody(page, 'ListWhiteBoxAuditRecords', () => page.locator('#audit-search').click());
    await loaded(page, '#view-audit');
    return body;
  };
  /** The rows shown: action, code, keys, credential (the cell's first line), time, instance #seq. */
  const shownRows = () => auditRows.evaluateAll((rs) => rs.map((r) => ({
    action: r.dataset.action,
    code: r.dataset.code,
    keys: r.querySelector('[data-testid=audit-keys]').textContent,
    credential: r.querySelector('[data-testid=audit-credential] div').textContent,
    time: r.cells[0].children[0].title,
    ref: r.cells[0].children[1].textContent,
    text: r.textContent,
  })));
  await page.locator('#audit-key').fill(keyId);
  await search();
  const byKey = await shownRows();
  assert.ok(byKey.length > 5 && byKey.every((x) => x.keys.includes(keyId)), 'every record names the key');
  const keyActions = new Set(byKey.map((x) => x.action));
  for (const a of ['CreateWhiteBoxKey', 'EncryptByWhiteBox', 'DisableWhiteBoxKey', 'RotateWhiteBoxKey', 'EnableWhiteBoxKeyRotation', 'DescribeWhiteBoxDecryptKey']) {
    assert.ok(keyActions.has(a), `the key's records include ${a} (${[...keyActions].join(', ')})`);
  }
  assert.equal(byKey[byKey.length - 1].action, 'CreateWhiteBoxKey', 'oldest last: the creation');
  await assertFits(page, 'the audit log filtered by key');
  await page.locator('#audit-key').fill('');
  await page.locator('#audit-action').fill('DisableWhiteBoxKey');
  await search();
  const byAction = await auditRows.evaluateAll((rs) => rs.map((r) => r.dataset.action));
  // One disable in the console (the cancelled one sent nothing); the reader's 403s came later.
  assert.deepEqual(byAction, ['DisableWhiteBoxKey'], 'only the one disable');
  await page.locator('#audit-action').fill('RevokeWhiteBoxToken');
  await search();
  assert.ok((await auditRows.first().textContent()).includes(`revoked token ${newTokenId}`), 'the revocation names the token');
  assert.equal(await page.locator('#audit-chain').getAttribute('data-state'), 'intact');
  await page.locator('#audit-action').fill('');

  // Every record, read through the API (paged), to compare the filtered views with. Records
  // are only added after this; the token made above is revoked, so none of its own.
  const allRecords = [];
  for (let offset = 0; ; offset += 1000) {
    const [st, page1] = await api(page, TOKEN, 'ListWhiteBoxAuditRecords', { Offset: offset, Limit: 1000 });
    assert.equal(st, 200, 'the API lists the audit records');
    allRecords.push(...page1.Records);
    if (page1.Records.length < 1000) break;
  }
  const refOf = (rec) => `${rec.Instance} #${rec.Seq}`;

  // By credential: the operator token made in the credentials view (it listed the keys and
  // was refused a delete). Exactly its records: the same ones the API has under its id.
  await page.locator('#audit-credential').fill(newTokenId);
  const credBody = await search();
  assert.deepEqual(credBody, { Offset: 0, Limit: 50, TokenId: newTokenId }, 'the credential is sent as TokenId');
  const byCred = await shownRows();
  assert.ok(byCred.length >= 1, 'the token\'s records are shown');
  const wrongCred = byCred.filter((x) => x.credential !== newTokenId);
  assert.deepEqual(wrongCred, [], `every row's credential is ${newTokenId}`);
  const expectedRefs = allRecords.filter((rec) => rec.TokenId === newTokenId).map(refOf);
  assert.deepEqual(byCred.map((x) => x.ref), expectedRefs, 'exactly the token\'s records, newest first');
  assert.ok(byCred.some((x) => x.action === 'DescribeWhiteBoxKeyDetails' && x.code === 'OK'), 'its key listing');
  assert.ok(byCred.some((x) => x.action === 'DeleteWhiteBoxKey' && x.code !== 'OK'), 'its refused delete');
  assert.deepEqual(await auditTotal(), { from: 1, to: byCred.length, total: byCred.length }, 'the pager counts them');
  assert.equal(await auditEmpty.isVisible(), false, 'no empty-state text');
  await assertFits(page, 'the audit log filtered by credential');
  await page.locator('#audit-credential').fill('');

  // By time. The inputs are datetime-local (local time, to the second); the console sends
  // them as RFC 3339 UTC, StartTime and EndTime, both inclusive.
  /** A time as the datetime-local input's value, in the browser's zone, to the second. */
  const localInput = (ms) => page.evaluate((t) => {
    const d = new Date(t);
    const pad = (n) => String(n).padStart(2, '0');
    // The shortest form, as the input normalises it (no ":00" seconds).
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}` +
      (d.getSeconds() ? `:${pad(d.getSeconds())}` : '');
  }, ms);
  const floorSec = (ms) => Math.floor(ms / 1000) * 1000;
  const iso = (ms) => new Date(ms).toISOString();
  const setWindow = async (startMs, endMs) => {
    await page.locator('#audit-start').fill(await localInput(startMs));
    await page.locator('#audit-end').fill(await localInput(endMs));
  };

  // A day that ends a second before the oldest record: nothing, and the empty-state text.
  const oldestMs = Math.min(...allRecords.map((rec) => Date.parse(rec.Time)));
  assert.ok(Number.isFinite(oldestMs), 'the records have times');
  const beforeEnd = floorSec(oldestMs) - 1000;
  const beforeStart = beforeEnd - 86_400_000;
  await setWindow(beforeStart, beforeEnd);
  const beforeBody = await search();
  assert.deepEqual(beforeBody, { Offset: 0, Limit: 50, StartTime: iso(beforeStart), EndTime: iso(beforeEnd) },
    'the window is sent as StartTime and EndTime in UTC');
  assert.equal(await auditRows.count(), 0, `no records before the first (${iso(oldestMs)})`);
  await auditEmpty.waitFor({ state: 'visible' });
  assert.equal((await auditEmpty.textContent()).trim(), 'No records match.');
  assert.deepEqual(await auditTotal(), { from: 0, to: 0, total: 0 }, 'the pager shows 0 of 0');
  assert.equal(await page.locator('#audit-chain').getAttribute('data-state'), 'intact', 'the chain is still verified');
  await assertFits(page, 'the audit log, no records in the window');

  // From the token's revocation (a few seconds ago) to a minute from now: rows, all inside,
  // the revocation among them, the key's creation (minutes earlier) not.
  const revoked = allRecords.find((rec) => rec.Action === 'RevokeWhiteBoxToken' && String(rec.Override || '').includes(newTokenId));
  assert.ok(revoked, 'the API has the revocation');
  const nowStart = floorSec(Date.parse(revoked.Time));
  const nowEnd = floorSec(Date.now()) + 60_000;
  await setWindow(nowStart, nowEnd);
  const nowBody = await search();
  assert.deepEqual(nowBody, { Offset: 0, Limit: 50, StartTime: iso(nowStart), EndTime: iso(nowEnd) });
  const inWindow = await shownRows();
  assert.ok(inWindow.length >= 1, 'records in the window around now');
  assert.equal(await auditEmpty.isVisible(), false, 'no empty-state text');
  const outside = inWindow.filter((x) => !(Date.parse(x.time) >= nowStart && Date.parse(x.time) <= nowEnd));
  assert.deepEqual(outside, [], `every row's time is in ${iso(nowStart)}..${iso(nowEnd)}`);
  assert.ok(inWindow.some((x) => x.ref === refOf(revoked)), 'the revocation is in the window');
  assert.ok(!inWindow.some((x) => x.action === 'CreateWhiteBoxKey'), 'the key\'s creation is not');
  const windowTotal = (await auditTotal()).total;
  assert.ok(windowTotal < unfilteredTotal, `fewer records (${windowTotal}) than the whole log (${unfilteredTotal})`);
  await assertFits(page, 'the audit log filtered by time');

  // Reset clears every filter: the whole log again.
  const resetBody = await requestBody(page, 'ListWhiteBoxAuditRecords', () => page.locator('#audit-reset').click());
  await loaded(page, '#view-audit');
  assert.deepEqual(resetBody, { Offset: 0, Limit: 50 }, 'no filter sent after Reset');
  for (const id of ['#audit-key', '#audit-credential', '#audit-action', '#audit-start', '#audit-end']) {
    assert.equal(await page.locator(id).inputValue(), '', `${id} cleared`);
  }
  const afterReset = await auditTotal();
  assert.ok(afterReset.total >= allRecords.length, `the whole log again (${afterReset.total} >= ${allRecords.length})`);
  assert.equal(await auditRows.count(), Math.min(50, afterReset.total), 'a full page of rows');
  assert.equal(await auditEmpty.isVisible(), false, 'no empty-state text');
  ok(`audit log: chain intact; by key, by action, by credential (${byCred.length} records of ${newTokenId}), ` +
    `by time (none before the log, ${windowTotal} since the revocation); Reset shows all ${afterReset.total}`);
  await page.locator('#tab-keys').click();
  await row(page, keyId).waitFor();

  // --- sign out forgets the token
  await page.locator('#signout-btn').click();
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('wbkms.token')), null);
  await page.reload();
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app').isVisible(), false);
  ok('signed out: the token is forgotten');

  // --- a reader sees the keys but may not download key files or create keys: 403 shown
  const READER = process.env.READER_TOKEN;
  if (READER) {
    expectedFailures.push((res) => res.status() === 403);
    await page.locator('#token-input').fill(READER);
    await page.locator('#signin-btn').click();
    await page.locator('#app').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#whoami').textContent()).trim(), 'reader');
    await row(page, keyId).waitFor();
    assert.equal(await page.locator('#tab-audit').isVisible(), false, 'no audit tab for a reader');
    assert.equal(await page.locator('#tab-credentials').isVisible(), false, 'no credentials tab for a reader');
    let downloaded = false;
    const onDownload = () => { downloaded = true; };
    page.on('download', onDownload);
    await row(page, keyId).locator('[data-testid=download-key-btn]').click();
    await page.locator('#error').waitFor({ state: 'visible' });
    const code = (await page.locator('#error-code').textContent()).trim();
    const msg = (await page.locator('#error-message').textContent()).trim();
    assert.ok(code.length > 0 && msg.length > 0, 'the error shows a code and a message');
    await page.locator('#create-btn').click();
    await page.locator('#create-alias').fill('reader-may-not');
    await page.locator('#create-submit').click();
    await page.locator('#create-dialog .dialog-error').waitFor({ state: 'visible' });
    await page.locator('#create-cancel').click();
    page.off('download', onDownload);
    assert.equal(downloaded, false, 'no key file for a reader');
    assert.equal(await page.locator('tr[data-alias="reader-may-not"]').count(), 0, 'no key made');
    await page.locator('#signout-btn').click();
    ok(`a reader: key list shown, download and create refused (${code}: ${msg})`);
  }
}

main().then(
  () => console.log(`console.mjs: ${step} steps passed`),
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);
