import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { RhevbootError } from '../errors.js';

export interface ProvisioningAddress {
  address: string;
  interface: string | undefined;
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * The appliance's address on the provisioning network: DHCP's server identifier and next-server,
 * and the host in the URLs nodes are given. Node's sockets cannot say which interface a broadcast
 * came in on, so the appliance serves one provisioning network directly (plus relayed subnets)
 * and this is its address: `dhcp.serverAddress`, else `dhcp.interface`'s, else the only
 * non-loopback IPv4 address the machine has.
 */
export function provisioningAddress(opts: { serverAddress: string; interface: string }, interfaces: Interfaces = networkInterfaces()): ProvisioningAddress {
  if (opts.serverAddress) return { address: opts.serverAddress, interface: opts.interface || undefined };
  const v4 = (list: NetworkInterfaceInfo[] | undefined): NetworkInterfaceInfo[] => (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal);
  if (opts.interface) {
    const addr = v4(interfaces[opts.interface])[0];
    if (!addr) {
      throw new RhevbootError('RB_ERR_CONFIG', `invalid config key 'dhcp.interface': interface '${opts.interface}' has no IPv4 address (or does not exist)`, { key: 'dhcp.interface' });
    }
    return { address: addr.address, interface: opts.interface };
  }
  const candidates = Object.entries(interfaces).flatMap(([name, list]) => v4(list).map((a) => ({ name, address: a.address })));
  if (candidates.length === 1) return { address: candidates[0]!.address, interface: candidates[0]!.name };
  throw new RhevbootError(
    'RB_ERR_CONFIG',
    candidates.length === 0
      ? "invalid config key 'dhcp.interface': no non-loopback IPv4 address to serve from; set dhcp.interface or dhcp.serverAddress"
      : `invalid config key 'dhcp.interface': several interfaces have IPv4 addresses (${candidates.map((c) => `${c.name} ${c.address}`).join(', ')}); say which is the provisioning network`,
    { key: 'dhcp.interface' },
  );
}

/**
 * Every address that is the appliance's own on the provisioning side, which no node may be
 * given: `dhcp.serverAddress`, each IPv4 address of `dhcp.interface`, and with neither set every
 * non-loopback IPv4 address (the one provisioningAddress picks, or the several it will not choose
 * between). Never throws: on a machine whose provisioning address is ambiguous (a CLI next to the
 * server) nodes are still checked, against all of them.
 */
export function applianceAddresses(opts: { serverAddress: string; interface: string }, interfaces: Interfaces = networkInterfaces()): string[] {
  const v4 = (list: NetworkInterfaceInfo[] | undefined): string[] => (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address);
  const out = new Set<string>();
  if (opts.serverAddress) out.add(opts.serverAddress);
  if (opts.interface) for (const a of v4(interfaces[opts.interface])) out.add(a);
  if (!opts.serverAddress && !opts.interface) for (const list of Object.values(interfaces)) for (const a of v4(list)) out.add(a);
  return [...out];
}

/** `http://<address>[:port]`: what nodes use to reach the appliance's HTTP server. */
export function httpBaseFor(opts: { httpBase: string; address: string; port: number }): string {
  if (opts.httpBase) return opts.httpBase.replace(/\/+$/, '');
  return `http://${opts.address}${opts.port === 80 ? '' : `:${opts.port}`}`;
}
