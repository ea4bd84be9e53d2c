// The Threema Safe formats, in the browser: key derivation, the blob, the backup JSON and the ID
// export. No DOM here, and nothing leaves the page: app.js calls these, worker.js runs the slow
// ones. The formats are docs/client.md's ("The exact formats").

import { scryptAsync } from '@noble/hashes/scrypt';
import { pbkdf2Async } from '@noble/hashes/pbkdf2';
import { sha256 } from '@noble/hashes/sha2';
import nacl from 'tweetnacl';

// A failure a person is told about. `kind` picks the message in app.js.
export class SafeError extends Error {
  constructor(kind, detail) {
    super(detail || kind);
    this.kind = kind;
    this.detail = detail || '';
  }
}

export const kScrypt = { N: 65536, r: 8, p: 1, dkLen: 64 };
export const kExportIterations = 100000;
export const kMaxJsonBytes = 16 * 1024 * 1024; // safe-client's inflate limit

const kUtf8 = new TextEncoder();

// A Threema ID as typed: spaces dropped, upper-cased; 8 characters of 0-9, A-Z and '*'.
export function normalizeId(text) {
  const id = String(text).replace(/\s+/g, '').toUpperCase();
  if (!/^[0-9A-Z*]{8}$/.test(id)) {
    throw new SafeError('bad-id', 'A Threema ID has 8 characters: letters, digits and *.');
  }
  return id;
}

// 8 to 4096 characters (the apps' limits), counted as the apps count them (UTF-16 units).
export function checkPassword(password, what) {
  if (password.length < 8 || password.length > 4096) {
    throw new SafeError('bad-password', `The ${what} has 8 to 4096 characters.`);
  }
}

export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function fromBase64(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    return null;
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function toBase64(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

// master = scrypt(password, salt = ID, N=65536, r=8, p=1, 64 bytes): the backup id (bytes 0-31,
// in hex) and the key (bytes 32-63). `onProgress` gets 0..1.
export async function deriveSafeKey(id, password, onProgress) {
  const master = await scryptAsync(kUtf8.encode(password), kUtf8.encode(id), {
    ...kScrypt,
    onProgress,
    asyncTick: 50,
  });
  const backupId = toHex(master.subarray(0, 32));
  const key = master.slice(32, 64);
  master.fill(0);
  return { backupId, key };
}

// nonce (24 bytes) || crypto_secretbox(gzip(JSON)): the gzip bytes, or SafeError 'mac'.
export function openBlob(blob, key) {
  if (blob.length < nacl.secretbox.nonceLength + nacl.secretbox.overheadLength) {
    throw new SafeError('mac', 'the backup is shorter than a nonce and a tag');
  }
  const nonce = blob.subarray(0, nacl.secretbox.nonceLength);
  const box = blob.subarray(nacl.secretbox.nonceLength);
  const opened = nacl.secretbox.open(box, nonce, key);
  if (opened === null) throw new SafeError('mac', 'the authentication tag does not match');
  return opened;
}

// Any gzip (the apps write stored blocks; older Android builds compressed), at most `limit` bytes
// out; SafeError 'gzip' otherwise.
export async function gunzip(bytes, limit = kMaxJsonBytes) {
  if (bytes.length < 18 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new SafeError('gzip', 'it does not start with a gzip header');
  }
  const chunks = [];
  let total = 0;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel();
        throw new SafeError('gzip', `it inflates to more than ${limit} bytes`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof SafeError) throw e;
    throw new SafeError('gzip', 'the gzip data is damaged');
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
    c.fill(0);
  }
  return out;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Schema version 1, checked as safe-client checks it (crypto/backup_json.cc); SafeError 'json'.
export function parseBackup(bytes) {
  let json;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new SafeError('json', 'it is not JSON');
  }
  if (!isObject(json)) throw new SafeError('json', 'it is not a JSON object');
  for (const name of ['info', 'user', 'settings']) {
    if (!(name in json)) throw new SafeError('json', `it has no "${name}" (required)`);
    if (!isObject(json[name])) throw new SafeError('json', `"${name}" is not a JSON object`);
  }
  const version = json.info.version;
  if (version === undefined) throw new SafeError('json', '"info" has no "version" (required)');
  if (!Number.isInteger(version)) {
    throw new SafeError('json', '"info.version" is not a whole number');
  }
  if (version !== 1) {
    throw new SafeError('json', `it is of schema version ${version}; this page reads version 1`);
  }
  if (!('privatekey' in json.user)) {
    throw new SafeError('json', '"user" has no "privatekey" (required)');
  }
  const privateKey = fromBase64(json.user.privatekey);
  if (privateKey === null || privateKey.length !== 32) {
    throw new SafeError('json', '"user.privatekey" is not the base64 of 32 bytes');
  }
  for (const name of ['contacts', 'groups', 'distributionlists']) {
    if (name in json && !Array.isArray(json[name])) {
      throw new SafeError('json', `"${name}" is not a JSON list`);
    }
  }
  return { json, privateKey };
}

// X25519 of the private key (crypto_scalarmult_base), the key the apps show.
export function publicKeyOf(privateKey) {
  return nacl.scalarMult.base(privateKey);
}

// What the page shows of a backup.
export function summarize(id, parsed) {
  const { json, privateKey } = parsed;
  const count = (name) => (Array.isArray(json[name]) ? json[name].length : 0);
  return {
    id,
    nickname: typeof json.user.nickname === 'string' ? json.user.nickname : '',
    device: typeof json.info.device === 'string' ? json.info.device : '',
    publicKey: toHex(publicKeyOf(privateKey)),
    contacts: count('contacts'),
    groups: count('groups'),
    distributionLists: count('distributionlists'),
    settings: Object.entries(json.settings),
  };
}

const kBase32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// RFC 4648 Base32 without padding (50 bytes give 80 characters).
export function base32(bytes) {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(value << (5 - bits)) & 31];
  return out;
}

// The apps' encrypted ID export: salt (8) || XSalsa20(PBKDF2-HMAC-SHA256(password, salt, 100000),
// zero nonce) XOR (ID || private key || SHA-256(ID || private key)[0..2]), Base32 in groups of 4.
export async function makeIdExport(id, privateKey, password, salt) {
  const idBytes = kUtf8.encode(id);
  const plain = new Uint8Array(8 + 32 + 2);
  plain.set(idBytes, 0);
  plain.set(privateKey, 8);
  const hash = sha256(plain.subarray(0, 40));
  plain.set(hash.subarray(0, 2), 40);
  hash.fill(0);
  const key = await pbkdf2Async(sha256, kUtf8.encode(password), salt, {
    c: kExportIterations,
    dkLen: 32,
  });
  const cipher = new Uint8Array(plain.length);
  nacl.lowlevel.crypto_stream_xor(cipher, 0, plain, 0, plain.length, new Uint8Array(24), key);
  plain.fill(0);
  key.fill(0);
  const out = new Uint8Array(50);
  out.set(salt, 0);
  out.set(cipher, 8);
  const text = base32(out).match(/.{4}/g).join('-');
  out.fill(0);
  return text;
}
