import { z } from 'zod';
import { CONFIG_KINDS, type ConfigKind } from './boot.js';
import { KERNEL_ARG_RECIPES } from './kernel-args.js';

/**
 * Distro descriptors (files under distro/) and the pure decisions made from them: does an ISO
 * belong to a family, what is it called, where are its kernel and initrd. No I/O here: the media
 * service gathers the facts from the ISO and asks.
 */

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((c) => c === '..' || c === '.') && !p.includes('\0'), {
    message: 'must be a relative path inside the tree, without . or .. components',
  });

/** A template file name under templates/ (or boot.templateDir): a plain name, nothing to escape with. */
const templateName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a file name in the templates directory');

/** How one loader installs the family: the template it renders, and whether the loader adds BOOTIF itself. */
const loaderRecipe = z
  .object({
    template: templateName,
    /** pxelinux's IPAPPEND 2 appends `BOOTIF=01-<mac>` of the NIC that booted; others need it written out. */
    bootif: z.enum(['appended-by-loader', 'in-cmdline']).default('in-cmdline'),
  })
  .strict();

const namingRule = z.object({
  source: z.string().min(1),
  pattern: z.string().min(1),
  flags: z.string().regex(/^[imsu]*$/).optional(),
  name: z.string().min(1),
  version: z.string().optional(),
});

export const descriptorSchema = z
  .object({
    family: z.string().regex(/^[a-z][a-z0-9-]*$/),
    title: z.string().min(1),
    arches: z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1),
    defaultArch: z.string(),
    recognise: z.object({
      files: z.array(relPath).min(1),
      contains: z.array(z.object({ file: relPath, pattern: z.string().min(1), flags: z.string().regex(/^[imsu]*$/).optional() })).default([]),
    }),
    naming: z.array(namingRule).default([]),
    install: z.object({
      isoName: z.string().regex(/^[A-Za-z0-9._-]+$/),
      extract: z.array(relPath).min(1),
      kernel: relPath,
      initrd: relPath,
      pxeInitrd: relPath,
    }),
    /**
     * How a node installs it over the network: which loaders can (and their templates) and the
     * kernel-argument recipe. A new family is a descriptor and templates, not a branch in the code.
     */
    boot: z
      .object({
        recipe: z.enum(Object.keys(KERNEL_ARG_RECIPES) as [keyof typeof KERNEL_ARG_RECIPES]),
        /** The constant part of the installer's command line; the recipe adds the per-node part. */
        kernelArgs: z.string().default(''),
        loaders: z.partialRecord(z.enum(CONFIG_KINDS as [ConfigKind, ...ConfigKind[]]), loaderRecipe).refine((l) => Object.keys(l).length > 0, 'at least one loader must install the family'),
      })
      .strict(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (!d.arches.includes(d.defaultArch)) ctx.addIssue({ code: 'custom', path: ['defaultArch'], message: `must be one of ${d.arches.join(', ')}` });
    for (const [i, rule] of d.naming.entries()) {
      try {
        new RegExp(rule.pattern, rule.flags);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['naming', i, 'pattern'], message: (err as Error).message });
      }
    }
    for (const [i, rule] of d.recognise.contains.entries()) {
      try {
        new RegExp(rule.pattern, rule.flags);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['recognise', 'contains', i, 'pattern'], message: (err as Error).message });
      }
    }
  });

export type DistroDescriptor = z.infer<typeof descriptorSchema>;

/** What the media service learned from an ISO, enough to recognise it. */
export interface IsoFacts {
  volumeId: string;
  /** Paths that exist in the ISO, among those descriptors ask about. */
  present: Set<string>;
  /** Text content of the files descriptors match patterns against (absent if missing or too large). */
  text: Map<string, string>;
}

/** The paths whose existence or content a set of descriptors needs to know. */
export function factsNeeded(descriptors: DistroDescriptor[]): { paths: string[]; textFiles: string[] } {
  const paths = new Set<string>();
  const textFiles = new Set<string>();
  for (const d of descriptors) {
    for (const f of d.recognise.files) paths.add(f);
    for (const c of d.recognise.contains) textFiles.add(c.file);
    for (const n of d.naming) if (n.source !== 'volumeId') textFiles.add(n.source);
  }
  for (const t of textFiles) paths.add(t);
  return { paths: [...paths], textFiles: [...textFiles] };
}

export interface Mismatch {
  family: string;
  missing: string[];
  unmatched: { file: string; pattern: string }[];
}

export type Recognition = { ok: true; descriptor: DistroDescriptor } | { ok: false; mismatches: Mismatch[] };

export function recognise(descriptors: DistroDescriptor[], facts: IsoFacts): Recognition {
  const mismatches: Mismatch[] = [];
  for (const d of descriptors) {
    const missing = d.recognise.files.filter((f) => !facts.present.has(f));
    const unmatched = d.recognise.contains.filter((c) => !new RegExp(c.pattern, c.flags).test(facts.text.get(c.file) ?? ''));
    if (missing.length === 0 && unmatched.length === 0) return { ok: true, descriptor: d };
    mismatches.push({ family: d.family, missing, unmatched: unmatched.map((u) => ({ file: u.file, pattern: u.pattern })) });
  }
  return { ok: false, mismatches };
}

/**
 * The admin-facing explanation of why an ISO was not recognised; `topLevel` (the ISO's top-level
 * names) shows what it looks like instead.
 */
export function explainMismatch(isoPath: string, descriptors: DistroDescriptor[], facts: IsoFacts, mismatches: Mismatch[], topLevel: string[]): string {
  const lines = [`${isoPath} is not a recognised hypervisor ISO (volume id '${facts.volumeId}').`];
  for (const m of mismatches) {
    const d = descriptors.find((x) => x.family === m.family)!;
    const lookedFor = [...d.recognise.files, ...d.recognise.contains.map((c) => `${c.file} matching /${c.pattern}/`)];
    lines.push(`  ${d.family} (${d.title}): looked for ${lookedFor.join(', ')}.`);
    if (m.missing.length) lines.push(`    missing: ${m.missing.join(', ')}`);
    for (const u of m.unmatched) lines.push(`    ${u.file} does not match /${u.pattern}/${facts.present.has(u.file) ? '' : ' (file missing)'}`);
  }
  const shown = topLevel.slice(0, 20);
  lines.push(`  found at the top level: ${shown.length ? shown.join(', ') : '(nothing)'}${topLevel.length > shown.length ? ', ...' : ''}`);
  return lines.join('\n');
}

function fillTemplate(template: string, groups: RegExpMatchArray): string {
  return template.replace(/\{(\d+)\}/g, (_, i: string) => groups[Number(i)] ?? '');
}

/** Derives name and version from the descriptor's naming rules, or undefined if none matches. */
export function deriveName(d: DistroDescriptor, facts: IsoFacts): { name: string; version: string } | undefined {
  for (const rule of d.naming) {
    const subject = rule.source === 'volumeId' ? facts.volumeId : facts.text.get(rule.source);
    if (subject === undefined) continue;
    const m = subject.match(new RegExp(rule.pattern, rule.flags));
    if (m) return { name: fillTemplate(rule.name, m).toLowerCase(), version: rule.version ? fillTemplate(rule.version, m) : '' };
  }
  return undefined;
}

const DISTRO_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

/** A distro name becomes a directory name and a URL segment: keep it to a safe alphabet. */
export function validateDistroName(name: string): string | undefined {
  if (!DISTRO_NAME.test(name) || name.includes('..')) {
    return `distro name '${name}' must be 1-63 letters, digits, '.', '_' or '-', start with a letter or digit, and not contain '..'`;
  }
  return undefined;
}

/** xCAT normalises i?86 to x86; we accept the same spellings admins type. */
export function normaliseArch(arch: string): string {
  const a = arch.trim().toLowerCase();
  if (a === 'amd64' || a === 'x64') return 'x86_64';
  if (/^i[3-6]86$/.test(a)) return 'x86';
  return a;
}

/** True when `path` is inside one of the descriptor's extract entries (`dir/` prefixes or exact files). */
export function isExtracted(d: DistroDescriptor, path: string): boolean {
  return d.install.extract.some((e) => (e.endsWith('/') ? path === e.slice(0, -1) || path.startsWith(e) : path === e));
}

/** An imported distro as the store keeps it: where its tree is and what was made from the ISO. */
export interface DistroRecord {
  name: string;
  arch: string;
  family: string;
  version: string;
  volumeId: string;
  /** Where the ISO was imported from (informational; the tree keeps its own copy). */
  sourcePath: string;
  isoSha256: string;
  isoBytes: number;
  /** Files written into the tree (extracted files, the ISO copy, the PXE initrd). */
  fileCount: number;
  /** Bytes written into the tree. */
  bytes: number;
  treePath: string;
  /** Paths relative to treePath. */
  kernel: string;
  initrd: string;
  pxeInitrd: string;
  pxeInitrdSha256: string;
  pxeInitrdBytes: number;
  importedAt: string;
  durationMs: number;
}
