import { createInterface } from 'node:readline/promises';
import { RhevbootError } from '../errors.js';

/** Reads a line from a terminal without echoing it. */
export function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value));
        if (ch === '\u0003') return finish(() => reject(new RhevbootError('RB_ERR_INVALID', 'interrupted')));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = (then: () => void): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      then();
    };
    stdin.on('data', onData);
  });
}

/** The password: prompted without echo on a terminal, else one line from standard input. */
export async function readSecret(): Promise<string> {
  let value: string;
  if (process.stdin.isTTY) {
    value = await promptHidden('password: ');
    if (value !== (await promptHidden('again: '))) throw new RhevbootError('RB_ERR_INVALID', 'the two passwords differ; nothing changed');
  } else {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (!value || value.includes('\n')) throw new RhevbootError('RB_ERR_INVALID', 'the password must be one non-empty line');
  return value;
}

/** Asks a yes/no question on a terminal; anything but y/yes is no. Never asks without one. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
