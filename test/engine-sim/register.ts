// The node side of the engine (ovirt-api.md §8, §2.4): the host-register servlet (protocol v1 used
// by `vdsm-tool register`, and the legacy v0 used by vdsm-reg with its old URLs), the
// unauthenticated PKI resources, and what the engine does with a registration (§8.4).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EngineConfigView } from './api.js';
import { defaultNics, managementNetworkOf, runHostDeploy } from './hosts.js';
import type { EngineState, Host } from './state.js';

export interface NodeRegistration { name?: string; address?: string; uniqueId?: string; port?: number; sshUser?: string; sshPort?: number }

export class RegistrationError extends Error {}

/**
 * RegisterVdsQuery (§8.4): a new node becomes a host in pending_approval in the auto-registration
 * cluster (else "Default", else the first cluster); a known unique id that is still pending is
 * approved automatically; a known unique id that is past pending is accepted unchanged;
 * AutoApprovePatterns skip the pending state.
 */
export function registerNode(st: EngineState, cfg: EngineConfigView, reg: NodeRegistration, sourceIp: string): Host {
  const uniqueId = reg.uniqueId?.trim();
  if (!uniqueId) throw new RegistrationError('Unique id was not provided');
  const address = reg.address?.trim() || sourceIp;
  const name = reg.name?.trim() || uniqueId;
  const existing = [...st.hosts.values()].find((h) => h.uniqueId === uniqueId);
  if (existing) {
    if (existing.status === 'pending_approval') {
      // dispatchOvirtApprovalCommand: a re-registration of a pending node approves it.
      const job = st.startJob(`Approving Host ${existing.name}`, undefined);
      runHostDeploy(st, existing, { activate: true, job });
    }
    return existing;
  }
  const clusterId = (cfg.autoRegistrationClusterId && st.clusters.has(cfg.autoRegistrationClusterId) ? cfg.autoRegistrationClusterId : undefined)
    ?? st.clusterByName('Default')?.id ?? [...st.clusters.keys()][0];
  if (!clusterId) {
    st.event({ code: 160, severity: 'error', description: `Host ${name} registration failed: no valid cluster.` });
    throw new RegistrationError('No valid cluster for registration');
  }
  // Other hosts that claimed this address are renamed out of the way; duplicate names get a suffix.
  let n = 0;
  for (const other of st.hosts.values()) if (other.address === address) other.address = `hostname-was-${address}-${++n}`;
  let finalName = name;
  for (let i = 1; [...st.hosts.values()].some((h) => h.name === finalName); i++) finalName = `${name}${i}`;
  const autoApprove = cfg.autoApprovePatterns.some((re) => re.test(name) || re.test(uniqueId));
  const h: Host = {
    id: st.newId(), name: finalName, address, port: reg.port ?? 54321, clusterId, status: 'pending_approval', type: 'ovirt_node',
    uniqueId, sshPort: reg.sshPort ?? 22, sshUser: reg.sshUser ?? 'root', nics: defaultNics(st, address, managementNetworkOf(st, clusterId)),
    powerManagement: { enabled: false, options: {} }, spmPriority: 5, netConfigDirty: false, origin: 'registration', memory: 8371830784,
  };
  st.hosts.set(h.id, h);
  st.event({ code: 10000 + 1, severity: 'normal', description: `Host ${h.name} registered and is waiting for approval.`, hostId: h.id, clusterId });
  if (autoApprove) runHostDeploy(st, h, { activate: true, job: st.startJob(`Approving Host ${h.name}`, undefined) });
  return h;
}

/** The engine's UTC time as `yyyy-MM-dd'T'HH:mm:ss`, the v0 success body (§8.2). */
const engineTime = (): string => new Date().toISOString().slice(0, 19);

export interface NodeSideOptions {
  st: () => EngineState;
  cfg: EngineConfigView;
  caPem: () => string;
  engineCertPem: () => string;
  sshPublicKey: () => string;
  /** RHEV-M 3.0–3.3 have no v1 protocol (host-register v1 is engine ≥ 3.4, §8.3). */
  v1: boolean;
}

export function nodeSideRoutes(app: FastifyInstance, o: NodeSideOptions): void {
  const q = (req: FastifyRequest): Record<string, string | undefined> => req.query as Record<string, string | undefined>;

  const v0 = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const p = q(req);
    if (!p['vds_ip']) return reply.code(500).type('text/html').send('Registration failed: vds_ip is missing');
    try {
      // v0: the engine strips the "_<mac>" suffix vdsm-reg appends to the unique id (§8.2).
      const uid = p['vds_unique_id']?.replace(/_([0-9a-f]{2}[:-]?){5}[0-9a-f]{2}$/i, '');
      registerNode(o.st(), o.cfg, { address: p['vds_ip'], ...(p['vds_name'] ? { name: p['vds_name'] } : {}), ...(uid ? { uniqueId: uid } : {}), ...(p['port'] ? { port: Number(p['port']) } : {}) }, req.ip);
    } catch (e) {
      return reply.code(500).type('text/html').send(`Registration failed: ${(e as Error).message}`);
    }
    return reply.code(200).type('text/html').send(engineTime());
  };

  const hostRegister = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const p = q(req);
    if (p['version'] === undefined) return v0(req, reply);
    if (p['version'] !== '1' || !o.v1) return reply.code(400).type('text/plain').send(`Invalid registration protocol version ${p['version']}`);
    switch (p['command']) {
      case undefined:
      case '':
        return reply.code(400).type('text/plain').send('Missing command');
      case 'get-version':
        return reply.type('text/plain').send('1');
      case 'get-pki-trust':
        return reply.type('application/x-x509-ca-cert').send(o.caPem());
      case 'get-ssh-trust':
        return reply.type('text/plain').send(o.sshPublicKey());
      case 'register':
        try {
          registerNode(o.st(), o.cfg, {
            ...(p['name'] ? { name: p['name'] } : {}), ...(p['address'] ? { address: p['address'] } : {}), ...(p['uniqueId'] ? { uniqueId: p['uniqueId'] } : {}),
            ...(p['port'] ? { port: Number(p['port']) } : {}), ...(p['sshUser'] ? { sshUser: p['sshUser'] } : {}), ...(p['sshPort'] ? { sshPort: Number(p['sshPort']) } : {}),
          }, req.ip);
        } catch (e) {
          return reply.code(400).type('text/plain').send((e as Error).message);
        }
        return reply.type('text/plain').send('OK\n');
      default:
        return reply.code(400).type('text/plain').send(`Invalid command '${p['command']}'`);
    }
  };

  app.get('/ovirt-engine/services/host-register', hostRegister);
  // §8.2: the root webapp forwards the vdsm-reg URLs to the same servlet.
  for (const legacy of ['/OvirtEngineWeb/register', '/OvirtEngineWeb/VdsAutoRegistration.aspx', '/RHEVManagerWeb/VdsAutoRegistration.aspx']) app.get(legacy, hostRegister);

  // §2.4 PKI resources (unauthenticated).
  app.get('/ovirt-engine/services/pki-resource', (req, reply) => {
    const p = q(req);
    const pick = (): [string, string] | undefined => {
      if (p['resource'] === 'ca-certificate' && p['format'] === 'X509-PEM-CA') return ['application/x-x509-ca-cert', o.caPem()];
      if (p['resource'] === 'engine-certificate' && p['format'] === 'X509-PEM') return ['application/x-x509-cert', o.engineCertPem()];
      if (p['resource'] === 'engine-certificate' && p['format'] === 'OPENSSH-PUBKEY') return ['text/plain', o.sshPublicKey()];
      if (p['resource'] === 'qemu-ca-certificate' && p['format'] === 'X509-PEM-CA') return ['application/x-x509-ca-cert', o.caPem()];
      return undefined;
    };
    const found = pick();
    if (!found) return reply.code(400).type('text/plain').send('Invalid resource or format');
    return reply.type(found[0]).send(found[1]);
  });
  app.get('/ca.crt', (_req, reply) => reply.type('application/x-x509-ca-cert').send(o.caPem()));
  for (const k of ['/engine.ssh.key.txt', '/rhevm.ssh.key.txt']) app.get(k, (_req, reply) => reply.type('text/plain').send(o.sshPublicKey()));
}
