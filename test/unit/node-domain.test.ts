import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAction } from '../../src/domain/lifecycle.js';
import { NodeValidationError, normaliseMac, normaliseNodeInput, validateNodeName } from '../../src/domain/node.js';
import { parseCidr } from '../../src/util/ipv4.js';
import { expandNames, NoderangeError, resolveNoderange } from '../../src/domain/noderange.js';
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
});
