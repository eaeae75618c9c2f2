import { Worker } from 'node:worker_threads';

/*
 * sha256 of a file on a worker thread. Hashing runs on the thread that calls update(), and the
 * main thread has its own hash to do during an import; on a 2-core appliance the second hash is
 * free only if it runs elsewhere. The worker is plain JS evaluated from a string so it works the
 * same from src/ (tsx) and dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync, fstatSync } = require('node:fs');
const { createHash } = require('node:crypto');
const fd = openSync(workerData.file, 'r');
try {
  const total = fstatSync(fd).size;
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0;
  let lastReport = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
    if (workerData.progress && Date.now() - lastReport > 200) {
      lastReport = Date.now();
      parentPort.postMessage({ done: pos, total });
    }
  }
  parentPort.postMessage({ sha256: hash.digest('hex'), bytes: pos });
} finally {
  closeSync(fd);
}
`;

export interface HashResult {
  sha256: string;
  bytes: number;
}

export function sha256FileInWorker(file: string, onProgress?: (done: number, total: number) => void): Promise<HashResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, progress: Boolean(onProgress) } });
    let result: HashResult | undefined;
    worker.on('message', (m: HashResult | { done: number; total: number }) => {
      if ('sha256' in m) result = m;
      else onProgress?.(m.done, m.total);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`hash worker for ${file} exited with code ${code}`))));
  });
}
