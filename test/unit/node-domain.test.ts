import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAction } from '../../src/domain/lifecycle.js';
import { macProblem, NodeValidationError, normaliseMac, normaliseNodeInput, validateGroupName, validateNodeName, type NodeInput } from '../../src/domain/node.js';
import { parseCidr } from '../../src/util/ipv4.js';
import { expandNames, NoderangeError, notOneName, resolveNoderange } from '../../src/domain/noderange.js';
import { applianceAddresses } from '../../src/config/provisioning-address.js';
import { parseNodeFile } from '../../src/domain/node-import.js';

describe('node validation', () => {
  it('accepts the MAC spellings admins paste and stores one canonical form', () => {
    for (const m of ['52:54:00:AB:CD:EF', '52-54-00-ab-cd-ef', '5254.00ab.cdef', '525400abcdef', ' 52:54:0:ab:cd:ef ']) {
      assert.equal(normaliseMac(m), '52:54:00:ab:cd:ef', m);
    }
    for (const bad of ['52:54:00:ab:cd', '52:54:00:ab:cd:ef:01', 'zz:54:00:ab:cd:ef', '52:54-00:ab:cd:ef', '', '5254.00ab', '52:54:00:ab:cd:eff']) {
      assert.equal(normaliseMac(bad), undefined, bad);
    }
  });

  it('names are RFC 1123 labels', () => {
    for (const ok of ['n01', 'rack3-n01', 'a', 'x'.repeat(63)]) assert.equal(validateNodeName(ok), undefined, ok);
    for (const bad of ['N01', '-n1', 'n1-', 'n_1', 'n.1', 'x'.repeat(64), '', '123', '../x']) assert.ok(validateNodeName(bad), bad);
  });

  it('checks IPs against the configured subnets and names the failing field', () => {
    const subnets = [parseCidr('10.1.0.0/16')!];
    assert.equal(normaliseNodeInput({ name: 'n1', ip: '10.1.2.3' }, subnets).ip, '10.1.2.3');
    const fieldOf = (input: Parameters<typeof normaliseNodeInput>[0]): string => {
      try {
        normaliseNodeInput(input, subnets);
      } catch (err) {
        assert.ok(err instanceof NodeValidationError);
        return `${err.field}: ${err.message}`;
      }
      return 'accepted';
    };
    assert.match(fieldOf({ name: 'n1', ip: '10.2.0.1' }), /^ip: 10\.2\.0\.1 is not inside a configured subnet \(10\.1\.0\.0\/16\)/);
    assert.match(fieldOf({ name: 'n1', ip: '10.1.0.256' }), /^ip: /);
    assert.match(fieldOf({ name: 'n1', ip: '010.1.0.1' }), /^ip: /);
    assert.match(fieldOf({ name: 'n1', macs: ['01:00:5e:00:00:01'] }), /^macs: .*multicast/);
    assert.match(fieldOf({ name: 'n1', macs: ['52:54:00:00:00:01', '52-54-00-00-00-01'] }), /^macs: .*listed twice/);
    assert.match(fieldOf({ name: 'n1', macs: ['52:54:00:00:00:01'], installMac: '52:54:00:00:00:02' }), /^installMac: /);
    assert.match(fieldOf({ name: 'n1', kernelArgs: 'a\nb' }), /^kernelArgs: /);
    assert.match(fieldOf({ name: 'n1', attrs: { 'bad key': 'x' } }), /^attrs: /);
  });

  it('refuses names a noderange would read as more than one node: all, ranges, syntax (issue 15)', () => {
    // A node named `all` made PATCH /nodes/all change every node.
    for (const bad of ['all', 'n1-n3', 'n01-n40', 'a-1-a-2', 'n3-n1']) assert.match(validateNodeName(bad) ?? 'accepted', /reserved|range/, bad);
    for (const ok of ['n1', 'rack3-n01', 'x1-y2', 'n1-n3x', 'allx', 'small']) assert.equal(validateNodeName(ok), undefined, ok);
    // Group names: the same rule (their own alphabet already keeps out ',', '[' and ']').
    for (const bad of ['all', 'ALL', 'r1-r3', 'a.1-a.2']) assert.ok(validateGroupName(bad), bad);
    for (const ok of ['rack1', 'all-compute', 'r1-x3']) assert.equal(validateGroupName(ok), undefined, ok);
    for (const bad of ['n[1-3]', 'n1,n2', '-n1', 'n[1-3]x']) assert.match(notOneName(bad) ?? 'accepted', /syntax|range/, bad);
    // The refused names really do mean more than themselves.
    assert.deepEqual(resolveNoderange('n1-n3', { nodes: ['n1', 'n2', 'n3', 'n1-n3'], groups: new Map() }), ['n1', 'n2', 'n3']);
  });

  it('refuses the all-zero, broadcast and multicast MACs (issue 15)', () => {
    assert.match(macProblem('00:00:00:00:00:00')!, /all zeros/);
    assert.match(macProblem('ff:ff:ff:ff:ff:ff')!, /broadcast/);
    assert.match(macProblem('33:33:00:00:00:01')!, /multicast/);
    assert.equal(macProblem('52:54:00:00:00:01'), undefined);
    assert.equal(macProblem('02:00:00:00:00:00'), undefined, 'locally administered unicast is a NIC');
    for (const m of ['0000.0000.0000', '00-00-00-00-00-00', 'FF:FF:FF:FF:FF:FF']) {
      assert.throws(() => normaliseNodeInput({ name: 'n1', macs: [m] }, []), (e: unknown) => e instanceof NodeValidationError && e.field === 'macs', m);
    }
  });

  it("refuses a subnet's network, broadcast and router addresses, the appliance's own, and non-unicast (issue 15)", () => {
    const subnets = [parseCidr('10.9.0.0/24')!, parseCidr('10.8.0.0/31')!];
    let asked = 0;
    const reserved = { routers: ['10.9.0.1'], appliance: () => (asked++, ['10.9.0.2', '10.9.0.3']) };
    const ipError = (ip: string, nets = subnets): string => {
      try {
        normaliseNodeInput({ name: 'n1', ip }, nets, reserved);
      } catch (err) {
        assert.ok(err instanceof NodeValidationError);
        assert.equal(err.field, 'ip');
        return err.message;
      }
      return 'accepted';
    };
    assert.match(ipError('10.9.0.0'), /network address of 10\.9\.0\.0\/24/);
    assert.match(ipError('10.9.0.255'), /broadcast address of 10\.9\.0\.0\/24/);
    assert.match(ipError('10.9.0.1'), /router/);
    assert.match(ipError('10.9.0.2'), /appliance's own address/);
    assert.match(ipError('10.9.0.3'), /appliance's own address/);
    assert.equal(ipError('10.9.0.4'), 'accepted');
    assert.equal(ipError('10.9.0.254'), 'accepted');
    assert.equal(ipError('10.8.0.0'), 'accepted', 'a /31 has no network or broadcast address (RFC 3021)');
    for (const ip of ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.1.1.1', '240.0.0.1', '255.255.255.255']) assert.match(ipError(ip, []), /not a host's/, ip);
    assert.equal(ipError('127.0.0.3', []), 'accepted', 'loopback stays usable (a lab on one machine)');
    const lab = { routers: [], appliance: () => ['127.0.0.1'] };
    assert.throws(() => normaliseNodeInput({ name: 'n1', ip: '127.0.0.1' }, [parseCidr('127.0.0.0/24')!], lab), /appliance's own address/, 'loopback gets no exemption: a lab plays by the same rules');
    // The appliance's addresses are asked for only when an address is given, and once per call.
    asked = 0;
    normaliseNodeInput({ name: 'n1', macs: ['52:54:00:00:00:01'] }, subnets, reserved);
    assert.equal(asked, 0);
  });

  it("lists the appliance's addresses without ever refusing to (issue 15)", () => {
    const nic = (address: string, internal = false) => ({ address, family: 'IPv4' as const, internal, netmask: '255.255.255.0', mac: '52:54:00:00:00:01', cidr: `${address}/24` });
    const interfaces = { lo: [nic('127.0.0.1', true)], eth0: [nic('192.0.2.2')], eth1: [nic('10.9.0.2'), nic('10.9.0.3')] };
    assert.deepEqual(applianceAddresses({ serverAddress: '10.9.0.9', interface: '' }, interfaces), ['10.9.0.9']);
    assert.deepEqual(applianceAddresses({ serverAddress: '10.9.0.9', interface: 'eth1' }, interfaces), ['10.9.0.9', '10.9.0.2', '10.9.0.3']);
    assert.deepEqual(applianceAddresses({ serverAddress: '', interface: 'eth1' }, interfaces), ['10.9.0.2', '10.9.0.3']);
    // Ambiguous (provisioningAddress would refuse to choose) or missing: every address, or none.
    assert.deepEqual(applianceAddresses({ serverAddress: '', interface: '' }, interfaces), ['192.0.2.2', '10.9.0.2', '10.9.0.3']);
    assert.deepEqual(applianceAddresses({ serverAddress: '', interface: 'nosuch0' }, interfaces), []);
  });

  it('checks arch and manager as the names they become (issue 15)', () => {
    const fieldOf = (input: NodeInput): string => {
      try {
        normaliseNodeInput(input, []);
      } catch (err) {
        assert.ok(err instanceof NodeValidationError);
        return err.field;
      }
      return 'accepted';
    };
    assert.equal(fieldOf({ name: 'n1', arch: 'x86_64' }), 'accepted');
    assert.equal(fieldOf({ name: 'n1', arch: '../x' }), 'arch');
    assert.equal(fieldOf({ name: 'n1', arch: '' }), 'arch');
    assert.equal(fieldOf({ name: 'n1', manager: 'rhevm1' }), 'accepted');
    assert.equal(fieldOf({ name: 'n1', manager: 'a b' }), 'manager');
    assert.equal(fieldOf({ name: 'n1', cluster: 'Default' }), 'accepted');
    assert.equal(fieldOf({ name: 'n1', cluster: 'a\nb' }), 'cluster');
  });

  it('marks exactly one install NIC', () => {
    const n = normaliseNodeInput({ name: 'n1', macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'], installMac: '52-54-00-00-00-02' }, []);
    assert.deepEqual(n.nics, [
      { mac: '52:54:00:00:00:01', install: false },
      { mac: '52:54:00:00:00:02', install: true },
    ]);
  });

  it('next after an install is local boot', () => {
    assert.equal(nextAction('install', 'install'), 'local');
    assert.equal(nextAction('local', 'booted'), 'local');
    assert.equal(nextAction('discover', 'defined'), 'discover');
  });
});

describe('noderange', () => {
  const universe = {
    nodes: ['n01', 'n02', 'n03', 'n10', 'rack3-n01', 'sw1'],
    groups: new Map([
      ['rack1', ['n01', 'n02', 'n03']],
      ['rack3', ['rack3-n01']],
      ['all-compute', ['n01', 'n10']],
    ]),
  };
  const r = (expr: string): string[] => resolveNoderange(expr, universe);

  it('lists, brackets, dash ranges, groups, all and exclusions', () => {
    assert.deepEqual(r('n01,n02'), ['n01', 'n02']);
    assert.deepEqual(r('n[01-03]'), ['n01', 'n02', 'n03']);
    assert.deepEqual(r('n01-n03'), ['n01', 'n02', 'n03']);
    assert.deepEqual(r('rack1'), ['n01', 'n02', 'n03']);
    assert.deepEqual(r('all,-rack3'), ['n01', 'n02', 'n03', 'n10', 'sw1']);
    assert.deepEqual(r('all,-rack1,-sw1'), ['n10', 'rack3-n01']);
    assert.deepEqual(r('rack3-n01'), ['rack3-n01']);
    assert.deepEqual(r('n[01-20]'), ['n01', 'n02', 'n03', 'n10'], 'names a range spells but nobody has are left out');
    assert.deepEqual(r('all-compute'), ['n01', 'n10']);
  });

  it('refuses unknown names, listing them all', () => {
    assert.throws(() => r('n01,nope,ghost'), (e: unknown) => e instanceof NoderangeError && /'nope', 'ghost'/.test(e.message));
    assert.throws(() => r('x[01-05]'), NoderangeError);
    assert.throws(() => r(''), NoderangeError);
    assert.throws(() => r('n01,,n02'), NoderangeError);
    assert.throws(() => r('n[05-01]'), /backwards/);
  });

  it('expands names for new nodes, keeping zero padding, and refuses groups/exclusions there', () => {
    assert.deepEqual(expandNames('n[01-03],x'), ['n01', 'n02', 'n03', 'x']);
    assert.deepEqual(expandNames('n[8-10]'), ['n8', 'n9', 'n10']);
    assert.equal(expandNames('n[0001-1000]').length, 1000);
    assert.throws(() => expandNames('all'), NoderangeError);
    assert.throws(() => expandNames('n1,-n2'), NoderangeError);
    assert.throws(() => expandNames('n[1-200000]'), /more than/);
  });
});

describe('node import files', () => {
  it('reads CSV with list cells and attributes, numbering rows as in the file', () => {
    const { rows, errors } = parseNodeFile('name,macs,ip,groups,attrs\nn01,52:54:00:00:00:01|52:54:00:00:00:02,10.0.0.1,rack1 compute,console=ttyS1|vlan=12\n# comment\nn02,,,,\n', 'csv');
    assert.deepEqual(errors, []);
    assert.deepEqual(rows[0], { row: 2, input: { name: 'n01', macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'], ip: '10.0.0.1', groups: ['rack1', 'compute'], attrs: { console: 'ttyS1', vlan: '12' } } });
    assert.deepEqual(rows[1], { row: 4, input: { name: 'n02' } });
  });

  it('refuses unknown columns and bad files with a row and a reason', () => {
    assert.match(parseNodeFile('name,colour\nn1,red\n', 'csv').errors[0]!.message, /unknown columns: colour/);
    assert.match(parseNodeFile('name,ip\nn1,1,extra\n', 'csv').errors[0]!.message, /not valid CSV/);
    assert.match(parseNodeFile('{"name":"n1"}', 'json').errors[0]!.message, /JSON array/);
    const j = parseNodeFile('[{"name":"n1","macs":"52:54:00:00:00:01"},{"name":"n2","bogus":1},{"name":"n3"}]', 'json');
    assert.deepEqual(j.errors.map((e) => [e.row, e.field]), [[1, 'macs'], [2, 'bogus']]);
    assert.deepEqual(j.rows, [{ row: 3, input: { name: 'n3' } }]);
  });

  it('refuses JSON rows whose text fields are not text; only nullable fields take null (issue 15)', () => {
    const j = parseNodeFile('[{"name":null},{"name":"n2","kernelArgs":null},{"name":"n3","arch":5},{"name":"n4","attrs":["a"]},{"name":"n5","ip":null,"distro":null}]', 'json');
    assert.deepEqual(j.errors.map((e) => [e.row, e.field]), [[1, 'name'], [2, 'kernelArgs'], [3, 'arch'], [4, 'attrs']]);
    assert.deepEqual(j.rows, [{ row: 5, input: { name: 'n5', ip: null, distro: null } }]);
  });
});
