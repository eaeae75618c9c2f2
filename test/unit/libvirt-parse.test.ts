/**
 * The libvirt driver's readers and XML editing, on output shapes of a real qemu host that the
 * test driver (test/integration/libvirt-driver.test.ts) never prints: lease tables, a second
 * address on a NIC, nodememstats, KVM capabilities.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDomain, cloneIdentity, readDomain, setTemplate } from '../../src/virt/libvirt-domain.js';
import { parseCapabilities, parseIfAddr, parseLeases, parseList, parseMemStats, parseNodeinfo } from '../../src/virt/libvirt-parse.js';
import { parseLibvirtXml } from '../../src/virt/libvirt-xml.js';
import { toXml } from '../../src/xml/tree.js';

describe('virsh output readers', () => {
  it('reads domifaddr with a second address on one NIC', () => {
    const out = ' vnet0      52:54:00:6B:3A:2E    ipv4         192.168.122.84/24\n -          -                    ipv6         fe80::5054:ff:fe6b:3a2e/64\n vnet1      52:54:00:00:00:02    ipv4         10.1.0.7/16\n';
    assert.deepEqual(parseIfAddr(out), [
      { mac: '52:54:00:6b:3a:2e', address: '192.168.122.84' },
      { mac: '52:54:00:6b:3a:2e', address: 'fe80::5054:ff:fe6b:3a2e' },
      { mac: '52:54:00:00:00:02', address: '10.1.0.7' },
    ]);
  });

  it('reads net-dhcp-leases', () => {
    const out = ' 2024-05-01 12:00:00   52:54:00:6b:3a:2e   ipv4       192.168.122.84/24   vm01       01:52:54:00:6b:3a:2e\n 2024-05-01 12:01:00   52:54:00:00:00:09   ipv6       fd00::9/64          -          -\n';
    assert.deepEqual(parseLeases(out), [
      { mac: '52:54:00:6b:3a:2e', address: '192.168.122.84' },
      { mac: '52:54:00:00:00:09', address: 'fd00::9' },
    ]);
  });

  it('reads nodememstats as free + buffers + cache, and says nothing when it has nothing', () => {
    assert.equal(parseMemStats('total  :             16303240 KiB\nfree   :              9021404 KiB\nbuffers:               223624 KiB\ncached :              4261312 KiB\n'), Math.floor(9021404 / 1024) + Math.floor(223624 / 1024) + Math.floor(4261312 / 1024));
    assert.equal(parseMemStats(''), undefined);
  });

  it('reads nodeinfo and a listing with reasons-less states', () => {
    const n = parseNodeinfo('CPU model:           x86_64\nCPU(s):              8\nCPU frequency:       2400 MHz\nCPU socket(s):       1\nCore(s) per socket:  4\nThread(s) per core:  2\nNUMA cell(s):        1\nMemory size:         16303240 KiB\n');
    assert.deepEqual(n, { cpuModel: 'x86_64', cpus: 8, sockets: 1, coresPerSocket: 4, threadsPerCore: 2, numaCells: 1, memoryMiB: 15921, mhz: 2400 });
    assert.deepEqual([...parseList(' 3    web01   running\n -    db01    shut off\n -    old     saved\n')], [['web01', 'running'], ['db01', 'shut off'], ['old', 'saved']]);
  });

  it('reads KVM capabilities: host arch and the domain types for it', () => {
    const caps = `<capabilities><host><uuid>0f1e2d3c-0000-0000-0000-000000000001</uuid><cpu><arch>x86_64</arch></cpu></host>
      <guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest>
      <guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>`;
    assert.deepEqual(parseCapabilities(caps), { hostUuid: '0f1e2d3c-0000-0000-0000-000000000001', arch: 'x86_64', domainTypes: ['qemu', 'kvm'] });
    assert.throws(() => parseCapabilities('<!DOCTYPE x [<!ENTITY a "b">]><capabilities/>'), /DTD/);
    assert.throws(() => parseCapabilities('<capabilities>'), /unreadable/);
  });
});

describe('domain XML', () => {
  const host = { domainType: 'kvm', arch: 'x86_64' };

  it('escapes what it writes and reads it back the same', () => {
    const dom = buildDomain({ name: 'vm01', memoryMiB: 1024, osType: `a"<b>&'c` }, host, [], []);
    const xml = toXml(dom, { pretty: true });
    assert.ok(xml.includes('osType="a&quot;&lt;b&gt;&amp;&apos;c"'), xml);
    assert.equal(readDomain(parseLibvirtXml(xml, 'test')).osType, `a"<b>&'c`);
    assert.match(xml, /<features>\s*<acpi\/>/, 'ACPI, or `virsh shutdown` does nothing on KVM');
  });

  it('keeps one rhevboot metadata element holding the template mark, and clones drop it', () => {
    const dom = parseLibvirtXml(toXml(buildDomain({ name: 'tpl', memoryMiB: 512, osType: 'rhel_7x64', nics: [] }, host, [], []), { pretty: true }), 'test');
    setTemplate(dom, { hypervisorType: 'kvm', architecture: 'x86_64', minMemoryMiB: 256 });
    const xml = toXml(dom, { pretty: true });
    assert.equal(xml.match(/xmlns:rb=/g)?.length, 1, 'libvirt keeps one metadata element per namespace');
    const back = readDomain(parseLibvirtXml(xml, 'test'));
    assert.deepEqual(back.template, { hypervisorType: 'kvm', architecture: 'x86_64', minMemoryMiB: 256 });
    assert.equal(back.osType, 'rhel_7x64');
    const clone = readDomain(cloneIdentity(parseLibvirtXml(xml, 'test'), 'vm02', new Set()));
    assert.equal(clone.template, undefined);
    assert.equal(clone.name, 'vm02');
    assert.equal(clone.osType, 'rhel_7x64');
  });

  it('gives a clone fresh MACs and no UUID, port or NIC target', () => {
    const src = parseLibvirtXml(`<domain type='kvm'><name>a</name><uuid>11111111-2222-3333-4444-555555555555</uuid><devices>
      <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/><target dev='vnet3'/></interface>
      <graphics type='vnc' port='5901' autoport='yes'/></devices></domain>`, 'test');
    const taken = new Set(['52:54:00:00:00:01']);
    const xml = toXml(cloneIdentity(src, 'b', taken), { pretty: true });
    assert.doesNotMatch(xml, /<uuid>|vnet3|port="5901"|52:54:00:00:00:01/);
    assert.match(xml, /<mac address="52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}"\/>/);
    assert.equal(taken.size, 2);
  });
});
