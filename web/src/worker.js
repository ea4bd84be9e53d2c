// The slow work, off the page's thread: scrypt (about 64 MiB and a few seconds) and the ID
// export's PBKDF2. Messages in: {op: 'derive', id, password} | {op: 'export', id, privateKey,
// password}. Out: {op: 'progress', value} ... then {op: 'derived', backupId, key} |
// {op: 'exported', text} | {op: 'failed', message}.

import { deriveSafeKey, makeIdExport } from './safe.js';

self.onmessage = async (event) => {
  const request = event.data;
  try {
    if (request.op === 'derive') {
      let last = -1;
      const { backupId, key } = await deriveSafeKey(request.id, request.password, (value) => {
        const percent = Math.floor(value * 100);
        if (percent !== last) {
          last = percent;
          self.postMessage({ op: 'progress', value });
        }
      });
      self.postMessage({ op: 'derived', backupId, key }, [key.buffer]);
    } else if (request.op === 'export') {
      const salt = crypto.getRandomValues(new Uint8Array(8));
      const text = await makeIdExport(request.id, request.privateKey, request.password, salt);
      request.privateKey.fill(0);
      self.postMessage({ op: 'exported', text });
    }
  } catch (e) {
    self.postMessage({ op: 'failed', message: String(e && e.message ? e.message : e) });
  }
};
