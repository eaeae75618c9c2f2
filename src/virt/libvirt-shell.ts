/**
 * One long-lived `virsh -q -c <uri>` interactive process, driven over its stdin.
 *
 * Why one process and not `virsh` per command: libvirt's `test:///default` driver lives inside the
 * virsh process, so every new process starts from a fresh in-memory host; and over `qemu+ssh://`
 * each process would be a new ssh connection. So commands are written as lines, one at a time.
 *
 * Framing. virsh reads its stdin through readline, which (stdin not being a terminal) echoes the
 * prompt and each line it reads onto stdout; with `-q` it adds nothing else (no banner, no table
 * headers, no blank line after a command). Errors go to stderr, with no per-command exit status.
 * So after each command we send two markers, `echo --err --xml <rbe-…>` and `echo --xml <rbo-…>`:
 * their outputs are XML-escaped (`&lt;rbo-…&gt;`), which the echoed input lines never contain, and
 * each carries a per-process nonce and a sequence number, so neither a domain's XML nor a stale
 * reply can end the wrong command. A command has finished when both markers have arrived; its
 * stdout is what came between the echo of its line and the echo of the first marker line, and it
 * failed if stderr printed an `error:` line before the stderr marker.
 *
 * A command that does not finish within its bound (a hung ssh, a wedged libvirtd) kills the process;
 * the next command starts a new one. With `test:///default` that also means a fresh host: logged.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { RhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { Mutex } from '../util/mutex.js';

export interface VirshShellOptions {
  uri: string;
  log: Logger;
  /** The virsh binary (default `virsh` from PATH). */
  virsh?: string;
  /** Bound on one command; past it the process is killed (default 60 s: a volume clone can take a while). */
  commandTimeoutMs?: number;
}

/** Arguments written on virsh's command line. virsh has its own shell-like tokenizer (quotes,
 * backslashes, `;` between commands): rather than quote for it, anything outside this set is
 * refused, so a name can never become a second command. */
const SAFE_ARG = /^[A-Za-z0-9_.:/@+=,%?&-]+$/;

export function checkArg(arg: string): string {
  if (!SAFE_ARG.test(arg)) throw new RhevbootError('RB_ERR_INVALID', `refusing to pass '${arg.replace(/[^\x20-\x7e]/g, '?')}' to virsh: only letters, digits and _ . : / @ + = , % ? & - are allowed`, { arg });
  return arg;
}

/** readline's echo of a line it read: the prompt (`virsh # `, or `virsh > ` read-only) and the line. */
const PROMPT = /^virsh [#>] /;

export class VirshShell {
  private child: ChildProcessWithoutNullStreams | undefined;
  private out = '';
  private err = '';
  private exited: string | undefined;
  private wake: (() => void) | undefined;
  private readonly mutex = new Mutex();
  private readonly nonce = randomBytes(6).toString('hex');
  private seq = 0;
  private closed = false;
  /** How many virsh processes this shell has started (a restart shows as 2, 3, …). */
  starts = 0;

  constructor(private readonly opts: VirshShellOptions) {}

  /** The current virsh process id (tests use it to kill or stop the process). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs one virsh command (its words, each checked by `checkArg`) and returns its stdout. */
  run(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    if (args.length === 0) throw new RhevbootError('RB_ERR_INVALID', 'empty virsh command');
    const line = args.map(checkArg).join(' ');
    return this.mutex.run(() => this.exchange(line, opts.timeoutMs ?? this.opts.commandTimeoutMs ?? 60_000));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.mutex.run(async () => {
      const child = this.child;
      if (!child) return;
      const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
      this.child = undefined;
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.closed) throw new RhevbootError('RB_ERR_LIBVIRT', `the libvirt connection to ${this.opts.uri} is closed`);
    // LC_ALL=C: the parsers read English field names; TERM=dumb: no escape sequences from readline.
    const child = spawn(this.opts.virsh ?? 'virsh', ['-q', '-c', this.opts.uri], {
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.starts++;
    this.out = '';
    this.err = '';
    this.exited = undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    // A killed predecessor may still deliver output or its exit: only the current process counts.
    const current = (): boolean => this.child === child;
    child.stdout.on('data', (d: string) => {
      if (!current()) return;
      this.out += d;
      this.wake?.();
    });
    child.stderr.on('data', (d: string) => {
      if (!current()) return;
      this.err += d;
      this.wake?.();
    });
    child.stdin.on('error', () => {}); // EPIPE when virsh died; 'close' below says why.
    child.on('error', (e) => {
      if (!current()) return;
      this.exited = `cannot run virsh: ${e.message}`;
      this.wake?.();
    });
    child.on('close', (code, signal) => {
      if (!current()) return;
      this.child = undefined;
      this.exited ??= `virsh exited (${signal ?? `code ${code}`})`;
      this.wake?.();
    });
    if (this.starts > 1) this.opts.log.warn({ uri: this.opts.uri, starts: this.starts }, this.opts.uri.startsWith('test:') ? 'virsh restarted: the test driver starts again from its default state' : 'virsh restarted');
    this.child = child;
    return child;
  }

  private async exchange(line: string, timeoutMs: number): Promise<string> {
    const child = this.child ?? this.start();
    const n = ++this.seq;
    const errLine = `echo --err --xml <rbe-${this.nonce}-${n}>`;
    const outLine = `echo --xml <rbo-${this.nonce}-${n}>`;
    const errMark = `&lt;rbe-${this.nonce}-${n}&gt;`;
    const outMark = `&lt;rbo-${this.nonce}-${n}&gt;`;
    child.stdin.write(`${line}\n${errLine}\n${outLine}\n`);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.wake?.();
    }, timeoutMs);
    try {
      for (;;) {
        const o = this.out.indexOf(outMark);
        const e = this.err.indexOf(errMark);
        if (o >= 0 && e >= 0) {
          const stdout = this.out.slice(0, o);
          // The marker arrives as `error: &lt;rbe-…&gt;`: its line is not part of the command's stderr.
          const stderr = this.err.slice(0, this.err.lastIndexOf('\n', e) + 1);
          this.out = this.out.slice(o + outMark.length);
          const eol = this.err.indexOf('\n', e);
          this.err = eol >= 0 ? this.err.slice(eol + 1) : this.err.slice(e + errMark.length);
          return this.reply(line, errLine, stdout, stderr);
        }
        if (this.exited !== undefined) {
          const why = `${this.exited}: ${this.err.trim().replace(/^error: /gm, '') || '(nothing on stderr)'}`;
          this.child = undefined;
          throw new RhevbootError('RB_ERR_LIBVIRT', `libvirt ${this.opts.uri}: ${why}`, { uri: this.opts.uri, command: line });
        }
        if (timedOut) {
          this.opts.log.warn({ uri: this.opts.uri, command: line, stdoutTail: this.out.slice(-300), stderrTail: this.err.slice(-300) }, 'virsh hung');
          // A hung virsh cannot be trusted with the next command: kill it, the next run starts anew.
          child.kill('SIGKILL');
          this.child = undefined;
          throw new RhevbootError('RB_ERR_LIBVIRT_TIMEOUT', `libvirt ${this.opts.uri}: '${line}' did not answer within ${timeoutMs} ms; virsh was killed and will be restarted`, { uri: this.opts.uri, command: line });
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private reply(line: string, errLine: string, stdout: string, stderr: string): string {
    // stdout: [prompt]line\n <output> prompt errLine\n prompt outLine\n
    let body = stdout.replace(PROMPT, '');
    if (body.startsWith(`${line}\n`)) body = body.slice(line.length + 1);
    const cut = body.lastIndexOf(`${errLine}\n`);
    if (cut >= 0) body = body.slice(0, cut).replace(/virsh [#>] $/, '');
    const errors = stderr.split('\n').filter((l) => l.startsWith('error: ')).map((l) => l.slice(7).trim());
    const other = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('error: '));
    if (other.length > 0) this.opts.log.warn({ uri: this.opts.uri, command: line, stderr: other.join('\n') }, 'virsh said');
    if (errors.length > 0) throw new VirshCommandError(this.opts.uri, line, errors);
    return body;
  }
}

/**
 * virsh printed `error:` lines for a command. The code follows what libvirt said, so callers and
 * the admin get NOT_FOUND for a missing domain and CONFLICT for an illegal transition (start of a
 * running VM), like the engine's 404 and 409.
 */
export class VirshCommandError extends RhevbootError {
  constructor(uri: string, command: string, readonly lines: string[]) {
    const text = lines.join('; ');
    super(classify(text), `libvirt ${uri}: ${text}`, { uri, command, libvirt: lines });
  }
}

function classify(text: string): 'RB_ERR_NOT_FOUND' | 'RB_ERR_CONFLICT' | 'RB_ERR_LIBVIRT' {
  if (/failed to get (domain|pool|vol|network)|not found|no (domain|storage (pool|vol)|network) with matching/i.test(text)) return 'RB_ERR_NOT_FOUND';
  if (/already (exists|active|running)|is not running|not valid|domain is (not )?(running|active|paused)|in use/i.test(text)) return 'RB_ERR_CONFLICT';
  return 'RB_ERR_LIBVIRT';
}
