import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkInterfaceInfo } from 'node:os';
import { isRhevbootError } from '../../src/errors.js';
import { httpBaseFor, provisioningAddress } from '../../src/config/provisioning-address.js';

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, family: 'IPv4', internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` });

describe('provisioning address', () => {
  const ifaces = { lo: [v4('127.0.0.1', true)], eth0: [v4('192.0.2.2')], eth1: [v4('10.1.0.254')] };
  it('takes the configured address, else the named interface, else the only one', () => {
    assert.equal(provisioningAddress({ serverAddress: '10.9.9.9', interface: '' }, ifaces).address, '10.9.9.9');
    assert.deepEqual(provisioningAddress({ serverAddress: '', interface: 'eth1' }, ifaces), { address: '10.1.0.254', interface: 'eth1' });
    assert.deepEqual(provisioningAddress({ serverAddress: '', interface: '' }, { lo: ifaces.lo, eth1: ifaces.eth1 }), { address: '10.1.0.254', interface: 'eth1' });
  });
  it('refuses to guess between several interfaces, naming them', () => {
    assert.throws(() => provisioningAddress({ serverAddress: '', interface: '' }, ifaces), (e: unknown) => isRhevbootError(e, 'RB_ERR_CONFIG') && /eth0 192\.0\.2\.2, eth1 10\.1\.0\.254/.test(e.message));
    assert.throws(() => provisioningAddress({ serverAddress: '', interface: 'eth7' }, ifaces), /interface 'eth7' has no IPv4 address/);
  });
  it('builds the HTTP base nodes use', () => {
    assert.equal(httpBaseFor({ httpBase: '', address: '10.1.0.254', port: 80 }), 'http://10.1.0.254');
    assert.equal(httpBaseFor({ httpBase: '', address: '10.1.0.254', port: 8080 }), 'http://10.1.0.254:8080');
    assert.equal(httpBaseFor({ httpBase: 'http://boot.example/', address: 'x', port: 1 }), 'http://boot.example');
  });
});
