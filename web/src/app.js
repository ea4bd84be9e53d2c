// The restore page: asks for the Threema ID and Safe password, derives the key in a worker,
// fetches the backup by its id (the one thing the server sees), decrypts and shows it. Every URL
// is relative to this page, so it works behind any path prefix: the page is at <base>/restore/,
// the API at <base>/.

import QRCode from 'qrcode';
import {
  SafeError,
  checkPassword,
  gunzip,
  normalizeId,
  openBlob,
  parseBackup,
  summarize,
  toBase64,
} from './safe.js';

const $ = (id) => document.getElementById(id);

// What the page holds between steps; forget() wipes it.
const state = {
  id: '',
  backupId: '',
  key: null, // Uint8Array(32)
  privateKey: null, // Uint8Array(32), once a backup decrypted
  authorization: '', // "Basic ..." once the server asked
};

function show(section) {
  for (const name of ['progress', 'credentials', 'error', 'result']) {
    $(name).hidden = name !== section;
  }
  document.body.dataset.state = section || 'form';
}

function busy(on) {
  for (const el of document.querySelectorAll('#lookup input, #lookup button, #login button')) {
    el.disabled = on;
  }
}

function showError(title, text) {
  $('error-title').textContent = title;
  $('error-text').textContent = text;
  show('error');
  busy(false);
}

function wipe() {
  if (state.key) state.key.fill(0);
  if (state.privateKey) state.privateKey.fill(0);
  state.key = null;
  state.privateKey = null;
  state.backupId = '';
  state.authorization = '';
}

let worker = null;

// Runs one request in the worker; `onProgress` gets 0..1 for a derivation.
function runInWorker(message, transfer, onProgress) {
  if (worker === null) worker = new Worker('worker.js');
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => {
      const reply = event.data;
      if (reply.op === 'progress') {
        if (onProgress) onProgress(reply.value);
      } else if (reply.op === 'failed') {
        reject(new Error(reply.message));
      } else {
        resolve(reply);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message || 'the worker failed'));
    };
    worker.postMessage(message, transfer || []);
  });
}

function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  return `${(n / 1024).toFixed(1)} KiB (${n.toLocaleString('en')} bytes)`;
}

// An HTTP date as the calendar day it names (the server keeps days only), moved by `days`.
function formatDay(httpDate, days = 0) {
  if (!httpDate) return 'not reported by this server';
  const t = Date.parse(httpDate);
  if (Number.isNaN(t)) return 'not reported by this server';
  return new Date(t + days * 86400000).toLocaleDateString('en-GB', {
    timeZone: 'UTC',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  });
}

function formatWait(retryAfter) {
  const seconds = Number.parseInt(retryAfter || '', 10);
  if (!Number.isFinite(seconds) || seconds < 0) return 'a while';
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  if (seconds < 90 * 60) return `${Math.ceil(seconds / 60)} minutes`;
  return `${Math.ceil(seconds / 3600)} hours`;
}

// Basic credentials as the Desktop app sends them: UTF-8, base64.
function basic(user, password) {
  return 'Basic ' + toBase64(new TextEncoder().encode(`${user}:${password}`));
}

async function derive(event) {
  event.preventDefault();
  wipe();
  let id;
  const password = $('safe-password').value;
  try {
    id = normalizeId($('threema-id').value);
    checkPassword(password, 'Safe password');
  } catch (e) {
    showError('Check what you entered', e.message);
    return;
  }
  $('threema-id').value = id;
  busy(true);
  $('progress-text').textContent = 'Deriving the key from your password (this takes a few seconds)…';
  $('progress-bar').value = 0;
  show('progress');
  let derived;
  try {
    derived = await runInWorker({ op: 'derive', id, password }, [], (value) => {
      $('progress-bar').value = Math.round(value * 100);
    });
  } catch (e) {
    showError('The key could not be derived', `${e.message}. Try another browser.`);
    return;
  }
  $('safe-password').value = '';
  state.id = id;
  state.backupId = derived.backupId;
  state.key = derived.key;
  await fetchBackup();
}

async function fetchBackup() {
  $('progress-text').textContent = 'Asking the server for the backup…';
  $('progress-bar').removeAttribute('value');
  show('progress');
  const headers = { Accept: 'application/octet-stream' };
  if (state.authorization) headers.Authorization = state.authorization;
  let response;
  try {
    // credentials 'omit': the browser adds no credentials of its own and never shows its own
    // login dialog; the page asks and sends Basic itself.
    response = await fetch(new URL(`../backups/${state.backupId}`, document.baseURI), {
      headers,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    showError('Cannot reach the server', 'Check your connection and try again.');
    return;
  }
  if (response.status === 200) {
    await showBackup(response);
    return;
  }
  const status = response.status;
  if (status === 404) {
    showError(
      'No backup found for this ID and password',
      'Either there is no backup on this server for this ID, or the ID or the password is not ' +
        'the one it was made with: the server cannot tell these apart, because it only sees an ' +
        'id derived from both. Check the ID and the password (upper and lower case count). A ' +
        'backup made by safe-client without --kdf scrypt cannot be read here.',
    );
  } else if (status === 401) {
    $('credentials-text').textContent = state.authorization
      ? 'The server did not accept this user name and password. Check them and try again.'
      : 'This server is private: enter the user name and password its operator gave you ' +
        '(the same as in the Threema app’s Safe server settings).';
    $('login-password').value = '';
    show('credentials');
    busy(false);
  } else if (status === 429) {
    showError(
      'The server is limiting requests from your address',
      `Try again in ${formatWait(response.headers.get('Retry-After'))}. ` +
        'Each wrong password or unknown ID counts against a small allowance, to stop guessing.',
    );
  } else if (status >= 500) {
    showError('The server failed', `HTTP ${status}. Try again later.`);
  } else {
    showError('The server refused the request', `HTTP ${status}.`);
  }
}

async function login(event) {
  event.preventDefault();
  state.authorization = basic($('login-user').value, $('login-password').value);
  $('login-password').value = '';
  busy(true);
  await fetchBackup();
}

function damaged(e) {
  const what = {
    mac:
      'A backup exists for this ID and password, but it does not decrypt: it is damaged. ' +
      'Make a new backup from the app (Threema: Settings → Threema Safe → Back up now).',
    gzip: 'The backup decrypts, but its content is damaged (' + e.detail + ').',
    json: 'The backup decrypts, but is not a valid Threema Safe backup: ' + e.detail + '.',
  }[e.kind];
  showError('The backup is damaged', what || e.message);
}

async function showBackup(response) {
  $('progress-text').textContent = 'Decrypting…';
  let blob;
  try {
    blob = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    showError('The download failed', 'The connection broke off. Try again.');
    return;
  }
  let summary;
  try {
    const gz = openBlob(blob, state.key);
    const json = await gunzip(gz);
    gz.fill(0);
    const parsed = parseBackup(json);
    json.fill(0);
    state.privateKey = parsed.privateKey;
    summary = summarize(state.id, parsed);
  } catch (e) {
    if (e instanceof SafeError) {
      damaged(e);
    } else {
      showError('The backup could not be read', String(e.message || e));
    }
    return;
  }
  $('fact-size').textContent = formatBytes(blob.length);
  $('fact-uploaded').textContent = formatDay(response.headers.get('Last-Modified'));
  // Expires is the first day the backup is gone unless uploaded again: kept until the day before.
  const expires = response.headers.get('Expires');
  $('fact-expires').textContent = expires
    ? `${formatDay(expires, -1)}, unless uploaded again`
    : formatDay(expires);
  $('content-id').textContent = summary.id;
  $('content-nickname').textContent = summary.nickname || '(none)';
  $('content-public-key').textContent = summary.publicKey.match(/.{8}/g).join(' ');
  $('content-contacts').textContent = String(summary.contacts);
  $('content-groups').textContent = String(summary.groups);
  $('content-lists').textContent = String(summary.distributionLists);
  $('content-device').textContent = summary.device || '(not recorded)';
  $('settings-count').textContent = String(summary.settings.length);
  const table = $('settings');
  table.replaceChildren();
  for (const [name, value] of summary.settings) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = JSON.stringify(value);
  }
  $('secrets').hidden = true;
  $('secret-warning').hidden = false;
  $('export').hidden = true;
  show('result');
  busy(false);
}

function reveal() {
  if (!state.privateKey) return;
  $('private-key').textContent = toBase64(state.privateKey);
  $('secret-warning').hidden = true;
  $('secrets').hidden = false;
}

async function makeExport(event) {
  event.preventDefault();
  const password = $('export-password').value;
  const message = $('export-message');
  try {
    checkPassword(password, 'export password');
    if (password !== $('export-password2').value) {
      throw new Error('The two export passwords differ.');
    }
  } catch (e) {
    message.textContent = e.message;
    return;
  }
  message.textContent = 'Making the ID export…';
  $('export-button').disabled = true;
  try {
    const privateKey = state.privateKey.slice();
    const { text } = await runInWorker(
      { op: 'export', id: state.id, privateKey, password },
      [privateKey.buffer],
    );
    $('export-text').textContent = text;
    await QRCode.toCanvas($('export-qr'), text, { errorCorrectionLevel: 'M', margin: 2, scale: 5 });
    $('export').hidden = false;
    message.textContent = '';
  } catch (e) {
    message.textContent = `The export failed: ${e.message}`;
  } finally {
    $('export-password').value = '';
    $('export-password2').value = '';
    $('export-button').disabled = false;
  }
}

function forget() {
  wipe();
  for (const id of ['private-key', 'export-text']) $(id).textContent = '';
  const canvas = $('export-qr');
  canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
  $('threema-id').value = '';
  $('safe-password').value = '';
  show(null);
  busy(false);
  $('threema-id').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('lookup').addEventListener('submit', derive);
  $('login').addEventListener('submit', login);
  $('reveal').addEventListener('click', reveal);
  $('export-form').addEventListener('submit', makeExport);
  $('forget').addEventListener('click', forget);
  $('error-back').addEventListener('click', () => {
    show(null);
    $('safe-password').focus();
  });
  show(null);
});
