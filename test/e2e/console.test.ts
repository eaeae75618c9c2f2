/**
 * The web console end to end in headless Chromium (Debian's, driven by playwright-core): log in
 * with the bootstrap token, add a node with the form, nodeset it to install from the table, then
 * watch its page follow a boot played over loopback (TFTP config, iPXE script, install trigger,
 * hand-off to an engine simulator) without a reload. Every page is screenshotted; the directory
 * is printed in the test diagnostics. No browser download, no network beyond loopback.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { distroRecord } from '../helpers/fixtures.js';
import { fakeGet } from '../helpers/tftp-fake-client.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
/** The node's own address: 127/8 is all loopback, so the test can speak from it (curl --interface). */
const NODE_IP = '127.0.0.3';
const MAC = '52:54:00:12:34:56';
const DISTRO = distroRecord({
  volumeId: 'RHEVH-6.5', sourcePath: '/srv/iso/rhevh-6.5.iso', isoSha256: 'a1'.repeat(32), isoBytes: 250_000_000,
  fileCount: 12, bytes: 260_000_000, pxeInitrdSha256: 'b2'.repeat(32), importedAt: new Date().toISOString(), durationMs: 41_000,
});

describe('web console in headless Chromium', () => {
  let app: Appliance;
  let sim: EngineSim;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  let token: string;
  let shots: string;
  const browserErrors: string[] = [];
  const failedLoads = new Set<string>();

  before(async () => {
    // Fail, never skip, without a browser: the console would otherwise go untested in CI.
    await access(CHROMIUM, constants.X_OK).catch(() => {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (test/setup/system-packages.txt)`);
    });
    const dir = await tempDir('rhevboot-console-');
    // The TFTP server listens on the node's address so that the fake client, bound to that same
    // address, is seen as the node (TFTP contacts are matched to nodes by source address).
    const env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: NODE_IP, RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080' };
    app = await startAppliance(loadConfig({ env }), { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    token = (await readFile(path.join(dir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
    // An imported distro as copycds leaves it, so that install is allowed (the tree is not needed).
    await app.store.distros.put(DISTRO);
    sim = await EngineSim.start({ version: 4, stepMs: 5 });
    await app.services.engines.add({ name: 'rhevm1', url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password });
    // Another host of the engine, waiting for approval: the Engines page counts hosts by state.
    sim.registerNode({ name: 'other.example.com', address: '10.0.0.9', uniqueId: 'U-other' });

    // Kept after the run (not a tempDir): the screenshots are for people to look at.
    shots = await mkdtemp(path.join(os.tmpdir(), 'rhevboot-console-shots-'));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // A CSP violation or an uncaught error in the bundle is a failure even if the page looks fine.
    // Failed loads are checked by URL below, from the responses.
    page.on('console', (m) => void (m.type() === 'error' && !m.text().startsWith('Failed to load resource') && browserErrors.push(m.text())));
    page.on('pageerror', (err) => void browserErrors.push(String(err)));
    page.on('response', (r) => void (r.status() >= 400 && failedLoads.add(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`)));
  });

  after(async () => {
    await browser?.close();
    await sim?.close();
    await app?.stop('test over');
  });

  const shoot = async (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const row = (name: string) => page.locator(`tr[data-node="${name}"]`);
  /** From the node's own address, as the node's firmware or installer would. */
  const curlFromNode = async (url: string) => {
    const { stdout } = await exec('curl', ['-s', '--interface', NODE_IP, '-w', '\n%{http_code}', url]);
    const i = stdout.lastIndexOf('\n');
    return { body: stdout.slice(0, i), status: Number(stdout.slice(i + 1)) };
  };

  it('logs in with a pasted token (and refuses a wrong one)', async (t) => {
    t.diagnostic(`screenshots: ${shots}`);
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await page.getByLabel('API token').fill('rbt_not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'RB_ERR_UNAUTHORIZED' }).waitFor();
    await shoot('01-login-refused');
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Nodes' }).waitFor();
    await page.locator('#live-state', { hasText: 'live' }).waitFor();
    assert.equal(await page.evaluate(`sessionStorage.getItem('rhevboot.token')`), token);
  });

  it('adds a node with the form', async () => {
    await page.getByText('Add a node').click();
    const form = page.getByRole('form', { name: 'Add a node' });
    await form.getByLabel('Name').fill('n1');
    await form.getByLabel('MAC(s)').fill(MAC);
    await form.getByLabel('IP').fill(NODE_IP);
    await form.getByLabel('Distro').selectOption('rhevh6.5');
    await form.getByLabel('Engine').selectOption('rhevm1');
    await form.getByRole('button', { name: 'Add node' }).click();
    await row('n1').waitFor();
    assert.match(await row('n1').innerText(), new RegExp(`${MAC}[\\s\\S]*${NODE_IP.replace(/\./g, '\\.')}[\\s\\S]*defined[\\s\\S]*rhevh6\\.5[\\s\\S]*rhevm1[\\s\\S]*never`));
    // The API's per-field refusal reaches the form: the same MAC again.
    await form.getByLabel('Name').fill('n2');
    await form.getByLabel('MAC(s)').fill(MAC);
    await form.getByRole('button', { name: 'Add node' }).click();
    await page.getByRole('alert').filter({ hasText: 'already belongs to node n1' }).waitFor();
    await form.getByLabel('MAC(s)').fill('52:54:00:12:34:57');
    await form.getByRole('button', { name: 'Add node' }).click();
    await row('n2').waitFor();
  });

  it('filters by status and noderange, and nodesets the selected nodes to install', async () => {
    await page.getByRole('search').getByLabel('Noderange').fill('n2');
    await page.getByRole('search').getByRole('button', { name: 'Filter' }).click();
    await row('n1').waitFor({ state: 'detached' });
    await page.getByRole('search').getByLabel('Noderange').fill('');
    await page.getByRole('search').getByRole('button', { name: 'Filter' }).click();
    await row('n1').waitFor();

    await page.getByLabel('Select n1').check();
    await page.getByLabel('Boot next').selectOption('install');
    await page.getByRole('button', { name: 'Nodeset' }).click();
    await page.getByRole('status').filter({ hasText: 'n1 local → install' }).waitFor();
    await row('n1').locator('td.status', { hasText: 'install' }).waitFor();
    await page.getByLabel('Status').selectOption('install');
    await row('n2').waitFor({ state: 'detached' });
    await shoot('02-nodes');
    await page.getByLabel('Status').selectOption('');
  });

  it("follows the node's boot on its page, live, without a reload", async () => {
    await row('n1').getByRole('link', { name: 'n1' }).click();
    await page.getByRole('heading', { name: /^n1/ }).waitFor();
    await page.locator('#timeline tr[data-kind="node.nodeset"]').waitFor();
    // The exact config the node gets now: pxelinux for BIOS, the iPXE script for iPXE.
    await page.locator('pre.config', { hasText: 'KERNEL distros/rhevh6.5/x86_64/isolinux/vmlinuz0' }).waitFor();
    await page.getByLabel('iPXE').check();
    await page.locator('pre.config', { hasText: 'local_boot_trigger=' }).first().waitFor();
    await page.locator('#node-status', { hasText: 'install' }).waitFor();
    // Survives only if the page is never reloaded. (Browser-side code is passed as strings: this
    // file is type-checked without the DOM library.)
    await page.evaluate('window.noReload = true');

    // 1. The node's PXE stack fetches its config over TFTP, from its own address.
    const cfg = await fakeGet({ host: NODE_IP, port: app.boot.tftp!.port, file: `pxelinux.cfg/01-${MAC.replace(/:/g, '-')}` });
    assert.ok(cfg.ok, cfg.reason);
    await page.locator('#timeline tr[data-kind="node.tftp"]').waitFor();
    await page.locator('#node-status', { hasText: 'installing' }).waitFor();
    await page.locator('#install-steps li.done[data-step="TFTP / HTTP"]').waitFor();

    // 2. iPXE fetches its script over HTTP; it carries the trigger URL with this install's token.
    await new Promise((r) => setTimeout(r, 600));
    const script = await curlFromNode(`${base}/boot/ipxe/${MAC.replace(/:/g, '-')}`);
    assert.equal(script.status, 200);
    const trigger = /local_boot_trigger=\S+?(\/xcatrhevh\/rhevh_finish_install\/)@HOSTNAME@(\?token=[A-Za-z0-9_-]+)/.exec(script.body);
    assert.ok(trigger, script.body);
    await shoot('03-node-installing');

    // 3. RHEV-H registers itself with the engine on first boot, then the installer calls the trigger.
    await new Promise((r) => setTimeout(r, 600));
    sim.registerNode({ name: 'n1.example.com', address: NODE_IP, uniqueId: 'U-n1' }, NODE_IP);
    const fired = await curlFromNode(`${base}${trigger[1]}n1${trigger[2]}`);
    assert.equal(fired.status, 200, fired.body);
    await page.locator('#timeline tr[data-kind="node.booted"]').waitFor();
    await page.locator('#install-steps li.done[data-step="install trigger"] .since').waitFor();

    // 4. The hand-off: approved in the engine, up. The page follows to the end.
    await page.locator('#node-status', { hasText: 'up' }).waitFor({ timeout: 30_000 });
    await page.locator('#install-steps li.done[data-step="registration"]').waitFor();
    await page.getByRole('region', { name: 'RHEV-M host' }).getByText('up', { exact: true }).waitFor();
    assert.equal(await page.evaluate('window.noReload'), true, 'the page was reloaded');
    const steps = await page.locator('#install-steps').innerText();
    assert.match(steps, /nodeset install[\s\S]*TFTP \/ HTTP[\s\S]*\+\d[\s\S]*install trigger[\s\S]*\+\d[\s\S]*registration[\s\S]*\+\d/);
    await shoot('04-node-up');
  });

  it('shows the boot status in the table without a reload', async () => {
    await page.getByRole('link', { name: 'Nodes' }).first().click();
    await row('n1').locator('td.status', { hasText: 'up' }).waitFor();
    assert.doesNotMatch(await row('n1').innerText(), /never/, 'last contact is known');
  });

  it('shows distros with checksums and an import with a live progress bar', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Distros' }).click();
    await page.getByRole('table', { name: 'Distros' }).getByText(DISTRO.isoSha256).waitFor();
    await page.getByText('No import running.').waitFor();
    // An import as copycds runs it: a job whose progress is recorded as it goes.
    const job = await app.services.jobs.start('copycds', 'rhevh7.0/x86_64', { iso: '/srv/iso/rhevh-7.0.iso' }, 4_000_000);
    job.progress({ phase: 'copy', done: 1_000_000, total: 4_000_000 });
    const bar = page.getByRole('progressbar', { name: /Import of rhevh7\.0/ });
    await bar.waitFor();
    await page.locator('progress[value="1000000"][max="4000000"]').waitFor();
    await new Promise((r) => setTimeout(r, 600));
    job.progress({ phase: 'copy', done: 3_000_000, total: 4_000_000 });
    await page.locator('progress[value="3000000"]').waitFor();
    await page.getByText(/Import of rhevh7\.0\/x86_64: copy 75%/).waitFor();
    await shoot('05-distros-importing');
    await job.fail({ code: 'RB_ERR_IMPORT', message: 'test: stopped on purpose' });
    await page.getByText('test: stopped on purpose').waitFor();
    await page.getByText('No import running.').waitFor();
  });

  it('shows engines: reachable, API version, hosts by state', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Engines' }).click();
    const card = page.locator('article[data-engine="rhevm1"]');
    await card.getByText('reachable').waitFor();
    await card.getByRole('button', { name: 'Test login' }).click();
    await card.getByRole('status').filter({ hasText: 'logged in: API v4' }).waitFor();
    await card.getByText(/^4 \//).waitFor();
    const hosts = await card.locator('ul.counts').innerText();
    assert.match(hosts, /pending approval\s*1/);
    assert.match(hosts, /up\s*1/);
    await shoot('06-engines');
  });

  it('logs out, and the browser saw no errors or CSP violations', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(`sessionStorage.getItem('rhevboot.token')`), null);
    assert.deepEqual(browserErrors, []);
    // Only the refusals the test asked for (and the favicon the browser guesses at).
    assert.deepEqual([...failedLoads].filter((l) => !l.endsWith(' /favicon.ico')).sort(), ['400 POST /api/v1/nodes', '401 GET /api/v1/version']);
  });
});
