/**
 * The rogue-DHCP probe of `rhevboot doctor` on a real segment: two network namespaces on one
 * bridge, the appliance's side (rbd0, 10.231.9.10/24) and another host running dnsmasq as a DHCP
 * server (10.231.9.1). doctor runs as root inside the appliance's namespace, so its DISCOVER never
 * leaves the lab. With dhcp.mode full, dnsmasq's OFFER is a failure naming it; once dnsmasq is
 * stopped the segment is clean.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckResult } from '../../src/diagnostics/doctor.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const ROGUE = '10.231.9.1';
const US = '10.231.9.10';

describe('doctor: rogue-DHCP probe in a namespace lab', { timeout: 120_000 }, () => {
  const lab = new Lab('rg');
  let appNs = '';
  let work = '';
  let dnsmasq: ReturnType<Lab['spawn']> | undefined;

  before(async () => {
    requireTools([
      { bin: 'ip', pkg: 'iproute2' },
      { bin: 'dnsmasq', pkg: 'dnsmasq-base' },
    ]);
    work = await tempDir('rbd-rogue-');
    lab.segment();
    appNs = lab.addNs('a');
    const rogueNs = lab.addNs('r');
    lab.attach(appNs, 'rbd0', { addrs: [`${US}/24`] });
    lab.attach(rogueNs, 'rbd0', { addrs: [`${ROGUE}/24`] });
    const log = path.join(work, 'dnsmasq.log');
    dnsmasq = lab.spawn(rogueNs, [
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0',
      '--interface=rbd0', '--bind-interfaces', '--dhcp-range=10.231.9.100,10.231.9.150,255.255.255.0,10m', '--no-ping',
      `--dhcp-leasefile=${path.join(work, 'dnsmasq.leases')}`, `--pid-file=${path.join(work, 'dnsmasq.pid')}`,
      '--user=root', '--group=root', '--log-dhcp', `--log-facility=${log}`,
    ]);
    await waitFor(() => existsSync(log) && /DHCP, IP range/.test(readFileSync(log, 'utf8')), {
      what: () => `dnsmasq to start: ${existsSync(log) ? readFileSync(log, 'utf8') : 'no log'}`,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  });
  after(() => lab.destroy());

  async function rogueCheck(): Promise<CheckResult> {
    const env = {
      ...process.env,
      RHEVBOOT_CONFIG: '',
      RHEVBOOT_STATE_DIR: path.join(work, 'state'),
      RHEVBOOT_LOG_FILE: 'false',
      RHEVBOOT_DHCP_MODE: 'full',
      RHEVBOOT_DHCP_INTERFACE: 'rbd0',
      RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.231.9.0/24', pools: ['10.231.9.200-10.231.9.250'] }]),
      // Nothing else runs in this namespace: the port checks fail at once.
      RHEVBOOT_HTTP_PORT: '1',
      RHEVBOOT_TFTP_ENABLED: 'false',
    };
    const r = await lab.run(appNs, [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'doctor', '--json'], 60_000, env);
    assert.equal(r.code, 1, r.stderr);
    const check = (JSON.parse(r.stdout) as { checks: CheckResult[] }).checks.find((c) => c.id === 'rogue-dhcp');
    assert.ok(check, r.stdout);
    return check;
  }

  it("reports dnsmasq's OFFER as another DHCP server, with what to do", async () => {
    const check = await rogueCheck();
    assert.equal(check.status, 'fail', check.message);
    assert.match(check.message, new RegExp(`another DHCP server answers on rbd0 \\(DISCOVER to 10\\.231\\.9\\.255\\): ${ROGUE.replace(/\./g, '\\.')} \\(offered 10\\.231\\.9\\.1\\d\\d\\)`));
    assert.match(check.fix!, /disable DHCP there/);
    assert.match(readFileSync(path.join(work, 'dnsmasq.log'), 'utf8'), /DHCPOFFER\(rbd0\) 10\.231\.9\.1\d\d [0-9a-f]{2}(:[0-9a-f]{2}){5}/);
  });

  it('finds the segment clean once dnsmasq is gone', async () => {
    process.kill(dnsmasq!.pid!, 'SIGTERM');
    await new Promise((r) => dnsmasq!.once('exit', r));
    const check = await rogueCheck();
    assert.equal(check.status, 'ok', check.message);
    assert.match(check.message, /no other DHCP server answers on rbd0/);
  });
});
