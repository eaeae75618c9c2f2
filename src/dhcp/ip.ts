/** DHCP header addresses: 0.0.0.0 means "none" in ciaddr, yiaddr, siaddr and giaddr. */
export function isZero(ip: string): boolean {
  return ip === '0.0.0.0';
}
