/**
 * Benchmarks, each against the reference tool in the same run:  npm run bench -- [NAME ...] [options]
 * Names: boot-storm, copycds, dhcp, http, tftp. Benchmarks need the reference servers: nginx (http),
 * kea-dhcp4-server and dnsmasq-base (dhcp), atftpd and dnsmasq-base (tftp; tftpd-hpa is unpacked
 * from its .deb because it conflicts with atftpd), plus what the tests need. With no name, all run. They print ratios; they are not tests and CI does not run them.
 */
import { benchBootStorm } from './boot-storm.js';
import { benchCopycds } from './copycds.js';
import { benchDhcp } from './dhcp.js';
import { benchHttp } from './http.js';
import { benchTftp } from './tftp.js';
import { benchVms } from './vms.js';

const BENCHES: Record<string, () => Promise<void>> = { copycds: benchCopycds, dhcp: benchDhcp, http: benchHttp, tftp: benchTftp, 'boot-storm': benchBootStorm, vms: benchVms };

const names = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^[\d.,]+$/.test(a));
const selected = names.length ? names : Object.keys(BENCHES);
for (const n of selected) {
  const bench = BENCHES[n];
  if (!bench) {
    process.stderr.write(`unknown benchmark '${n}'; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`== ${n}\n`);
  await bench();
}
