import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainLines, NoValidHostError, place, placeMany, requestProblem, type ImagesByManager } from '../../src/domain/placement.js';
import type { HostInfo, ImageInfo } from '../../src/domain/hypervisor.js';
import { formatImageProperties, parseImageProperties } from '../../src/virt/image-properties.js';

const host = (name: string, over: Partial<HostInfo> = {}): HostInfo => ({
  id: `id-${name}`, name, manager: 'e1', hypervisorType: 'rhevh', arch: 'x86_64', state: 'up', memoryTotalMiB: 65536, memoryFreeMiB: 32768, cluster: 'Default', ...over,
});
const image = (name: string, manager: string, props: ImageInfo['properties'] = {}): ImageInfo => ({ id: `img-${name}-${manager}`, name, manager, properties: props });

const estate: HostInfo[] = [
  host('h1', { memoryFreeMiB: 8000 }),
  host('h2', { memoryFreeMiB: 30000 }),
  host('k1', { manager: 'kvm1', hypervisorType: 'kvm', memoryFreeMiB: 12000 }),
  host('k2', { manager: 'e1', hypervisorType: 'kvm', memoryFreeMiB: 4000 }),
  host('p1', { manager: 'e1', arch: 'ppc64le', memoryFreeMiB: 100000 }),
  host('m1', { state: 'maintenance', memoryFreeMiB: 100000 }),
];
const images: ImagesByManager = new Map([
  ['e1', [image('Blank', 'e1'), image('rhel7', 'e1', { hypervisorType: 'kvm', architecture: 'x86_64', minMemoryMiB: 1024 })]],
  ['kvm1', [image('rhel7', 'kvm1', { hypervisorType: 'kvm', minMemoryMiB: 1024 })]],
]);

describe('placement filters', () => {
  it('spreads onto the host with most free memory, among up hosts of the right arch', () => {
    const p = place(estate.filter((h) => h.arch === 'x86_64'), { vm: 'vm01', memoryMiB: 2048 }, images);
    assert.equal(p.host.name, 'h2');
    const m1 = p.verdicts.find((v) => v.host === 'm1')!;
    assert.deepEqual([m1.accepted, m1.filter, m1.reason], [false, 'state', 'host is maintenance, not up']);
    assert.equal(p.verdicts.find((v) => v.host === 'h2')!.weight, 30000 - 2048);
  });

  it('an image with hypervisor_type=kvm lands only on kvm hosts, and says why for the others', () => {
    const p = place(estate, { vm: 'vm01', memoryMiB: 2048, template: 'rhel7' }, images);
    assert.equal(p.host.name, 'k1');
    const by = new Map(p.verdicts.map((v) => [v.host, v]));
    assert.equal(by.get('h2')!.filter, 'hypervisor_type');
    assert.equal(by.get('h2')!.reason, 'image wants kvm, host is rhevh');
    assert.equal(by.get('k2')!.accepted, true);
    assert.equal(by.get('k1')!.rank, 1);
    assert.equal(by.get('k2')!.rank, 2);
    assert.equal(by.get('p1')!.filter, 'hypervisor_type', 'the first failing filter is the one reported');
  });

  it("rejects hosts whose manager lacks the template, and applies the image's architecture", () => {
    const hosts = [host('x1', { manager: 'other', hypervisorType: 'kvm' }), host('kp', { manager: 'kvm1', hypervisorType: 'kvm', arch: 'ppc64le' })];
    const imgs: ImagesByManager = new Map([['kvm1', [image('rhel7', 'kvm1', { architecture: 'x86_64' })]], ['other', []]]);
    assert.throws(
      () => place(hosts, { vm: 'vm9', memoryMiB: 512, template: 'rhel7' }, imgs),
      (err: unknown) => {
        assert.ok(err instanceof NoValidHostError);
        assert.deepEqual(err.verdicts.map((v) => v.filter), ['image', 'architecture']);
        assert.match(err.message, /no host can take vm9: x1 \(other\): image — template rhel7 does not exist on other; kp \(kvm1\): architecture — image wants x86_64, host is ppc64le/);
        return true;
      },
    );
  });

  it("needs free memory for the larger of the VM's memory and the image's minimum", () => {
    const hosts = [host('a', { hypervisorType: 'kvm', memoryFreeMiB: 1000 }), host('b', { hypervisorType: 'kvm', memoryFreeMiB: 1024 })];
    const p = place(hosts, { vm: 'v', memoryMiB: 512, template: 'rhel7' }, images);
    assert.equal(p.host.name, 'b');
    const a = p.verdicts.find((v) => v.host === 'a')!;
    assert.equal(a.filter, 'memory');
    assert.equal(a.reason, "1000 MiB free, needs 1024 MiB (the image's minimum)");
    assert.equal(p.verdicts.find((v) => v.host === 'b')!.weight, 0);
  });

  it('honours a cluster, and pack fills the fullest host that still fits', () => {
    const hosts = [host('c1', { cluster: 'gold', memoryFreeMiB: 5000 }), host('c2', { cluster: 'gold', memoryFreeMiB: 3000 }), host('c3', { cluster: 'Default', memoryFreeMiB: 2500 })];
    assert.equal(place(hosts, { vm: 'v', memoryMiB: 2048, cluster: 'gold' }, images, 'pack').host.name, 'c2');
    assert.equal(place(hosts, { vm: 'v', memoryMiB: 2048 }, images, 'pack').host.name, 'c3');
    const spread = place(hosts, { vm: 'v', memoryMiB: 2048, cluster: 'gold' }, images, 'spread');
    assert.equal(spread.host.name, 'c1');
    assert.equal(spread.verdicts.find((v) => v.host === 'c3')!.reason, 'host is in cluster Default, not gold');
  });

  it('breaks ties by host name, so the same estate gives the same plan', () => {
    const hosts = [host('zz'), host('aa'), host('mm')];
    assert.equal(place(hosts, { vm: 'v', memoryMiB: 1 }, images).host.name, 'aa');
  });

  it('no host at all is a clear error', () => {
    assert.throws(() => place([], { vm: 'v', memoryMiB: 1 }, images), /no manager has any host/);
  });
});

describe('placing a range', () => {
  it('each VM sees the memory the earlier ones took: spread alternates, pack fills', () => {
    const hosts = [host('a', { memoryFreeMiB: 4096 }), host('b', { memoryFreeMiB: 4096 })];
    const reqs = ['v1', 'v2', 'v3', 'v4'].map((vm) => ({ vm, memoryMiB: 1024 }));
    assert.deepEqual(placeMany(hosts, reqs, images).map((p) => p.host.name), ['a', 'b', 'a', 'b']);
    assert.deepEqual(placeMany(hosts, reqs, images, 'pack').map((p) => p.host.name), ['a', 'a', 'a', 'a']);
    assert.equal(hosts[0]!.memoryFreeMiB, 4096, 'the caller’s hosts are not changed');
  });

  it('fails the whole plan when one VM fits nowhere', () => {
    const hosts = [host('a', { memoryFreeMiB: 3000 })];
    assert.throws(() => placeMany(hosts, [{ vm: 'v1', memoryMiB: 2048 }, { vm: 'v2', memoryMiB: 2048 }], images), (err: unknown) => err instanceof NoValidHostError && err.vm === 'v2' && /952 MiB free, needs 2048 MiB/.test(err.message));
  });
});

describe('request checks and explain output', () => {
  it('refuses non-positive memory and an arch that contradicts the image', () => {
    assert.match(requestProblem({ vm: 'v', memoryMiB: 0 }, images)!, /positive/);
    assert.match(requestProblem({ vm: 'v', memoryMiB: 1024, template: 'rhel7', architecture: 'ppc64le' }, images)!, /rhel7 is x86_64 on e1, but ppc64le/);
    assert.equal(requestProblem({ vm: 'v', memoryMiB: 1024, template: 'rhel7', architecture: 'x86_64' }, images), undefined);
  });

  it('explain lists the chosen host first and each rejection with its filter', () => {
    const lines = explainLines(place(estate, { vm: 'vm01', memoryMiB: 2048, template: 'rhel7' }, images));
    assert.equal(lines[0], 'vm01:');
    assert.match(lines[1]!, /^ {2}k1 \(kvm1\)\s+CHOSEN\s+weight 9952 MiB free after$/);
    assert.match(lines[2]!, /^ {2}k2 \(e1\)\s+#2\s+weight 1952/);
    assert.ok(lines.some((l) => /h1 \(e1\)\s+rejected {2}hypervisor_type: image wants kvm, host is rhevh/.test(l)));
  });
});

describe('image properties in descriptions', () => {
  it('reads key=value pairs among free text, with aliases', () => {
    assert.deepEqual(parseImageProperties('RHEL 7 golden  hypervisor_type=KVM;architecture=x86_64;min_memory_mib=1024').properties, { hypervisorType: 'kvm', architecture: 'x86_64', minMemoryMiB: 1024 });
    assert.deepEqual(parseImageProperties('arch=ppc64le, min_ram=512').properties, { architecture: 'ppc64le', minMemoryMiB: 512 });
    assert.deepEqual(parseImageProperties(undefined), { properties: {}, problems: [] });
  });

  it('reports unusable values instead of guessing', () => {
    const r = parseImageProperties('min_memory_mib=lots hypervisor_type=kvm');
    assert.deepEqual(r.properties, { hypervisorType: 'kvm' });
    assert.deepEqual(r.problems, ['min_memory_mib=lots is not a whole number of MiB']);
  });

  it('formats what it parses', () => {
    const p = { hypervisorType: 'kvm', architecture: 'x86_64', minMemoryMiB: 2048 };
    assert.deepEqual(parseImageProperties(formatImageProperties(p)).properties, p);
  });
});
