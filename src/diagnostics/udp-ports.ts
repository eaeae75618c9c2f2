/**
 * Who holds a UDP port, from /proc (Linux): `/proc/net/udp` lists the bound IPv4 sockets with
 * their inode, and `/proc/<pid>/fd/*` links to `socket:[inode]`. This is how `ss -ulpn` does it;
 * reading it directly keeps `rhevboot doctor` free of a dependency on iproute2's output format.
 *
 * Other users' /proc/<pid>/fd are readable only by root, so without root a held port may come back
 * with no visible owner: callers say "held (owner not visible)" rather than guess.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface UdpSocket {
  /** Dotted IPv4 local address (0.0.0.0 for the wildcard). */
  address: string;
  port: number;
  inode: number;
}

export interface PortHolder {
  pid: number;
  /** Process name (comm) and command line, for the report. */
  comm: string;
  cmdline: string;
}

/**
 * Parses /proc/net/udp. Addresses are the kernel's `__be32` printed as a host-order hex number, so
 * on a little-endian machine `0100007F` is 127.0.0.1; ports are plain hex. Bad lines are skipped.
 */
export function parseProcNetUdp(text: string, littleEndian = true): UdpSocket[] {
  const out: UdpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const m = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/.exec(f[1]!);
    const inode = Number(f[9]);
    if (!m || !Number.isInteger(inode)) continue;
    const n = parseInt(m[1]!, 16);
    const bytes = [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
    out.push({ address: (littleEndian ? bytes.reverse() : bytes).join('.'), port: parseInt(m[2]!, 16), inode });
  }
  return out;
}

export async function udpSockets(procRoot = '/proc'): Promise<UdpSocket[]> {
  return parseProcNetUdp(await readFile(`${procRoot}/net/udp`, 'utf8'));
}

/** The processes holding any of these socket inodes (as far as this user may see). */
export async function holdersOf(inodes: Set<number>, procRoot = '/proc'): Promise<PortHolder[]> {
  if (inodes.size === 0) return [];
  const holders: PortHolder[] = [];
  for (const entry of await readdir(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = await readdir(`${procRoot}/${entry}/fd`);
    } catch {
      continue; // another user's process (without root), or it just exited
    }
    for (const fd of fds) {
      const link = await readlink(`${procRoot}/${entry}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (!m || !inodes.has(Number(m[1]))) continue;
      const comm = (await readFile(`${procRoot}/${entry}/comm`, 'utf8').catch(() => '?')).trim();
      const cmdline = (await readFile(`${procRoot}/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ');
      holders.push({ pid: Number(entry), comm, cmdline });
      break;
    }
  }
  return holders;
}

/** Sockets bound to `port` and who holds them. */
export async function udpPortHolders(port: number, procRoot = '/proc'): Promise<{ sockets: UdpSocket[]; holders: PortHolder[] }> {
  const sockets = (await udpSockets(procRoot)).filter((s) => s.port === port);
  return { sockets, holders: await holdersOf(new Set(sockets.map((s) => s.inode)), procRoot) };
}
