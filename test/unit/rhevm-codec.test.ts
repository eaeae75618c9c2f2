import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAction, parseApiRoot, parseEntity, parseFault, parseList, parseSsoError, parseSsoToken } from '../../src/rhevm/codec.js';
import {
  actionBody,
  clusterBody,
  clusterNetworkBody,
  dataCenterBody,
  diskBody,
  hostBody,
  hostNicUpdateBody,
  networkBody,
  refNode,
  storageDomainBody,
  storageDomainRemoveBodyV3,
  templateBody,
  vmBody,
  vmNicBody,
} from '../../src/rhevm/encode.js';
import { canonical, parseEngineXml } from '../../src/rhevm/xml.js';
import { textEl, toXml, type XEl } from '../../src/xml/tree.js';
import { collectionUrl, searchQuery, searchStatus } from '../../src/rhevm/search.js';

const EX = fileURLToPath(new URL('../fixtures/ovirt-examples', import.meta.url));
const ex = (f: string) => readFileSync(path.join(EX, f), 'utf8');

function ok<T>(r: { ok: true; value: T } | { ok: false; reason: string }): T {
  assert.equal(r.ok, true, r.ok ? '' : r.reason);
  return (r as { ok: true; value: T }).value;
}

/** Compare a built body with an example file, order-insensitively (the engine is, §10). */
function sameDoc(built: XEl, exampleXml: string): void {
  const want = ok(parseEngineXml(exampleXml));
  const got = ok(parseEngineXml(toXml(built)));
  assert.equal(canonical(got), canonical(want));
}

/** XML bodies in an HTTP transcript (the 3.0 guide's .txt examples). */
function bodiesOf(txt: string): string[] {
  return txt
    .split(/\n\s*\n/)
    .map((b) => b.trim())
    .filter((b) => b.startsWith('<'));
}

describe('rhevm codec: response examples (v4 XML)', () => {
  it('api root: v4 by elements, product version, blank template', () => {
    const r = ok(parseApiRoot(ex('v4-api-root.xml')));
    assert.equal(r.dialect, 4);
    assert.deepEqual(r.version, { major: 4, minor: 0, build: 4, revision: 0, fullVersion: '4.0.4' });
    assert.equal(r.productName, 'oVirt Engine');
    assert.equal(r.blankTemplateId, '00000000-0000-0000-0000-000000000000');
    assert.equal(r.links['vms/search'], '/api/vms?search={query}');
  });

  it('data centers (list and entity)', () => {
    const l = ok(parseList('data_center', ex('v4-datacenters-list.xml')));
    assert.equal(l.length, 1);
    assert.equal(l[0]!.id, '001');
    assert.equal(l[0]!.status, 'up');
    assert.equal(l[0]!.local, false);
    assert.deepEqual(l[0]!.version, { major: 4, minor: 0 });
    assert.deepEqual(l[0]!.supportedVersions, [{ major: 4, minor: 0 }]);
    const d = ok(parseEntity('data_center', ex('v4-datacenter.xml')));
    assert.equal(d.name, 'Default');
    assert.equal(d.storageFormat, 'v3');
    assert.equal(d.quotaMode, 'disabled');
    assert.equal(d.links['storagedomains'], '/ovirt-engine/api/datacenters/123/storagedomains');
  });

  it('clusters', () => {
    const [c] = ok(parseList('cluster', ex('v4-clusters-list.xml')));
    assert.equal(c!.cpuType, 'Intel Nehalem Family');
    assert.equal(c!.cpuArchitecture, 'x86_64');
    assert.deepEqual(c!.dataCenter, { id: '001', href: '/ovirt-engine/api/datacenters/001' });
    assert.deepEqual(c!.version, { major: 4, minor: 0 });
  });

  it('hosts', () => {
    const [h] = ok(parseList('host', ex('v4-hosts-list.xml')));
    assert.equal(h!.id, '004');
    assert.equal(h!.name, 'myhost');
    assert.equal(h!.address, 'node40.example.com');
    assert.equal(h!.status, 'up');
    assert.equal(h!.port, 54321);
    assert.equal(h!.memory, 8371830784);
    assert.deepEqual(h!.cpu, { name: 'Intel Core Processor (Haswell, no TSX)', speed: 3600, topology: { sockets: 2, cores: 1, threads: 1 } });
    assert.deepEqual(h!.os, { type: 'RHEL', version: '7 - 2.1511.el7.centos.2.10' });
    assert.equal(h!.cluster?.id, '002');
  });

  it('networks (list, entity) and the same network in JSON', () => {
    const [n] = ok(parseList('network', ex('v4-networks-list.xml')));
    assert.equal(n!.name, 'ovirtmgmt');
    assert.deepEqual(n!.usages, ['vm']);
    assert.equal(n!.stp, false);
    assert.equal(n!.mtu, 0);
    const x = ok(parseEntity('network', ex('v4-network.xml')));
    const [j] = ok(parseList('network', ex('v4-network.json')));
    assert.deepEqual(j, x, 'JSON and XML of one network decode alike');
  });

  it('storage domains', () => {
    const s = ok(parseEntity('storage_domain', ex('v4-storagedomain.xml')));
    assert.equal(s.master, true);
    assert.equal(s.available, 38654705664);
    assert.deepEqual(s.storage, { type: 'nfs', address: 'mynfs.example.com', path: '/exports/mydata', nfsVersion: 'v3', logicalUnits: [] });
    assert.deepEqual(s.dataCenters, [{ id: '456', href: '/ovirt-engine/api/datacenters/456' }]);
    const a = ok(parseEntity('storage_domain', ex('v4-storagedomain-add-nfs-response.xml')));
    assert.equal(a.status, 'unattached');
    assert.equal(a.type, 'data');
  });

  it('vm add response', () => {
    const v = ok(parseEntity('vm', ex('v4-vm-add-response.xml')));
    assert.equal(v.status, 'down');
    assert.equal(v.memory, 1073741824);
    assert.deepEqual(v.os, { type: 'other', boot: ['hd'] });
    assert.deepEqual(v.cpu, { architecture: 'x86_64', topology: { sockets: 1, cores: 1, threads: 1 } });
    assert.equal(v.template?.id, '000');
    assert.equal(v.originalTemplate?.id, '00');
    assert.equal(v.links['nics'], '/ovirt-engine/api/vms/007/nics');
  });

  it('jobs', () => {
    const j = ok(parseEntity('job', ex('v4-job.xml')));
    assert.equal(j.status, 'failed');
    assert.equal(j.description, 'Adding Disk');
    assert.equal(j.external, false);
    assert.equal(j.autoCleared, true);
    assert.deepEqual(j.actions, ['clear', 'end']);
    assert.equal(j.owner?.id, '456');
    const l = ok(parseList('job', ex('v4-jobs-list.xml')));
    assert.deepEqual(l, [j]);
  });

  it('cluster in JSON (booleans as strings, nested lists)', () => {
    const [c] = ok(parseList('cluster', ex('v4-cluster.json')));
    assert.equal(c!.id, '234');
    assert.equal(c!.cpuType, 'Intel SandyBridge Family');
    assert.deepEqual(c!.version, { major: 4, minor: 1 });
    assert.equal(c!.dataCenter?.id, '123');
    assert.deepEqual(c!.actions, ['resetemulatedmachine']);
    assert.equal(c!.links['networks'], '/ovirt-engine/api/clusters/234/networks');
  });

  it('every .xml/.json example parses (none is silently unreadable)', () => {
    for (const f of readdirSync(EX).filter((n) => /\.(xml|json)$/.test(n))) {
      const body = ex(f);
      if (f.endsWith('.json')) {
        assert.doesNotThrow(() => JSON.parse(body.replace(/,\s*\.\.\.\s*/g, '')), f);
        continue;
      }
      assert.equal(parseEngineXml(body).ok, true, f);
    }
  });
});

describe('rhevm codec: v3 documents (3.0 guide, §4.2, §4.3)', () => {
  it('host: prose status UP is read as up, version/topology attributes, rhev-h, storage_manager', () => {
    const h = ok(parseEntity('host', ex('v3-3.0doc-host.xml')));
    assert.equal(h.status, 'up');
    assert.equal(h.type, 'rhev-h');
    assert.equal(h.spm, 'spm');
    assert.deepEqual(h.cpu?.topology, { cores: 2 });
    assert.equal(h.powerManagement?.enabled, false);
    assert.ok(h.actions.includes('approve'));
    assert.equal(h.actions.length, 8);
  });

  it('vm: os type attribute, repeated boot dev, guest ip', () => {
    const v = ok(parseEntity('vm', ex('v3-3.0doc-vm.xml')));
    assert.deepEqual(v.os, { type: 'RHEL5', boot: ['hd'] });
    assert.deepEqual(v.cpu?.topology, { cores: 1, sockets: 1 });
    assert.deepEqual(v.guestIps, ['192.168.0.25']);
    assert.equal(v.highAvailability, true);
    assert.deepEqual(v.placementPolicy, { affinity: 'migratable', hosts: [{ id: '2ab5e1da-b726-4274-bbf7-0a42b16a0fc3' }] });
    assert.equal(v.display?.port, 5910);
  });

  it('v3 status structure <status><state>', () => {
    const h = ok(parseEntity('host', '<host id="h1"><status><state>pending_approval</state><detail>x</detail></status></host>'));
    assert.equal(h.status, 'pending_approval');
    assert.equal(h.statusDetail, 'x');
    const a = ok(parseAction('<action><status><state>complete</state></status></action>'));
    assert.equal(a.status, 'complete');
    const c = ok(parseEntity('vm', '<vm id="v"><creation_status><state>pending</state></creation_status></vm>'));
    assert.equal(c.creationStatus, 'pending');
  });

  it('end-to-end transcript: 3.0 root (system_version), DCs, clusters (cpu id), networks, hosts', () => {
    const bodies = bodiesOf(ex('v3-3.0doc-end-to-end-example.txt'));
    const root = ok(parseApiRoot(bodies[0]!));
    assert.equal(root.dialect, 3);
    assert.deepEqual(root.version, { major: 3, minor: 0, build: 0, revision: 0 });
    assert.equal(root.blankTemplateId, '00000000-0000-0000-0000-000000000000');
    const [dc] = ok(parseList('data_center', bodies[1]!));
    assert.equal(dc!.storageType, 'nfs');
    assert.deepEqual(dc!.version, { major: 3, minor: 0 });
    assert.equal(dc!.links['storagedomains'], '/restapi-definition/datacenters/01a45ff0-915a-11e0-8b87-5254004ac988/storagedomains');
    const [cl] = ok(parseList('cluster', bodies[2]!));
    assert.equal(cl!.cpuType, 'Intel Penryn Family');
    const [nw] = ok(parseList('network', bodies[3]!));
    assert.equal(nw!.name, 'rhevm');
    assert.equal(nw!.status, 'operational');
    const [h] = ok(parseList('host', bodies[4]!));
    assert.equal(h!.status, 'non_operational');
    assert.equal(h!.address, '10.64.14.110');
  });

  it('v3 storage domain with bare logical_unit; v3 host nic with network and ip attributes', () => {
    const s = ok(parseEntity('storage_domain', '<storage_domain id="s"><storage><type>iscsi</type><logical_unit id="L1"><address>san</address><port>3260</port></logical_unit></storage></storage_domain>'));
    assert.deepEqual(s.storage?.logicalUnits, [{ id: 'L1', address: 'san', port: 3260 }]);
    const n = ok(parseEntity('host_nic', '<host_nic id="n"><name>eth0</name><mac address="00:1a:4a:00:00:01"/><ip address="10.0.0.5" netmask="255.255.255.0"/><network id="net"/><boot_protocol>dhcp</boot_protocol></host_nic>'));
    assert.equal(n.mac, '00:1a:4a:00:00:01');
    assert.deepEqual(n.ip, { address: '10.0.0.5', netmask: '255.255.255.0' });
    assert.equal(n.network?.id, 'net');
  });
});

describe('rhevm codec: faults and action results (§5.2–§5.4)', () => {
  it('bare fault', () => {
    assert.deepEqual(parseFault(ex('v4-fault.xml')), { reason: 'Incomplete parameters', detail: 'Vm [name] required for add' });
  });
  it('fault inside action', () => {
    assert.deepEqual(parseFault(ex('v4-action-fault-in-action.xml')), { reason: 'myreason', detail: 'mydetail' });
    const a = ok(parseAction(ex('v4-action-fault-in-action.xml')));
    assert.deepEqual(a.fault, { reason: 'myreason', detail: 'mydetail' });
  });
  it('409 from the 3.0 guide, Java list brackets stripped, JSON fault', () => {
    const body = bodiesOf(ex('v3-3.0doc-fault-409.txt')).find((b) => b.startsWith('<fault'))!;
    assert.deepEqual(parseFault(body), { reason: 'Broken immutability constraint', detail: 'Attempt to set immutable field: id' });
    assert.deepEqual(parseFault('<action><fault><reason>Operation Failed</reason><detail>[Cannot run VM. VM is running.]</detail></fault><status>failed</status></action>'), {
      reason: 'Operation Failed',
      detail: 'Cannot run VM. VM is running.',
    });
    assert.deepEqual(parseFault('{"reason":"Operation Failed","detail":"[a, b]"}'), { reason: 'Operation Failed', detail: 'a, b' });
  });
  it('no fault in empty, HTML or non-fault bodies', () => {
    assert.equal(parseFault(''), undefined);
    assert.equal(parseFault('<html><body>Bad gateway</body></html>'), undefined);
    assert.equal(parseFault('<vm id="1"/>'), undefined);
  });
  it('action result: status, job, async href, ticket, fence power status', () => {
    const a = ok(parseAction('<action><status>complete</status><job href="/ovirt-engine/api/jobs/456" id="456"/></action>'));
    assert.deepEqual(a, { status: 'complete', job: { id: '456', href: '/ovirt-engine/api/jobs/456' }, links: {} });
    const p = ok(parseAction('<action id="t1" href="/ovirt-engine/api/vms/1/clone/t1"><async>true</async><status>pending</status><link rel="parent" href="/ovirt-engine/api/vms/1"/></action>'));
    assert.equal(p.href, '/ovirt-engine/api/vms/1/clone/t1');
    assert.equal(p.async, true);
    assert.equal(p.links['parent'], '/ovirt-engine/api/vms/1');
    const t = ok(parseAction('<action><ticket><value>otp</value><expiry>7200</expiry></ticket><status>complete</status></action>'));
    assert.deepEqual(t.ticket, { value: 'otp', expiry: 7200 });
    const f = ok(parseAction('<action><power_management><status>on</status></power_management><status>complete</status></action>'));
    assert.equal(f.powerStatus, 'on');
  });
  it('SSO replies, both error shapes (§2.3)', () => {
    assert.deepEqual(ok(parseSsoToken('{"access_token":"abc","exp":"1700000000000","token_type":"bearer"}')), { accessToken: 'abc', expiresAt: 1700000000000, tokenType: 'bearer' });
    assert.equal(parseSsoToken(ex('sso-token-response.json')).ok, false, 'the doc sample is not valid JSON ("...")');
    assert.equal(parseSsoError(ex('sso-token-error-oauth.json'))?.code, 'access_denied');
    assert.match(parseSsoError(ex('sso-token-error-restapi-scope.json'))!.message, /incorrect/);
    assert.match(parseSsoError(ex('sso-token-error-oauth.json'))!.message, /incorrect/);
  });
});

describe('rhevm codec: request bodies equal the examples (v4)', () => {
  it('host add', () => sameDoc(hostBody(4, { name: 'myhost', address: 'myhost.example.com', rootPassword: 'myrootpassword' }), ex('v4-host-add-request.xml')));
  it('data center add', () => sameDoc(dataCenterBody(4, { name: 'mydc', local: false }), ex('v4-datacenter-add-request.xml')));
  it('cluster add', () => sameDoc(clusterBody(4, { name: 'mycluster', cpuType: 'Intel Nehalem Family', dataCenter: { id: '123' } }), ex('v4-cluster-add-request.xml')));
  it('network add', () => sameDoc(networkBody(4, { name: 'mynetwork', dataCenter: { id: '123' } }), ex('v4-network-add-request.xml')));
  it('cluster network add', () => sameDoc(clusterNetworkBody(4, { network: { id: '123' } }), ex('v4-cluster-network-add-request.xml')));
  it('attach storage domain', () => sameDoc(refNode('storage_domain', { name: 'mydata' }), ex('v4-attach-storagedomain-request.xml')));
  it('nfs storage domain add', () =>
    sameDoc(
      storageDomainBody(4, { name: 'mydata', type: 'data', description: 'My data', storage: { type: 'nfs', address: 'mynfs.example.com', path: '/exports/mydata' }, host: { name: 'myhost' } }),
      ex('v4-storagedomain-add-nfs-request.xml'),
    ));
  it('iscsi storage domain add', () =>
    sameDoc(
      storageDomainBody(4, {
        name: 'myiscsi',
        type: 'data',
        storage: { type: 'iscsi', logicalUnits: [{ id: '3600144f09dbd050000004eedbd340001' }, { id: '3600144f09dbd050000004eedbd340002' }] },
        host: { name: 'myhost' },
      }),
      ex('v4-storagedomain-add-iscsi-request.xml'),
    ));
  it('template add', () => sameDoc(templateBody(4, { name: 'mytemplate', vm: { id: '123' } }), ex('v4-template-add-request.xml')));
  it('vm add', () =>
    sameDoc(
      vmBody(4, { name: 'myvm', description: 'My VM', cluster: { name: 'Default' }, template: { name: 'Blank' }, memory: 536870912, os: { boot: ['hd'] } }),
      ex('v4-vm-add-request.xml'),
    ));
  it('vm nic add', () => {
    const b = vmNicBody(4, { name: 'mynic' });
    b.children.push(textEl('description', 'My network interface card'));
    sameDoc(b, ex('v4-vm-nic-add-request.xml'));
  });
  it('vm disk attachment add', () =>
    sameDoc(
      diskBody(4, { name: 'mydisk', description: 'My disk', format: 'cow', size: 8589934592, interface: 'virtio', bootable: false, storageDomain: { name: 'mydata' } }),
      ex('v4-vm-diskattachment-add-request.xml'),
    ));
  it('actions: start run-once, migrate, ticket, fence, setupnetworks', () => {
    sameDoc(actionBody(4, { vm: { bootDevices: ['cdrom'] } }), ex('v4-vm-start-action-request.xml'));
    sameDoc(actionBody(4, { host: { id: '2ab5e1da-b726-4274-bbf7-0a42b16a0fc3' } }), ex('v4-vm-migrate-action-request.xml'));
    sameDoc(actionBody(4, { ticket: { value: 'abcd12345', expiry: 120 } }), ex('v4-vm-ticket-action-request.xml'));
    sameDoc(actionBody(4, { fenceType: 'start' }), ex('v4-host-fence-action-request.xml'));
    sameDoc(
      actionBody(4, {
        setupNetworks: {
          modifiedBonds: [{ name: 'bond0', options: { mode: '4', miimon: '100' }, slaves: [{ name: 'eth1' }, { name: 'eth2' }] }],
          modifiedNetworkAttachments: [
            {
              network: { name: 'myvlan' },
              hostNic: { name: 'bond0' },
              bootProtocol: 'static',
              ip: { address: '192.168.122.10', netmask: '255.255.255.0' },
              nameServers: ['1.1.1.1', '2.2.2.2'],
            },
          ],
        },
      }),
      ex('v4-host-setupnetworks-action-request.xml'),
    );
  });
  it('the comparison can fail: a wrong value is noticed', () => {
    assert.throws(() => sameDoc(hostBody(4, { name: 'myhost', address: 'other.example.com', rootPassword: 'myrootpassword' }), ex('v4-host-add-request.xml')));
  });
});

describe('rhevm codec: request bodies (v3 dialect, §4.2 and the 3.0 guide)', () => {
  it('approve, install, nic attach, commitnetconfig match the 3.0 transcripts', () => {
    const fix = (s: string) => s.replace(/<action>\s*$/, '</action>');
    const approve = bodiesOf(ex('v3-3.0doc-host-approve-action.txt'))[0]!;
    sameDoc(actionBody(3, { cluster: { id: '99408929-82cf-4dc7-a532-9d998063fa95' } }), fix(approve));
    const [install] = bodiesOf(ex('v3-3.0doc-host-install-action.txt'));
    sameDoc(actionBody(3, { rootPassword: 'p@55w0Rd!' }), install!);
    const [attach, commit] = bodiesOf(ex('v3-3.0doc-host-nic-attach-and-commitnetconfig.txt'));
    sameDoc(actionBody(3, { network: { id: 'e657d631-657d-42bb-a536-73501a085d85' } }), attach!);
    sameDoc(actionBody(3), commit!);
  });
  it('versions, cpu, topology, os/boot, mac, ip and options as attributes', () => {
    assert.equal(toXml(dataCenterBody(3, { name: 'DC', storageType: 'nfs', version: { major: 3, minor: 0 } })), '<data_center><name>DC</name><storage_type>nfs</storage_type><version major="3" minor="0"/></data_center>');
    assert.equal(toXml(clusterBody(3, { name: 'CL', dataCenter: { id: 'D' }, cpuType: 'Intel Penryn Family' })), '<cluster><name>CL</name><cpu id="Intel Penryn Family"/><data_center id="D"/></cluster>');
    assert.equal(
      toXml(vmBody(3, { name: 'n', cluster: { name: 'Default' }, template: { name: 'Blank' }, cpu: { sockets: 2, cores: 1 }, os: { type: 'rhel_6x64', boot: ['network', 'hd'] }, placement: { hosts: [{ id: 'H' }], affinity: 'migratable' }, cloneDisks: true })),
      '<vm><name>n</name><cluster><name>Default</name></cluster><template><name>Blank</name></template><cpu><topology sockets="2" cores="1"/></cpu><os type="rhel_6x64"><boot dev="network"/><boot dev="hd"/></os><placement_policy><affinity>migratable</affinity><host id="H"/></placement_policy><disks><clone>true</clone></disks></vm>',
    );
    assert.equal(toXml(vmNicBody(3, { name: 'eth0', interface: 'virtio', network: { name: 'rhevm' }, mac: 'aa:bb:cc:dd:ee:ff' })), '<nic><name>eth0</name><interface>virtio</interface><network><name>rhevm</name></network><mac address="aa:bb:cc:dd:ee:ff"/></nic>');
    assert.equal(toXml(hostNicUpdateBody(3, { bootProtocol: 'static', ip: { address: '1.2.3.4', netmask: '255.0.0.0', gateway: '1.1.1.1' } })), '<host_nic><boot_protocol>static</boot_protocol><ip address="1.2.3.4" netmask="255.0.0.0" gateway="1.1.1.1"/></host_nic>');
    assert.equal(
      toXml(hostBody(3, { name: 'h', address: 'a', powerManagement: { enabled: true, type: 'ipmilan', address: 'bmc', username: 'U', password: 'P' } })),
      '<host><name>h</name><address>a</address><power_management type="ipmilan"><enabled>true</enabled><address>bmc</address><username>U</username><password>P</password></power_management></host>',
    );
    assert.equal(toXml(storageDomainRemoveBodyV3({ id: 'SPM' }, true)), '<storage_domain><host id="SPM"/><format>true</format></storage_domain>');
    assert.equal(toXml(actionBody(3, { status: 'finished', force: true })), '<action><force>true</force><status><state>finished</state></status></action>');
    assert.equal(toXml(actionBody(4, { status: 'finished', force: true })), '<action><force>true</force><status>finished</status></action>');
    assert.equal(toXml(diskBody(3, { size: 20e9, interface: 'virtio', format: 'cow', bootable: true, storageDomain: { id: 'SD' } })), '<disk><size>20000000000</size><interface>virtio</interface><format>cow</format><bootable>true</bootable><storage_domains><storage_domain id="SD"/></storage_domains></disk>');
  });
  it('round trip: what the v3 builder writes, the decoder reads back', () => {
    const body = toXml(vmBody(3, { name: 'n', cluster: { id: 'C' }, memory: 1024, cpu: { sockets: 2, cores: 4 }, os: { type: 'rhel_6x64', boot: ['network', 'hd'] } })).replace('<vm>', '<vm id="x">');
    const v = ok(parseEntity('vm', body));
    assert.deepEqual(v.os, { type: 'rhel_6x64', boot: ['network', 'hd'] });
    assert.deepEqual(v.cpu?.topology, { sockets: 2, cores: 4 });
    const body4 = toXml(vmBody(4, { name: 'n', cluster: { id: 'C' }, cpu: { sockets: 2, cores: 4 }, os: { type: 'rhel_7x64', boot: ['network', 'hd'] } })).replace('<vm>', '<vm id="x">');
    assert.deepEqual(ok(parseEntity('vm', body4)).os, { type: 'rhel_7x64', boot: ['network', 'hd'] });
  });
  it('escapes text and attributes', () => {
    assert.equal(toXml(hostBody(4, { name: 'a<b', address: 'x&y', rootPassword: '"]]>' })), '<host><name>a&lt;b</name><address>x&amp;y</address><root_password>"]]&gt;</root_password></host>');
    assert.equal(toXml(refNode('vm', { id: 'a"b' })), '<vm id="a&quot;b"/>');
  });
});

describe('rhevm codec: hostile and garbled input never throws', () => {
  const bad = [
    '',
    '   ',
    'not xml',
    '<vm',
    '<vm id="1"><name>x</vm>',
    '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><vm id="1"><name>&b;</name></vm>',
    '<vm id="1"/><vm id="2"/>',
    '<' + 'a>'.repeat(5000),
    '<a>'.repeat(200) + '</a>'.repeat(200),
    '{"vm": [',
    '{"vm": [1, "x", null, {"id": {"nested": true}}]}',
    '[1,2,3]',
    '\u0000\u0001<vm/>',
  ];
  it('each bad body gives ok:false (or a usable value), never an exception', () => {
    for (const b of bad) {
      assert.doesNotThrow(() => {
        parseEntity('vm', b);
        parseList('vm', b);
        parseAction(b);
        parseApiRoot(b);
        parseFault(b);
        parseSsoToken(b);
        parseSsoError(b);
      }, JSON.stringify(b.slice(0, 40)));
    }
    assert.equal(parseEntity('vm', bad[5]!).ok, false, 'DTDs are refused');
    assert.equal(parseEntity('vm', bad[6]!).ok, false, 'two roots');
    assert.equal(parseEntity('vm', bad[8]!).ok, false, 'too deep');
    assert.equal(parseEntity('vm', '<host id="1"/>').ok, false, 'wrong root');
    assert.equal(parseEntity('vm', '<vm><name>x</name></vm>').ok, false, 'no id');
    assert.equal(parseApiRoot('<api><link rel="x" href="y"/></api>').ok, false, 'root without version');
  });
  it('random mutations of every example never throw', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const files = readdirSync(EX).filter((n) => /\.(xml|json)$/.test(n));
    for (const f of files) {
      const src = ex(f);
      for (let i = 0; i < 40; i++) {
        const chars = [...src];
        for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) {
          const at = Math.floor(rnd() * chars.length);
          const op = rnd();
          if (op < 0.33) chars.splice(at, 1);
          else if (op < 0.66) chars.splice(at, 0, '<>"&/={}[]'[Math.floor(rnd() * 10)]!);
          else chars.length = at;
        }
        const m = chars.join('');
        assert.doesNotThrow(() => {
          parseList('host', m);
          parseEntity('vm', m);
          parseAction(m);
          parseApiRoot(m);
          parseFault(m);
        }, `${f} #${i}`);
      }
    }
  });
});

describe('rhevm search syntax and URLs (§6, §4.2)', () => {
  it('terms, status enum names, URL encoding', () => {
    assert.equal(searchQuery({ name: 'rhevh1*', status: searchStatus('pending_approval') }), 'name=rhevh1* and status=pendingapproval');
    assert.equal(searchQuery({ name: 'my vm' }), 'name="my vm"');
    assert.equal(collectionUrl('hosts', 4, { search: { name: 'rhevh1*' } }), 'hosts?search=name%3Drhevh1*');
    assert.equal(collectionUrl('vms', 4, { search: 'cluster=Default and status=up', max: 10, caseSensitive: false }), 'vms?search=cluster%3DDefault%20and%20status%3Dup&max=10&case_sensitive=false');
    assert.equal(collectionUrl('vms', 3, { search: { name: 'a&b' }, max: 10 }), 'vms;max=10?search=name%3Da%26b');
    assert.equal(collectionUrl('vms', 4), 'vms');
  });
});
