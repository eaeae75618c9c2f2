import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Liquid, type Template } from 'liquidjs';
import type { BootPlan } from '../domain/boot.js';
import { LOCAL_TEMPLATES } from '../domain/boot-plan.js';
import type { DistroDescriptor } from '../domain/distro.js';
import { RhevbootError } from '../errors.js';

export const BUILTIN_TEMPLATE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates');

/** Every variable a template may use (templates/README.md), with sample values. */
const SAMPLE = {
  node: { name: 'sample', ip: '10.0.0.1', groups: [], attrs: {} },
  distro: 'rhevh6.5/x86_64',
  kernel: 'k',
  initrd: 'i',
  kernelUrl: 'http://x/k',
  initrdUrl: 'http://x/i',
  cmdline: 'a=b',
  mac: '52-54-00-00-00-01',
  why: 'sample',
};

/**
 * Renders a plan's config (pxelinux, GRUB, iPXE) from its template; the plan has decided
 * everything, this only fills the template in. Templates are the built-in local ones and those the
 * distro descriptors name, parsed once at start and rendered once against a sample, so a template
 * that does not parse or names a variable that does not exist stops the start with its file and
 * line instead of failing a node at boot time. A plan's text is made once: plans are kept under
 * the store's generation, and a boot storm asks for the same ones again and again.
 */
export class ConfigRenderer {
  private readonly templates = new Map<string, Template[]>();
  private readonly engine = new Liquid({ strictVariables: true, strictFilters: true, ownPropertyOnly: true });
  private readonly rendered = new WeakMap<BootPlan, string>();

  constructor(opts: { descriptors: DistroDescriptor[]; templateDir?: string }) {
    const names = new Set(Object.values(LOCAL_TEMPLATES));
    for (const d of opts.descriptors) for (const loader of Object.values(d.boot.loaders)) names.add(loader.template);
    for (const name of names) this.load(opts.templateDir || BUILTIN_TEMPLATE_DIR, name);
  }

  private load(dir: string, file: string): void {
    const full = path.join(dir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (err) {
      throw new RhevbootError('RB_ERR_CONFIG', `cannot read template ${full}: ${(err as Error).message}`, { file: full });
    }
    try {
      const parsed = this.engine.parse(text, full);
      this.engine.renderSync(parsed, SAMPLE);
      this.templates.set(file, parsed);
    } catch (err) {
      const e = err as Error & { token?: { getPosition?: () => [number, number] } };
      const line = e.token?.getPosition?.()[0];
      throw new RhevbootError('RB_ERR_CONFIG', `${full}:${line ?? '?'}: bad template: ${e.message.split('\n')[0]}`, { file: full, line });
    }
  }

  /** The plan's config as its loader reads it, or undefined when the plan has none to serve. */
  render(plan: BootPlan): string | undefined {
    if (!plan.config || !plan.node) return undefined;
    let text = this.rendered.get(plan);
    if (text === undefined) {
      const { node } = plan;
      text = this.engine.renderSync(this.templates.get(plan.config.template)!, {
        node: { name: node.name, ip: node.ip ?? null, groups: node.groups, attrs: node.attrs },
        mac: node.mac,
        distro: plan.distro ? `${plan.distro.name}/${plan.distro.arch}` : '',
        kernel: plan.kernel?.path ?? '',
        initrd: plan.initrd?.path ?? '',
        kernelUrl: plan.kernel?.url ?? '',
        initrdUrl: plan.initrd?.url ?? '',
        cmdline: plan.cmdline ?? '',
        why: plan.why.join('; '),
      }) as string;
      this.rendered.set(plan, text);
    }
    return text;
  }
}
