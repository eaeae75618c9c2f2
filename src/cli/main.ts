import { Command, CommanderError } from 'commander';
import { isRhevbootError } from '../errors.js';
import { VERSION } from '../version.js';
import { configCommand } from './commands/config.js';
import { copycdsCommand } from './commands/copycds.js';
import { distroCommand } from './commands/distro.js';
import { doctorCommand } from './commands/doctor.js';
import { eventsCommand } from './commands/events.js';
import { groupCommand } from './commands/group.js';
import { hypervisorCommand } from './commands/hypervisor.js';
import { installLoadersCommand } from './commands/install-loaders.js';
import { kvmCommand } from './commands/kvm.js';
import { nodeCommand } from './commands/node.js';
import { previewCommand } from './commands/preview.js';
import { rhevmCommand } from './commands/rhevm.js';
import { secretCommand } from './commands/secret.js';
import { serveCommand } from './commands/serve.js';
import { tokenCommand } from './commands/token.js';
import { veCommand } from './commands/ve.js';
import { vmCommand } from './commands/vm.js';
import type { GlobalOptions } from './context.js';

export function buildProgram(): Command {
  const program = new Command('rhevboot')
    .description('network-boot appliance: bare metal to RHEV-H hypervisors registered in RHEV-M')
    .version(VERSION)
    .option('-c, --config <file>', 'YAML configuration file (default: $RHEVBOOT_CONFIG, else embedded defaults)')
    .option('--log-level <level>', 'log level for this command (fatal, error, warn, info, debug, trace)')
    .showHelpAfterError()
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  serveCommand(program, globals);
  copycdsCommand(program, globals);
  distroCommand(program, globals);
  nodeCommand(program, globals);
  groupCommand(program, globals);
  previewCommand(program, globals);
  eventsCommand(program, globals);
  rhevmCommand(program, globals);
  kvmCommand(program, globals);
  hypervisorCommand(program, globals);
  veCommand(program, globals);
  vmCommand(program, globals);
  secretCommand(program, globals);
  tokenCommand(program, globals);
  configCommand(program, globals);
  installLoadersCommand(program, globals);
  doctorCommand(program, globals);
  return program;
}

/** Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (isRhevbootError(err)) {
      process.stderr.write(`rhevboot: error ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`rhevboot: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  process.exitCode = await main(process.argv);
}
