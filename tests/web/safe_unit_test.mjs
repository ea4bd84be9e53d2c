// The restore page's formats (web/src/safe.js) in Node, against the known answers of
// docs/client.md and against blobs made here the way safe-client makes them. Run by CTest as
//   SAFE_WEB_NODE_MODULES=<build>/web/node_modules node --test tests/web/safe_unit_test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const modules = process.env.SAFE_WEB_NODE_MODULES;
assert.ok(modules, 'SAFE_WEB_NODE_MODULES must name the build\'s web/node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
const esbuild = require('esbuild');
const nacl = require('tweetnacl');

// safe.js imports npm packages: bundle it (as the page build does) into a module Node can load
// (CommonJS: tweetnacl asks Node's crypto for random bytes with require).
const source = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/src/safe.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'safe-web-unit-'));
const bundle = path.join(dir, 'safe.cjs');
esbuild.buildSync({
  entryPoints: [source],
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  nodePaths: [modules],
  logLevel: 'error',
});
const safe = createRequire(import.meta.url)(bundle);
rmSync(dir, { recursive: true, force: true });

const hex = (text) => Uint8Array.from(Buffer.from(text, 'hex'));
const kRfc7748Private = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const kRfc7748Public = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';

function seal(bytes, key) {
  const nonce = nacl.randomBytes(24);
  const box = nacl.secretbox(bytes, nonce, key);
  const blob = new Uint8Array(24 + box.length);
  blob.set(nonce);
  blob.set(box, 24);
  return blob;
}

async function kindOf(promiseOrFn) {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    assert.ok(e instanceof safe.SafeError, `not a SafeError: ${e}`);
    return e.kind;
  }
  return 'no error';
}

test('scrypt gives the iOS app\'s known answer for ECHOECHO / shootdeathstar', async () => {
  let last = 0;
  const { backupId, key } = await safe.deriveSafeKey('ECHOECHO', 'shootdeathstar', (v) => {
    assert.ok(v >= last);
    last = v;
  });
  assert.equal(backupId, '066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3');
  assert.equal(safe.toHex(key), '51c3d8d752fb6e1fd3199ead7f0895d6e3893ff691f2a5ee1976ed0897fc2f66');
  assert.equal(last, 1);
});

test('the ID export gives docs/client.md\'s known answer', async () => {
  const text = await safe.makeIdExport(
    'ECHOECHO', kRfc7748Private, 'correct horse battery', hex('0102030405060708'));
  assert.equal(
    text,
    'AEBA-GBAF-AYDQ-R2TR-H5KM-LR36-GVRB-IOCF-CVWV-3O3I-YFHP-4BYZ-KOS6-3OGS-EH3D-M6DE-EDXH-LHHS-K6CX-OSSX');
});

test('the public key is X25519 of the private key (RFC 7748 section 6.1)', () => {
  assert.equal(safe.toHex(safe.publicKeyOf(kRfc7748Private)), kRfc7748Public);
});

test('Base32 is RFC 4648\'s', () => {
  const enc = new TextEncoder();
  assert.equal(safe.base32(enc.encode('foobar')), 'MZXW6YTBOI');
  assert.equal(safe.base32(enc.encode('f')), 'MY');
});

test('IDs and passwords are checked as the apps check them', async () => {
  assert.equal(safe.normalizeId(' echo echo '), 'ECHOECHO');
  assert.equal(safe.normalizeId('*abc1234'), '*ABC1234');
  assert.equal(await kindOf(() => safe.normalizeId('ECHO')), 'bad-id');
  assert.equal(await kindOf(() => safe.normalizeId('ECHOECH!')), 'bad-id');
  assert.equal(await kindOf(() => safe.checkPassword('1234567', 'x')), 'bad-password');
  assert.equal(await kindOf(() => safe.checkPassword('x'.repeat(4097), 'x')), 'bad-password');
  safe.checkPassword('12345678', 'x');
});

const kBackup = {
  info: { version: 1, device: 'test' },
  user: { privatekey: Buffer.from(kRfc7748Private).toString('base64'), nickname: 'Sample' },
  contacts: [{ identity: 'ABCDEFGH' }, { identity: 'BCDEFGHI' }],
  groups: [{ id: '0011223344556677' }],
  settings: { syncContacts: false, blockUnknown: true },
};

test('a blob made as safe-client makes it opens, inflates and reads', async () => {
  const key = nacl.randomBytes(32);
  const json = Buffer.from(JSON.stringify(kBackup));
  // Stored deflate blocks, as the apps write; and compressed, as older Android builds did.
  for (const level of [0, 9]) {
    const blob = seal(gzipSync(json, { level }), key);
    const parsed = safe.parseBackup(await safe.gunzip(safe.openBlob(blob, key)));
    const summary = safe.summarize('ECHOECHO', parsed);
    assert.equal(summary.publicKey, kRfc7748Public);
    assert.equal(summary.nickname, 'Sample');
    assert.equal(summary.contacts, 2);
    assert.equal(summary.groups, 1);
    assert.equal(summary.distributionLists, 0);
    assert.deepEqual(summary.settings, [['syncContacts', false], ['blockUnknown', true]]);
  }
});

test('a damaged blob is told apart: MAC, gzip, JSON', async () => {
  const key = nacl.randomBytes(32);
  const good = seal(gzipSync(Buffer.from(JSON.stringify(kBackup))), key);
  const flipped = good.slice();
  flipped[flipped.length - 1] ^= 1;
  assert.equal(await kindOf(() => safe.openBlob(flipped, key)), 'mac');
  assert.equal(await kindOf(() => safe.openBlob(good, nacl.randomBytes(32))), 'mac');
  assert.equal(await kindOf(() => safe.openBlob(good.subarray(0, 30), key)), 'mac');
  assert.equal(await kindOf(safe.gunzip(new TextEncoder().encode('not gzip at all, really'))), 'gzip');
  const truncated = gzipSync(Buffer.from(JSON.stringify(kBackup))).subarray(0, 40);
  assert.equal(await kindOf(safe.gunzip(truncated)), 'gzip');
  assert.equal(await kindOf(safe.gunzip(gzipSync(Buffer.alloc(2000)), 1000)), 'gzip');
  const enc = (v) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
  assert.equal(await kindOf(() => safe.parseBackup(enc('{"info":'))), 'json');
  assert.equal(await kindOf(() => safe.parseBackup(enc([]))), 'json');
  assert.equal(await kindOf(() => safe.parseBackup(enc({ ...kBackup, info: { version: 2 } }))), 'json');
  assert.equal(await kindOf(() => safe.parseBackup(enc({ ...kBackup, user: { privatekey: 'AAAA' } }))), 'json');
  assert.equal(await kindOf(() => safe.parseBackup(enc({ ...kBackup, settings: undefined }))), 'json');
  assert.equal(await kindOf(() => safe.parseBackup(enc({ ...kBackup, contacts: {} }))), 'json');
  assert.equal(await kindOf(() => safe.parseBackup(Uint8Array.of(0xff, 0xfe))), 'json');
});
