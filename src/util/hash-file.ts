import { Worker } from 'node:worker_threads';

/*
 * sha256 of a file on a worker thread. Hashing runs on the thread that calls update(), and the
 * main thread has its own hash to do during an import; on a 2-core appliance the second hash is
 * free only if it runs elsewhere. The worker is plain JS evaluated from a string so it works the
 * same from src/ (tsx) and dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const fd = openSync(workerData.file, 'r');
try {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  parentPort.postMessage({ sha256: hash.digest('hex'), bytes: pos });
} finally {
  closeSync(fd);
}
`;

export function sha256FileInWorker(file: string): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file } });
    let result: { sha256: string; bytes: number } | undefined;
    worker.once('message', (m: { sha256: string; bytes: number }) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`hash worker for ${file} exited with code ${code}`))));
  });
}
