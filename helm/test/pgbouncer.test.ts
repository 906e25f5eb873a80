/**
 * PgBouncer (`pgbouncer.enabled`): transaction pooling between the API/worker and PostgreSQL.
 * Off, nothing changes; on, the API and the worker read a DATABASE_URL that names PgBouncer's
 * Service, the migrations still connect directly (the pre-install hook runs before PgBouncer
 * exists), the NetworkPolicies open exactly those paths, and the rendered pgbouncer.ini and auth
 * file work: a real `pgbouncer` runs them against the test PostgreSQL.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../backend/test/support/pgbouncer.js';
import { freshPostgresDatabase } from '../../backend/test/support/services.js';
import {
  type Free,
  find,
  findAll,
  type K8sObject,
  render,
  renderEnvironment,
  renderRaw,
  valuesFiles,
} from './support/index.js';

const directUrl = 'postgresql://ipa:pw@db.example:6543/ipa?sslmode=require';
const external = { secrets: { databaseUrl: directUrl, redisUrl: 'redis://redis:6379' } };
const enabled = { ...external, pgbouncer: { enabled: true }, networkPolicy: { enabled: true } };
const decode = (value: string) => Buffer.from(value, 'base64').toString('utf8');
const service = 'ipa-ipa-platform-pgbouncer';

const named = (objects: K8sObject[]) => objects.filter((o) => o.metadata.name.endsWith('-pgbouncer'));
const env = (container: Free, name: string) => container.env.find((e: Free) => e.name === name);
const main = (objects: K8sObject[], suffix: string) =>
  find(objects, 'Deployment', suffix).spec.template.spec.containers[0];
const ini = (objects: K8sObject[]) =>
  find(objects, 'ConfigMap', '-pgbouncer').data['pgbouncer.ini'] as string;
const setting = (text: string, key: string) => new RegExp(`^${key} = (.*)$`, 'm').exec(text)?.[1];
/** DATABASE_PREPARED_STATEMENTS in the platform's ConfigMap (the API's and the worker's settings). */
const prepared = (objects: K8sObject[]) =>
  find(objects, 'ConfigMap', 'ipa-platform').data.DATABASE_PREPARED_STATEMENTS as string;
const component = (peer: Free) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'];

describe('PgBouncer off (the default)', () => {
  it('renders nothing of it and the API reads DATABASE_URL as given', async () => {
    const objects = await render({ values: external });
    expect(named(objects)).toEqual([]);
    const secret = find(objects, 'Secret', 'ipa-platform');
    expect(Object.keys(secret.data)).not.toContain('PGBOUNCER_DATABASE_URL');
    expect(decode(secret.data.DATABASE_URL)).toBe(directUrl);
    expect(env(main(objects, '-backend'), 'DATABASE_URL').valueFrom.secretKeyRef.key).toBe('DATABASE_URL');
  });

  it('prepared statements on, unless turned off for an external transaction-pooling PgBouncer', async () => {
    expect(prepared(await render({ values: external }))).toBe('true');
    const off = { ...external, config: { databasePreparedStatements: false } };
    expect(prepared(await render({ values: off }))).toBe('false');
  });
});

describe('PgBouncer on, external PostgreSQL from secrets.databaseUrl', () => {
  it('Deployment, Service, ConfigMap, Secret, PodDisruptionBudget and NetworkPolicy', async () => {
    const kinds = named(await render({ values: enabled })).map((o) => o.kind);
    expect(kinds.sort()).toEqual(
      ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret', 'Service'].sort(),
    );
  });

  it('pgbouncer.ini: transaction pooling, the parsed upstream, no password', async () => {
    const text = ini(await render({ values: enabled }));
    expect(setting(text, 'pool_mode')).toBe('transaction');
    expect(setting(text, 'ipa')).toBe('host=db.example port=6543 dbname=ipa user=ipa');
    expect(setting(text, 'server_tls_sslmode')).toBe('require');
    expect(setting(text, 'auth_file')).toBe('/etc/pgbouncer/userlist.txt');
    expect(setting(text, 'default_pool_size')).toBe('20');
    expect(text).not.toContain('pw');
  });

  it('the schema allows transaction pooling only', async () => {
    const result = await renderRaw({
      values: { ...enabled, pgbouncer: { enabled: true, poolMode: 'session' } },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('poolMode');
  });

  it('prepared statements off: transaction pooling without max_prepared_statements cannot carry them', async () => {
    const asked = { ...enabled, config: { databasePreparedStatements: true } };
    expect(prepared(await render({ values: asked }))).toBe('false');
    expect(setting(ini(await render({ values: enabled })), 'max_prepared_statements')).toBeUndefined();
  });

  it('the API and the worker read the pooled URL; the migration hook gets the direct one', async () => {
    const objects = await render({ values: enabled });
    const secret = find(objects, 'Secret', 'ipa-platform');
    expect(decode(secret.data.PGBOUNCER_DATABASE_URL)).toBe(`postgresql://ipa:pw@${service}:5432/ipa`);
    expect(decode(secret.data.DATABASE_URL)).toBe(directUrl);
    for (const suffix of ['-backend', '-worker']) {
      expect(env(main(objects, suffix), 'DATABASE_URL').valueFrom.secretKeyRef, suffix).toEqual({
        name: 'ipa-ipa-platform',
        key: 'PGBOUNCER_DATABASE_URL',
      });
    }
    const job = find(objects, 'Job', '-migrations').spec.template.spec.containers[0];
    const ref = env(job, 'DATABASE_URL').valueFrom.secretKeyRef;
    expect(decode(find(objects, 'Secret', ref.name).data[ref.key])).toBe(directUrl);
    const userlist = decode(find(objects, 'Secret', '-pgbouncer').data['userlist.txt']);
    expect(userlist).toBe('"ipa" "pw"\n');
  });

  it('secrets as files: the pooled URL is mounted under the DATABASE_URL name', async () => {
    const objects = await render({
      values: { ...enabled, secrets: { ...external.secrets, deliverAs: 'files' } },
    });
    const volume = find(objects, 'Deployment', '-worker').spec.template.spec.volumes.find(
      (v: Free) => v.name === 'secrets',
    );
    expect(volume.secret.items).toContainEqual({ key: 'PGBOUNCER_DATABASE_URL', path: 'DATABASE_URL' });
  });

  it('hardened pod: tcpSocket probes, read-only root, the config mounted read-only', async () => {
    const pod = find(await render({ values: enabled }), 'Deployment', '-pgbouncer').spec.template.spec;
    const c = pod.containers[0];
    expect(c.readinessProbe.tcpSocket).toEqual({ port: 'postgresql' });
    expect(c.livenessProbe.tcpSocket).toEqual({ port: 'postgresql' });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.command).toEqual(['pgbouncer', '/etc/pgbouncer/pgbouncer.ini']);
    expect(c.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/pgbouncer', readOnly: true });
    expect(c.resources.limits.memory).toBeTruthy();
  });

  it('NetworkPolicies: only the API and the worker reach PgBouncer, only PgBouncer reaches the database', async () => {
    const objects = await render({
      values: { ...enabled, networkPolicy: { enabled: true, database: { cidrs: ['10.20.0.0/16'] } } },
    });
    const port = find(objects, 'Deployment', '-pgbouncer').spec.template.spec.containers[0].ports[0];
    expect(port).toEqual({ name: 'postgresql', containerPort: 5432, protocol: 'TCP' });
    const bouncer = find(objects, 'NetworkPolicy', '-pgbouncer').spec;
    expect(bouncer.ingress).toHaveLength(1);
    expect(bouncer.ingress[0].from.map(component)).toEqual(['backend', 'worker']);
    expect(bouncer.ingress[0].ports).toEqual([{ port: 'postgresql', protocol: 'TCP' }]);
    expect(bouncer.egress.at(-1)).toEqual({
      ports: [{ port: 5432, protocol: 'TCP' }],
      to: [{ ipBlock: { cidr: '10.20.0.0/16' } }],
    });
    for (const suffix of ['-backend', '-worker']) {
      const egress: Free[] = find(objects, 'NetworkPolicy', suffix).spec.egress;
      const toBouncer = egress.filter((r) => r.to?.some((p: Free) => component(p) === 'pgbouncer'));
      expect(
        toBouncer.map((r) => r.ports),
        suffix,
      ).toEqual([[{ port: port.containerPort, protocol: 'TCP' }]]);
      // with hook migrations, neither process reaches the database itself
      const direct = egress.filter((r) => r.to?.some((p: Free) => p.ipBlock?.cidr === '10.20.0.0/16'));
      expect(direct, suffix).toEqual([]);
    }
    const api = find(objects, 'Service', '-pgbouncer').spec.ports[0];
    expect(api).toMatchObject({ name: 'postgresql', port: 5432, targetPort: 'postgresql' });
  });

  it('a percent-encoded password needs pgbouncer.upstream.password', async () => {
    const encoded = { secrets: { ...external.secrets, databaseUrl: 'postgresql://ipa:p%40ss@db:5432/ipa' } };
    const refused = await renderRaw({ values: { ...enabled, ...encoded } });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('pgbouncer.upstream');
    const objects = await render({
      values: { ...enabled, ...encoded, pgbouncer: { enabled: true, upstream: { password: 'p@ss' } } },
    });
    expect(decode(find(objects, 'Secret', '-pgbouncer').data['userlist.txt'])).toBe('"ipa" "p@ss"\n');
  });
});

describe('PgBouncer on, with an existing Secret', () => {
  const existing = {
    secrets: { existingSecret: 'creds', redisUrl: 'redis://r:6379' },
    pgbouncer: { enabled: true },
  };

  it('needs the upstream named in values', async () => {
    const result = await renderRaw({ values: existing });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('pgbouncer.upstream.host');
  });

  it('mounts PGBOUNCER_USERLIST from it and points the API at PGBOUNCER_DATABASE_URL', async () => {
    const upstream = { host: 'pg.internal', database: 'ipa', username: 'ipa' };
    const objects = await render({ values: { ...existing, pgbouncer: { enabled: true, upstream } } });
    expect(findAll(objects, 'Secret')).toEqual([]);
    const sources = find(objects, 'Deployment', '-pgbouncer').spec.template.spec.volumes[0].projected.sources;
    expect(sources[1].secret).toEqual({
      name: 'creds',
      items: [{ key: 'PGBOUNCER_USERLIST', path: 'userlist.txt' }],
    });
    expect(env(main(objects, '-backend'), 'DATABASE_URL').valueFrom.secretKeyRef.key).toBe(
      'PGBOUNCER_DATABASE_URL',
    );
    const job = find(objects, 'Job', '-migrations').spec.template.spec.containers[0];
    expect(env(job, 'DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'creds', key: 'DATABASE_URL' });
  });
});

describe('PgBouncer on, in-cluster PostgreSQL (dev)', () => {
  it('pools for the in-cluster PostgreSQL; the migrating init container connects directly', async () => {
    const objects = await render({
      environment: 'dev',
      values: { pgbouncer: { enabled: true }, networkPolicy: { enabled: true } },
    });
    expect(setting(ini(objects), 'ipa')).toBe(
      'host=ipa-ipa-platform-postgresql port=5432 dbname=ipa user=ipa',
    );
    const pod = find(objects, 'Deployment', '-backend').spec.template.spec;
    const migrate = pod.initContainers.find((c: Free) => c.name === 'migrate');
    expect(env(migrate, 'DATABASE_URL').valueFrom.secretKeyRef.key).toBe('DATABASE_URL');
    expect(env(pod.containers[0], 'DATABASE_URL').valueFrom.secretKeyRef.key).toBe('PGBOUNCER_DATABASE_URL');
    // the init container needs the database itself, so the API keeps that path
    const egress: Free[] = find(objects, 'NetworkPolicy', '-backend').spec.egress;
    expect(egress.some((r) => r.to?.some((p: Free) => component(p) === 'postgresql'))).toBe(true);
    const store = find(objects, 'NetworkPolicy', '-postgresql').spec;
    expect(store.ingress[0].from.map(component)).toContain('pgbouncer');
  });
});

describe.each(valuesFiles)('connection budget (%s)', (file) => {
  it('with PgBouncer on, every process pool fits one replica at the autoscalers maxima', async () => {
    const objects = await renderEnvironment(file);
    const bouncer = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-pgbouncer'));
    if (!bouncer) return;
    const text: string = bouncer.data['pgbouncer.ini'];
    const processes = ['-backend', '-worker']
      .map((suffix) => {
        const hpa = objects.find(
          (o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name.endsWith(suffix),
        );
        const scaled = objects.find((o) => o.kind === 'ScaledObject' && o.metadata.name.endsWith(suffix));
        return (
          hpa?.spec.maxReplicas ??
          scaled?.spec.maxReplicaCount ??
          find(objects, 'Deployment', suffix).spec.replicas
        );
      })
      .reduce((a, b) => a + b, 0);
    const poolSize = Number(find(objects, 'ConfigMap', 'ipa-platform').data.DATABASE_POOL_SIZE);
    // the migrations connect directly, so they are not PgBouncer's clients
    expect(processes * poolSize).toBeLessThanOrEqual(Number(setting(text, 'max_client_conn')));
    expect(setting(text, 'pool_mode')).toBe('transaction');
  });
});

const noPgBouncer = spawnSync('pgbouncer', ['--version']).status !== 0;
if (noPgBouncer) console.log('the rendered PgBouncer config is not run: pgbouncer is not installed');

describe.skipIf(noPgBouncer)('the rendered config under a real pgbouncer', () => {
  it('accepts the password of the auth file, runs a transaction-scoped lock, refuses a wrong one', async () => {
    const database = await freshPostgresDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'ipa-chart-pgbouncer-'));
    let child: ChildProcess | undefined;
    try {
      const target = new URL(database.url);
      const dbName = target.pathname.slice(1);
      const password = 'chart-test-pw';
      // the test PostgreSQL trusts local connections; PgBouncer still checks the client's password
      const upstreamUrl = `postgresql://postgres:${password}@127.0.0.1:${target.port || 5432}/${dbName}`;
      const objects = await render({
        values: {
          secrets: { databaseUrl: upstreamUrl, redisUrl: 'redis://r:6379' },
          pgbouncer: { enabled: true },
        },
      });
      const port = await freePort();
      // the pod's paths and port, moved into a temporary directory and a free loopback port
      const config = ini(objects)
        .replace('listen_addr = 0.0.0.0', 'listen_addr = 127.0.0.1')
        .replace('listen_port = 5432', `listen_port = ${port}`)
        .replace('/etc/pgbouncer/userlist.txt', join(dir, 'userlist.txt'));
      writeFileSync(join(dir, 'pgbouncer.ini'), config);
      writeFileSync(
        join(dir, 'userlist.txt'),
        decode(find(objects, 'Secret', '-pgbouncer').data['userlist.txt']),
      );
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
        for (const path of [dir, join(dir, 'pgbouncer.ini'), join(dir, 'userlist.txt')])
          chownSync(path, uid, gid);
      }
      chmodSync(dir, 0o700);
      const configPath = join(dir, 'pgbouncer.ini');
      child = spawn('pgbouncer', asRoot ? ['-u', 'postgres', configPath] : [configPath], { stdio: 'ignore' });

      // the pooled URL the chart gives the API, with the Service name replaced by the loopback port
      const pooled = decode(find(objects, 'Secret', 'ipa-platform').data.PGBOUNCER_DATABASE_URL).replace(
        `${service}:5432`,
        `127.0.0.1:${port}`,
      );
      await expect
        .poll(
          async () => {
            const client = new pg.Client({ connectionString: pooled });
            try {
              await client.connect();
              return (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db;
            } catch (error) {
              return (error as Error).message;
            } finally {
              await client.end().catch(() => {});
            }
          },
          { timeout: 15_000, interval: 100 },
        )
        .toBe(dbName);

      // the platform's transaction-scoped lock, through the pool
      const client = new pg.Client({ connectionString: pooled });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(1)');
        await client.query('COMMIT');
      } finally {
        await client.end();
      }

      const wrong = new pg.Client({ connectionString: pooled.replace(password, 'wrong-password') });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed|SASL/);
      await wrong.end().catch(() => {});
    } finally {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      await database.drop();
    }
  });
});
