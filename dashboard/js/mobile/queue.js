// Offline action queue (IndexedDB, so photos are kept as Blobs). Actions are sent in the order taken;
// a network failure stops the flush and keeps the rest; an answer from the server (even a refusal)
// removes the action, and a refusal is reported.
import { isNetworkError } from '../shared/api.js';

const DB_NAME = 'sharpeyes';
const STORE = 'outbox';

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'qid', autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(out && 'result' in out ? out.result : undefined); };
    t.onerror = () => { db.close(); reject(t.error); };
  });
}

export const outbox = {
  add: (action) => tx('readwrite', (s) => s.add({ ...action, queuedAt: Date.now() })),
  put: (action) => tx('readwrite', (s) => s.put(action)),
  list: () => tx('readonly', (s) => s.getAll()),
  remove: (qid) => tx('readwrite', (s) => s.delete(qid)),
};

// send(action) performs one action; returns {sent, refused: [{action, error}], left}
let flushing = null;
export function flush(send) {
  if (flushing) return flushing;
  flushing = (async () => {
    const result = { sent: 0, refused: [], left: 0 };
    const items = await outbox.list();
    for (let i = 0; i < items.length; i += 1) {
      const a = items[i];
      try {
        await send(a);
        result.sent += 1;
        await outbox.remove(a.qid);
      } catch (err) {
        if (isNetworkError(err)) { result.left = items.length - i; break; }
        result.refused.push({ action: a, error: err });
        await outbox.remove(a.qid);
      }
    }
    return result;
  })().finally(() => { flushing = null; });
  return flushing;
}
