/**
 * Versioned schema migrations, applied in order, each in its own transaction. A migration, once
 * released, is never edited: a change to the schema is a new entry at the end.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'distros, events, jobs, api tokens',
    sql: `
      CREATE TABLE distros (
        name TEXT NOT NULL,
        arch TEXT NOT NULL,
        family TEXT NOT NULL,
        version TEXT NOT NULL,
        volume_id TEXT NOT NULL,
        source_path TEXT NOT NULL,
        iso_sha256 TEXT NOT NULL,
        iso_bytes INTEGER NOT NULL,
        file_count INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        tree_path TEXT NOT NULL,
        kernel TEXT NOT NULL,
        initrd TEXT NOT NULL,
        pxe_initrd TEXT NOT NULL,
        pxe_initrd_sha256 TEXT NOT NULL,
        pxe_initrd_bytes INTEGER NOT NULL,
        imported_at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (name, arch)
      ) STRICT;

      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject_type TEXT NOT NULL,
        subject TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
      ) STRICT;
      CREATE INDEX events_subject ON events (subject_type, subject, id);

      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'interrupted')),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        progress TEXT NOT NULL,
        params TEXT NOT NULL,
        result TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX jobs_kind_subject ON jobs (kind, subject, state);
      -- At most one running job per kind and subject: two imports into one tree cannot both start.
      CREATE UNIQUE INDEX jobs_one_running ON jobs (kind, subject) WHERE state = 'running';

      CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'dhcp leases',
    sql: `
      CREATE TABLE dhcp_leases (
        ip TEXT PRIMARY KEY,
        mac TEXT NOT NULL,
        client_id TEXT,
        hostname TEXT,
        subnet TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('offered', 'bound', 'declined', 'released', 'expired')),
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX dhcp_leases_mac ON dhcp_leases (mac);
    `,
  },
  {
    version: 3,
    name: 'nodes',
    sql: `
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        ip TEXT,
        groups TEXT NOT NULL DEFAULT '[]',
        distro TEXT,
        arch TEXT NOT NULL,
        hypervisor TEXT NOT NULL,
        manager TEXT,
        cluster TEXT,
        storage_init TEXT,
        kernel_args TEXT NOT NULL DEFAULT '',
        attrs TEXT NOT NULL DEFAULT '{}',
        boot_action TEXT NOT NULL CHECK (boot_action IN ('install', 'local', 'discover')),
        status TEXT NOT NULL,
        status_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      -- Two nodes can never share an address or a NIC: the store refuses it, whatever the face.
      CREATE UNIQUE INDEX nodes_ip ON nodes (ip) WHERE ip IS NOT NULL;
      CREATE TABLE node_nics (
        mac TEXT PRIMARY KEY,
        node TEXT NOT NULL REFERENCES nodes (name) ON DELETE CASCADE,
        install INTEGER NOT NULL CHECK (install IN (0, 1)),
        position INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX node_nics_node ON node_nics (node);
    `,
  },
  {
    version: 4,
    name: 'secrets, per-node install trigger token',
    sql: `
      -- Write-only values: password hashes for the installer, never returned by the API or logged.
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      -- Set by nodeset install, carried in local_boot_trigger, checked when the installer calls.
      ALTER TABLE nodes ADD COLUMN trigger_token TEXT;
    `,
  },
  {
    version: 5,
    name: 'boot generation',
    sql: `
      -- One number that changes whenever anything a boot config is rendered from changes (nodes,
      -- their NICs, distros, secrets), from whichever process wrote it (the CLI writes next to a
      -- running server). The boot paths cache rendered configs under it and check it per request:
      -- cheap to read, and never stale. Events and leases, written per packet, do not bump it.
      CREATE TABLE boot_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value INTEGER NOT NULL
      ) STRICT;
      INSERT INTO boot_generation (id, value) VALUES (1, 0);
      CREATE TRIGGER nodes_insert_bumps_boot_generation AFTER INSERT ON nodes BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER nodes_update_bumps_boot_generation AFTER UPDATE ON nodes BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER nodes_delete_bumps_boot_generation AFTER DELETE ON nodes BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER node_nics_insert_bumps_boot_generation AFTER INSERT ON node_nics BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER node_nics_update_bumps_boot_generation AFTER UPDATE ON node_nics BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER node_nics_delete_bumps_boot_generation AFTER DELETE ON node_nics BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER distros_insert_bumps_boot_generation AFTER INSERT ON distros BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER distros_update_bumps_boot_generation AFTER UPDATE ON distros BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER distros_delete_bumps_boot_generation AFTER DELETE ON distros BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER secrets_insert_bumps_boot_generation AFTER INSERT ON secrets BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER secrets_update_bumps_boot_generation AFTER UPDATE ON secrets BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER secrets_delete_bumps_boot_generation AFTER DELETE ON secrets BEGIN UPDATE boot_generation SET value = value + 1; END;
    `,
  },
  {
    version: 6,
    name: 'engines, queued jobs',
    sql: `
      -- RHEV-M / oVirt engines rhevboot hands hosts to. The password is write-only (never returned
      -- or logged); it has to be usable to log in, so it is kept as given, in this 0600 file.
      CREATE TABLE engines (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        username TEXT NOT NULL,
        password TEXT NOT NULL,
        ca_pem TEXT,
        ca_fingerprint TEXT,
        api_version TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      -- A node's management_server= comes from its engine's URL: boot configs depend on engines.
      CREATE TRIGGER engines_insert_bumps_boot_generation AFTER INSERT ON engines BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER engines_update_bumps_boot_generation AFTER UPDATE ON engines BEGIN UPDATE boot_generation SET value = value + 1; END;
      CREATE TRIGGER engines_delete_bumps_boot_generation AFTER DELETE ON engines BEGIN UPDATE boot_generation SET value = value + 1; END;

      -- Jobs can now wait: the trigger queues a host registration in its own transaction, and a
      -- runner claims it. run_after spaces out retries; attempts counts them. SQLite cannot change
      -- a CHECK constraint in place, hence the copy.
      CREATE TABLE jobs_v6 (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        progress TEXT NOT NULL,
        params TEXT NOT NULL,
        result TEXT,
        error TEXT,
        run_after INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      INSERT INTO jobs_v6 (id, kind, subject, state, pid, host, progress, params, result, error, created_at, updated_at)
        SELECT id, kind, subject, state, pid, host, progress, params, result, error, created_at, updated_at FROM jobs;
      DROP TABLE jobs;
      ALTER TABLE jobs_v6 RENAME TO jobs;
      CREATE INDEX jobs_kind_subject ON jobs (kind, subject, state);
      CREATE INDEX jobs_queue ON jobs (kind, run_after) WHERE state = 'queued';
      -- At most one live job per kind and subject: two imports into one tree cannot both start,
      -- and a node never has two registrations in flight.
      CREATE UNIQUE INDEX jobs_one_live ON jobs (kind, subject) WHERE state IN ('queued', 'running');
    `,
  },
  {
    version: 7,
    name: 'libvirt managers',
    sql: `
      -- Engines are the managers VMs and hosts live in: RHEV-M / oVirt ('rhevm', url = the engine)
      -- or a plain KVM host through libvirt ('libvirt', url = a libvirt URI such as
      -- qemu+ssh://root@kvm1/system; no password: ssh keys). Placement looks at all of them.
      ALTER TABLE engines ADD COLUMN kind TEXT NOT NULL DEFAULT 'rhevm' CHECK (kind IN ('rhevm', 'libvirt'));
    `,
  },
];
