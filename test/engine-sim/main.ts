// Standalone simulated engine for e2e tests that run it as a separate process:
//   node --import tsx test/engine-sim/main.ts --port 0 --https --version 4 [--step-ms 10] [--host 127.0.0.1]
// Prints one JSON line {url, apiUrl, caPath, caFingerprint256, user, password, pid} and serves until
// SIGTERM/SIGINT. Steer it over HTTP at /__sim/* (faults, host-failures, requests, restart, advance).
import { parseArgs } from 'node:util';
import { DEFAULT_USER, EngineSim } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    http: { type: 'boolean', default: false },
    https: { type: 'boolean', default: false },
    version: { type: 'string', default: '4' },
    minor: { type: 'string' },
    'step-ms': { type: 'string', default: '10' },
    user: { type: 'string', default: DEFAULT_USER.user },
    password: { type: 'string', default: DEFAULT_USER.password },
  },
  strict: true,
});

if (values.version !== '3' && values.version !== '4') throw new Error('--version must be 3 or 4');
const sim = await EngineSim.start({
  version: values.version === '3' ? 3 : 4,
  ...(values.minor !== undefined ? { minor: Number(values.minor) } : {}),
  tls: values.https && !values.http,
  host: values.host,
  port: Number(values.port),
  stepMs: Number(values['step-ms']),
  users: [{ user: values.user, password: values.password }],
});
process.stdout.write(JSON.stringify({
  url: sim.url, apiUrl: sim.apiUrl, caPath: sim.ca?.path ?? null, caFingerprint256: sim.ca?.fingerprint256 ?? null,
  user: values.user, password: values.password, pid: process.pid,
}) + '\n');

const shutdown = (): void => void sim.close().then(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
