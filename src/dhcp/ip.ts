/** IPv4 address arithmetic for pools and subnets: dotted quads as unsigned 32-bit numbers. */

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

export function parseCidr(text: string): Cidr {
  const [addr, len] = text.split('/');
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(addr!) & mask) >>> 0;
  return { text, network, prefix, mask, broadcast: (network | (~mask >>> 0)) >>> 0 };
}

export function inCidr(c: Cidr, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.network;
}

export function isZero(ip: string): boolean {
  return ip === '0.0.0.0';
}
