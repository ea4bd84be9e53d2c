// The restore page in a real browser (issue 17): Debian's chromium, headless, driven by
// playwright-core, against the real safe-server binary on free loopback ports. Restores a backup
// made by safe-client with --kdf scrypt (the known vector ECHOECHO / shootdeathstar, so the
// backup id the page asks for is checked too), makes the ID export and checks it with
// safe-client import-id, and shows each error a person can meet: no backup (a wrong password),
// a damaged backup, a server asking for credentials (401), a rate-limited client (429). Also
// behind a path prefix (a small proxy), over HTTPS, and with no CSP violation; and CORS
// (cors-origins) for a page on another origin, as Threema Desktop's. Screenshots of the main
// states go to $SAFE_WEB_SCREENSHOTS.
//
// Environment (set by tests/web/CMakeLists.txt): SAFE_BIN_DIR, SAFE_SOURCE_DIR,
// SAFE_WEB_NODE_MODULES, SAFE_WEB_SCREENSHOTS; SAFE_CHROMIUM (default /usr/bin/chromium).
// Exit 77 (CTest: skipped) only when chromium is not installed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const chromiumPath = process.env.SAFE_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.log(`SKIP: ${chromiumPath} is not installed (scripts/bootstrap deps installs chromium)`);
  process.exit(77);
}
for (const name of ['SAFE_BIN_DIR', 'SAFE_SOURCE_DIR', 'SAFE_WEB_NODE_MODULES']) {
  if (!process.env[name]) throw new Error(`${name} is not set`);
}
const binDir = process.env.SAFE_BIN_DIR;
const sourceDir = process.env.SAFE_SOURCE_DIR;
const shots = process.env.SAFE_WEB_SCREENSHOTS || path.join(os.tmpdir(), 'safe-web-screenshots');
mkdirSync(shots, { recursive: true });
const { chromium } = createRequire(path.join(process.env.SAFE_WEB_NODE_MODULES, 'noop.js'))(
  'playwright-core',
);

const kId = 'ECHOECHO';
const kPassword = 'shootdeathstar';
const kBackupId = '066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3';
const kPublicKey = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const kPrivateKeyBase64 = 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'safe-web-browser-'));
// A copy: safe-client keeps its ETag file beside the input, never in the source tree.
const kIdentity = path.join(tmp, 'identity.json');
copyFileSync(path.join(sourceDir, 'docs/examples/identity.json'), kIdentity);
const servers = [];
let context = null;

function file(name, text) {
  const p = path.join(tmp, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

function run(program, args, input) {
  const r = spawnSync(path.join(binDir, program), args, { input, encoding: 'utf8' });
  assert.equal(r.status, 0, `${program} ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

// A real safe-server on a free port; resolves with its base URL once it says it listens.
function startServer(name, args = []) {
  const dataDir = path.join(tmp, name);
  const proc = spawn(
    path.join(binDir, 'safe-server'),
    ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--data-dir', dataDir, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  servers.push(proc);
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${name}: no port in 30 s: ${log}`)), 30000);
    proc.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /safe-server: listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    });
    proc.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${log}`)));
  });
}

// A reverse proxy that serves the server under /safe/ (as a site with a path prefix would).
function startPrefixProxy(target) {
  const upstream = new URL(target);
  const proxy = http.createServer((req, res) => {
    if (!req.url.startsWith('/safe/')) {
      res.writeHead(404).end();
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url.slice('/safe'.length),
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  return new Promise((resolve) => {
    proxy.listen(0, '127.0.0.1', () => resolve({ proxy, url: `http://127.0.0.1:${proxy.address().port}/safe/` }));
  });
}

// A new page that records its requests, console errors and CSP violations.
async function openPage(url) {
  const page = await context.newPage();
  page.requestsSeen = [];
  page.problems = [];
  page.on('request', (r) => page.requestsSeen.push({ url: r.url(), headers: r.headers() }));
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
      page.problems.push(`console: ${m.text()}`);
    }
  });
  await page.goto(url);
  await page.waitForSelector('body[data-state="form"]');
  return page;
}

async function check(page, id, password, expectState) {
  await page.fill('#threema-id', id);
  await page.fill('#safe-password', password);
  await page.click('#check');
  await page.waitForSelector(`body[data-state="${expectState}"]`, { timeout: 60000 });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

function backupRequests(page) {
  return page.requestsSeen.filter((r) => /\/backups\//.test(r.url));
}

let plain;

before(async () => {
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 860, height: 900 },
    ignoreHTTPSErrors: true, // the HTTPS case's self-signed certificate
    locale: 'en-GB',
  });
  plain = await startServer('plain');
  run('safe-client', [
    'backup', '--server', plain, '--id', kId, '--kdf', 'scrypt',
    '--password-file', file('password', `${kPassword}\n`), '--input', kIdentity,
  ]);
});

after(async () => {
  if (context) await context.close();
  for (const proc of servers) proc.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

test('restores a backup made by safe-client --kdf scrypt (ECHOECHO / shootdeathstar)', async () => {
  const page = await openPage(`${plain}restore/`);
  await shot(page, 'form');
  await page.fill('#threema-id', 'echoecho');
  await page.fill('#safe-password', kPassword);
  await page.click('#check');
  await page.waitForSelector('body[data-state="progress"]');
  await shot(page, 'progress');
  await page.waitForSelector('body[data-state="result"]', { timeout: 60000 });
  await shot(page, 'result');

  // The server saw one GET, of the known backup id, and nothing of the password.
  const asked = backupRequests(page);
  assert.equal(asked.length, 1);
  assert.equal(asked[0].url, `${plain}backups/${kBackupId}`);
  for (const r of page.requestsSeen) {
    assert.ok(r.url.startsWith(plain), `a request elsewhere: ${r.url}`);
    assert.ok(!JSON.stringify(r).includes(kPassword), 'the password left the page');
  }
  const text = async (id) => (await page.textContent(`#${id}`)).trim();
  assert.equal(await text('content-id'), kId);
  assert.equal(await text('content-nickname'), 'Sample');
  assert.equal((await text('content-public-key')).replace(/ /g, ''), kPublicKey);
  assert.equal(await text('content-contacts'), '1');
  assert.equal(await text('content-groups'), '0');
  assert.equal(await text('content-lists'), '0');
  assert.equal(await text('content-device'), 'safe-client sample');
  assert.equal(await text('settings-count'), '2');
  assert.match(await text('fact-size'), /bytes/);
  const day = (t) => new Date(t).toLocaleDateString('en-GB', {
    timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric',
  });
  assert.equal(await text('fact-uploaded'), day(Date.now()));
  // retention-days 180: kept 180 days after the day of the upload unless uploaded again.
  assert.equal(
    await text('fact-expires'),
    `${day(Date.now() + 180 * 86400 * 1000)}, unless uploaded again`,
  );
  // Nothing secret is on the screen before the warning is acknowledged.
  assert.equal(await page.isVisible('#secrets'), false);
  assert.equal(await text('private-key'), '');
  assert.deepEqual(page.problems, []);

  await page.click('#reveal');
  assert.equal(await text('private-key'), kPrivateKeyBase64);
  await page.fill('#export-password', 'another long password');
  await page.fill('#export-password2', 'another long password');
  await page.click('#export-button');
  await page.waitForSelector('#export:not([hidden])', { timeout: 30000 });
  const exported = await text('export-text');
  assert.match(exported, /^([A-Z2-7]{4}-){19}[A-Z2-7]{4}$/);
  assert.ok((await page.$eval('#export-qr', (c) => c.width)) > 100, 'no QR code drawn');
  await shot(page, 'export');
  // safe-client reads the page's export back: the same ID and public key.
  const imported = run('safe-client', [
    'import-id', '--export', exported,
    '--password-file', file('export-password', 'another long password\n'),
  ]);
  assert.match(imported, new RegExp(kId));
  assert.match(imported, new RegExp(kPublicKey));

  await page.click('#forget');
  await page.waitForSelector('body[data-state="form"]');
  assert.equal(await text('private-key'), '');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a wrong password reads as "no backup", and says why the two cannot be told apart', async () => {
  const page = await openPage(`${plain}restore/`);
  await check(page, kId, 'not the password', 'error');
  assert.equal(
    (await page.textContent('#error-title')).trim(),
    'No backup found for this ID and password',
  );
  assert.match(await page.textContent('#error-text'), /cannot tell these apart/);
  await shot(page, 'no-backup');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a damaged backup is reported as damaged', async () => {
  const password = 'a damaged backup password';
  const id = run('safe-client', [
    'derive', '--id', kId, '--kdf', 'scrypt', '--password-file', file('damaged', `${password}\n`),
  ]).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const put = await fetch(`${plain}backups/${id}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(300).fill(7),
  });
  assert.equal(put.status, 201);
  const page = await openPage(`${plain}restore/`);
  await check(page, kId, password, 'error');
  assert.equal((await page.textContent('#error-title')).trim(), 'The backup is damaged');
  assert.match(await page.textContent('#error-text'), /does not decrypt/);
  await shot(page, 'damaged');
  await page.close();
});

test('works behind a path prefix, by relative URLs only', async () => {
  const { proxy, url } = await startPrefixProxy(plain);
  try {
    const page = await openPage(url + 'restore'); // redirected to restore/
    assert.equal(page.url(), `${url}restore/`);
    await check(page, kId, kPassword, 'result');
    assert.equal(backupRequests(page)[0].url, `${url}backups/${kBackupId}`);
    assert.equal((await page.textContent('#content-nickname')).trim(), 'Sample');
    assert.deepEqual(page.problems, []);
    await page.close();
  } finally {
    proxy.close();
  }
});

test('works over HTTPS (the built-in TLS)', async () => {
  const key = path.join(tmp, 'https-key.pem'); // not tls.key: the data dir's server key is that
  const cert = path.join(tmp, 'https-cert.pem');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const server = (await startServer('tls', ['--tls-cert', cert, '--tls-key', key]))
    .replace('http://', 'https://');
  run('safe-client', [
    'backup', '--server', server, '--cacert', cert, '--id', kId, '--kdf', 'scrypt',
    '--password-file', path.join(tmp, 'password'), '--input', kIdentity,
  ]);
  const page = await openPage(`${server}restore/`);
  await check(page, kId, kPassword, 'result');
  assert.equal(backupRequests(page)[0].url, `${server}backups/${kBackupId}`);
  assert.equal((await page.textContent('#content-nickname')).trim(), 'Sample');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a server that asks for credentials (401): the page asks, then sends Basic', async () => {
  const htpasswd = run('safe-admin', ['hash-password', '--user', 'alice'], 'server password 1\n');
  const server = await startServer('auth', ['--htpasswd', file('htpasswd', htpasswd)]);
  run('safe-client', [
    'backup', '--server', server, '--id', kId, '--kdf', 'scrypt',
    '--password-file', path.join(tmp, 'password'), '--input', kIdentity,
    '--user', 'alice', '--auth-password-file', file('auth-password', 'server password 1\n'),
  ]);
  // The page's own files need no credentials.
  const page = await openPage(`${server}restore/`);
  await check(page, kId, kPassword, 'credentials');
  assert.match(await page.textContent('#credentials-text'), /user name and password/);
  await shot(page, 'credentials');
  await page.fill('#login-user', 'alice');
  await page.fill('#login-password', 'not it at all');
  await page.click('#login-button');
  await page.waitForSelector('body[data-state="credentials"] #credentials-text:has-text("did not accept")');
  await page.fill('#login-user', 'alice');
  await page.fill('#login-password', 'server password 1');
  await page.click('#login-button');
  await page.waitForSelector('body[data-state="result"]', { timeout: 30000 });
  const last = backupRequests(page).at(-1);
  const expected = 'Basic ' + Buffer.from('alice:server password 1').toString('base64');
  assert.equal(last.headers.authorization, expected);
  assert.equal((await page.textContent('#content-nickname')).trim(), 'Sample');
  await page.close();
});

// A blank page on an origin of its own, standing in for Threema Desktop's renderer.
function startOtherOrigin() {
  const site = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>other</title>');
  });
  return new Promise((resolve) => {
    site.listen(0, '127.0.0.1', () => resolve({ site, origin: `http://127.0.0.1:${site.address().port}` }));
  });
}

test('CORS: a listed origin may call the API with Basic credentials, another may not', async () => {
  const listed = await startOtherOrigin();
  const unlisted = await startOtherOrigin();
  try {
    const htpasswd = run('safe-admin', ['hash-password', '--user', 'bob'], 'server password 2\n');
    const server = await startServer('cors', [
      '--htpasswd', file('htpasswd-cors', htpasswd), '--cors-origins', listed.origin,
    ]);
    run('safe-client', [
      'backup', '--server', server, '--id', kId, '--kdf', 'scrypt',
      '--password-file', path.join(tmp, 'password'), '--input', kIdentity,
      '--user', 'bob', '--auth-password-file', file('auth-password-2', 'server password 2\n'),
    ]);
    // What Desktop does: fetch the backup with Basic credentials (a preflighted request).
    const call = (page, authorization) => page.evaluate(
      async ({ url, authorization }) => {
        const headers = { Accept: 'application/octet-stream' };
        if (authorization) headers.Authorization = authorization;
        try {
          const r = await fetch(url, { headers });
          return { status: r.status, bytes: (await r.arrayBuffer()).byteLength };
        } catch (e) {
          return { error: String(e) };
        }
      },
      { url: `${server}backups/${kBackupId}`, authorization },
    );
    const basic = 'Basic ' + Buffer.from('bob:server password 2').toString('base64');
    const page = await context.newPage();
    await page.goto(`${listed.origin}/`);
    const ok = await call(page, basic);
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.ok(ok.bytes > 100);
    // Without credentials the 401 is readable too, so the client can ask for them.
    assert.equal((await call(page, null)).status, 401);
    await page.goto(`${unlisted.origin}/`);
    const refused = await call(page, basic);
    assert.match(refused.error || '', /Failed to fetch/, JSON.stringify(refused));
    await page.close();
  } finally {
    listed.site.close();
    unlisted.site.close();
  }
});

test('a rate-limited client (429) is told how long to wait', async () => {
  const server = await startServer('limited', ['--guess-burst', '1', '--guess-refill-per-day', '24']);
  const page = await openPage(`${server}restore/`);
  await check(page, kId, 'a wrong password', 'error'); // the one guess: a miss
  await page.click('#error-back');
  await check(page, kId, 'another wrong password', 'error');
  assert.equal(
    (await page.textContent('#error-title')).trim(),
    'The server is limiting requests from your address',
  );
  assert.match(await page.textContent('#error-text'), /Try again in (\d+ minutes|1 hours?)/);
  await shot(page, 'rate-limited');
  await page.close();
});
