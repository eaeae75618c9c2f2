import type { Command } from 'commander';
import { RhevbootError } from '../../errors.js';
import type { PreviewFirmware } from '../../provisioning/preview.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson } from '../output.js';

export function previewCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('preview')
    .description('show exactly what DHCP, TFTP and HTTP would give a node now, and why')
    .argument('<node>')
    .option('--firmware <fw>', 'bios | uefi | ipxe | uefi-http', 'bios')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { firmware: string; json?: boolean }) => {
      if (!['bios', 'uefi', 'ipxe', 'uefi-http'].includes(o.firmware)) throw new RhevbootError('RB_ERR_INVALID', `--firmware must be bios, uefi, ipxe or uefi-http, not '${o.firmware}'`);
      await withContext(globals(), async ({ services }) => {
        const p = await services.preview.preview(name, o.firmware as PreviewFirmware);
        if (o.json) return printJson(p);
        const out: string[] = [];
        const plan = p.dhcp.plan;
        out.push(`== DHCP (${p.firmware}, MAC ${p.mac})`);
        out.push(`address      ${p.dhcp.address}`);
        out.push(`host name    ${plan.node?.hostname ?? '-'}`);
        out.push(`action       ${plan.action}`);
        out.push(`boot file    ${plan.bootFile ?? '(none)'}`);
        out.push(`option 60    ${plan.bootFile ? (plan.vendorClass ?? '-') : '-'}`);
        if (plan.config) out.push(`then         ${plan.config.kind} config from ${plan.config.template}`);
        if (plan.distro) out.push(`installs     ${plan.distro.name}/${plan.distro.arch} (${plan.distro.family} ${plan.distro.version})`);
        for (const w of plan.why) out.push(`why          ${w}`);
        for (const t of p.tftp) {
          out.push('', `== TFTP ${t.file}`, ...t.why.map((w) => `# why: ${w}`), t.content ?? '(file not found)');
        }
        out.push('', `== HTTP ${p.http.url}`, ...p.http.why.map((w) => `# why: ${w}`), p.http.content ?? '(404)');
        process.stdout.write(out.join('\n').replace(/\n+$/, '') + '\n');
      });
    });
}
