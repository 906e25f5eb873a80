/**
 * Egress policy: which destinations a sandbox may reach. A destination is a host name (exact, or
 * `*.example.com` for every name below example.com) with ports (443 and 80 when none is given).
 * Three levels — installation, user, automation — each either unset (no narrowing) or a list;
 * a destination is allowed only when every set level allows it, so a lower level can only narrow.
 * Addresses are checked separately: whatever a name resolves to must be a public address unless
 * the installation allows its range explicitly (SSRF, DNS rebinding).
 */
import net from 'node:net';

export interface AllowRule {
  /** Lower-case host name, or `*.suffix` for every name below suffix. */
  host: string;
  ports: number[];
}

export const defaultPorts = [443, 80];
const hostPattern = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export class PolicyInputError extends Error {}

/** One entry: `host`, `host:port` or `host:port|port`. Raw IP addresses are not host names. */
export function parseAllowRule(entry: string): AllowRule {
  const text = entry.trim().toLowerCase();
  const match = /^([^:]+)(?::([0-9|]+))?$/.exec(text);
  const host = match?.[1] ?? '';
  if (!match || host.length > 253 || !hostPattern.test(host))
    throw new PolicyInputError(
      `"${entry}" is not a host name (example.com or *.example.com, optionally :port)`,
    );
  if (net.isIP(host.replace(/^\*\./, '')))
    throw new PolicyInputError(`"${entry}" is an IP address: allow a host name instead`);
  const ports = match[2]
    ? match[2].split('|').map((p) => {
        const port = Number(p);
        if (!Number.isInteger(port) || port < 1 || port > 65_535)
          throw new PolicyInputError(`"${entry}" has an invalid port`);
        return port;
      })
    : [...defaultPorts];
  return { host, ports: [...new Set(ports)] };
}

/** A comma- or whitespace-separated list of entries (the `EGRESS_ALLOW` form). */
export function parseAllowList(text: string): AllowRule[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(parseAllowRule);
}

export function formatRule(rule: AllowRule): string {
  const ports = [...rule.ports].sort((a, b) => a - b);
  const defaults = [...defaultPorts].sort((a, b) => a - b);
  return ports.join() === defaults.join() ? rule.host : `${rule.host}:${ports.join('|')}`;
}

export function hostMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  return name === pattern;
}

export function ruleAllows(rules: readonly AllowRule[], host: string, port: number): boolean {
  return rules.some((rule) => rule.ports.includes(port) && hostMatches(rule.host, host));
}

/** The levels that apply to one request; `undefined` = this level does not narrow. */
export interface PolicyLevels {
  installation: readonly AllowRule[];
  user?: readonly AllowRule[];
  automation?: readonly AllowRule[];
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

/** Checks a destination against every level; the refusal names the setting that would allow it. */
export function checkDestination(levels: PolicyLevels, host: string, port: number): Verdict {
  const target = `${host}:${port}`;
  if (net.isIP(host))
    return {
      allowed: false,
      reason: `${target} is a raw IP address: egress goes to host names only (add the name to EGRESS_ALLOW)`,
    };
  if (!ruleAllows(levels.installation, host, port))
    return {
      allowed: false,
      reason: `${target} is not allowed by the installation: add it to EGRESS_ALLOW`,
    };
  if (levels.user && !ruleAllows(levels.user, host, port))
    return {
      allowed: false,
      reason: `${target} is not in this user's egress allowlist: an admin can add it`,
    };
  if (levels.automation && !ruleAllows(levels.automation, host, port))
    return {
      allowed: false,
      reason: `${target} is not in this automation's egress allowlist: its owner can add it`,
    };
  return { allowed: true };
}

/** Ranges no name may resolve to unless the installation allows them (EGRESS_ALLOW_CIDRS). */
const reservedV4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];
const reservedV6 = [
  '::/128',
  '::1/128',
  '::ffff:0:0/96',
  '64:ff9b::/96',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

function addCidr(list: net.BlockList, cidr: string): void {
  const [address = '', bits = ''] = cidr.trim().split('/');
  const family = net.isIP(address);
  const prefix = Number(bits);
  if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
    throw new PolicyInputError(`"${cidr}" is not a CIDR range (e.g. 10.1.0.0/16)`);
  list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
}

export function parseCidrs(text: string): string[] {
  const cidrs = text.split(/[\s,]+/).filter(Boolean);
  for (const cidr of cidrs) addCidr(new net.BlockList(), cidr);
  return cidrs;
}

/** Decides whether an address a name resolved to may be connected to. */
export class AddressPolicy {
  private readonly denied = new net.BlockList();
  private readonly allowed = new net.BlockList();

  constructor(options: { allowCidrs?: readonly string[]; denyCidrs?: readonly string[] } = {}) {
    for (const cidr of [...reservedV4, ...reservedV6, ...(options.denyCidrs ?? [])])
      addCidr(this.denied, cidr);
    for (const cidr of options.allowCidrs ?? []) addCidr(this.allowed, cidr);
  }

  check(host: string, address: string): Verdict {
    const family = net.isIP(address);
    if (!family) return { allowed: false, reason: `${host} resolved to "${address}", not an address` };
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const [value, type] = mapped
      ? [mapped, 'ipv4' as const]
      : [address, family === 4 ? ('ipv4' as const) : ('ipv6' as const)];
    if (this.allowed.check(value, type)) return { allowed: true };
    if (this.denied.check(value, type))
      return {
        allowed: false,
        reason: `${host} resolves to ${address}, a private, loopback, link-local or reserved address: an installation can allow its range in EGRESS_ALLOW_CIDRS`,
      };
    return { allowed: true };
  }
}
