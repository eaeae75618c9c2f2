/**
 * IPv4 addresses as unsigned 32-bit numbers: pools, subnets, reservations, hex-IP config names.
 * `parse*` check their input (admin and config text); `ipToInt` trusts it (the packet path, on
 * addresses already checked or produced here).
 */

export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const parts = m.slice(1);
  // Leading zeros are refused: 010.1.1.1 reads as octal to some tools and decimal to others.
  if (parts.some((p) => Number(p) > 255 || (p.length > 1 && p.startsWith('0')))) return undefined;
  return ipToInt(parts.join('.'));
}

export function ipToInt(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Cidr {
  text: string;
  network: number;
  prefix: number;
  mask: number;
  broadcast: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  const ip = addr === undefined ? undefined : parseIpv4(addr);
  if (ip === undefined || extra !== undefined || !len || !/^\d{1,2}$/.test(len) || Number(len) > 32) return undefined;
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ip & mask) >>> 0;
  return { text, network, prefix, mask, broadcast: (network | (~mask >>> 0)) >>> 0 };
}

export function inCidr(c: Cidr, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.network;
}
