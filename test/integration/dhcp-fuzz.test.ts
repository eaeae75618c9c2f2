/** 100,000 random and mutated packets at a running server: it must keep answering, never crash. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { NODE_TSX } from '../helpers/dhcp-lab.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';

describe('dhcp fuzz', { timeout: 120_000 }, () => {
  const lab = new Lab('f');
  after(async () => {
    await lab.destroy();
  });

  it('survives 100,000 hostile packets and answers well-formed ones before and after', async () => {
    requireTools([{ bin: 'ip', pkg: 'iproute2' }]);
    const ns = lab.addNs('f');
    lab.in(ns, ['ip', 'addr', 'add', '127.0.0.2/8', 'dev', 'lo']);
    lab.in(ns, ['ip', 'addr', 'add', '127.0.0.3/8', 'dev', 'lo']);
    const r = await lab.run(ns, [...NODE_TSX, path.join(import.meta.dirname, '..', 'helpers', 'dhcp-fuzz-main.ts')], 100_000);
    assert.equal(r.code, 0, `fuzz process died (code ${r.code}): ${r.stderr.slice(-3000)}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { before: boolean; after: boolean; sent: number; ms: number; stats: Record<string, number> };
    assert.equal(out.before, true, 'answered before');
    assert.equal(out.after, true, 'answered after');
    assert.ok(out.sent >= 100_000, `sent ${out.sent}`);
    const s = out.stats;
    assert.ok((s.received ?? 0) >= 80_000, `the server saw most of them: ${JSON.stringify(s)}`);
    assert.ok((s.malformed ?? 0) >= 20_000, `malformed ones were counted: ${JSON.stringify(s)}`);
    assert.ok((s['outcome.offer'] ?? 0) > 0);
    assert.equal(s.internalErrors ?? 0, 0, JSON.stringify(s));
  });
});
