import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseBook } from '../../src/dhcp/leases.js';
import { ipToInt, intToIp } from '../../src/util/ipv4.js';

const subnet = { subnet: '10.5.0.0/24', pools: ['10.5.0.10-10.5.0.12'], routers: [], dnsServers: [], domainName: '', leaseSeconds: 3600, unknownClients: 'discover' as const };

describe('DHCP pools and node reservations', () => {
  it('never offers an address reserved for a node to another client, and refuses to bind it', () => {
    const book = new LeaseBook([subnet], { serverAddress: '10.5.0.1' });
    book.setReservations(new Map([['10.5.0.10', ['52:54:00:00:00:0a']], ['10.5.0.11', ['52:54:00:00:00:0b']]]));
    const s = book.subnets[0]!;
    const now = Date.now();
    const p1 = book.pick(s, '52:54:00:00:00:99', undefined, ipToInt('10.5.0.10'), now);
    assert.deepEqual(p1.ok && intToIp(p1.ip), '10.5.0.12', 'neither the requested reserved address nor the next reserved one');
    assert.deepEqual(book.canBind(s, '52:54:00:00:00:99', ipToInt('10.5.0.11'), undefined, now), { ok: false, reason: '10.5.0.11 is reserved for another node' });
    const own = book.pick(s, '52:54:00:00:00:0a', ipToInt('10.5.0.10'), undefined, now);
    assert.deepEqual(own.ok && intToIp(own.ip), '10.5.0.10');
    book.setReservations(new Map());
    assert.deepEqual(book.canBind(s, '52:54:00:00:00:99', ipToInt('10.5.0.11'), undefined, now), { ok: true });
  });
});
