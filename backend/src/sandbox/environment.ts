/** The environment of a sandbox process: an allowlist, and never anything that looks like a secret. */

// Names that must never reach a sandbox even if an operator allowlists them by mistake.
const secretLike =
  /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|DATABASE|REDIS|PRIVATE|AUTH|COOKIE|SESSION)/i;

export function sandboxEnvironment(
  allowlist: readonly string[],
  source: NodeJS.ProcessEnv,
): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  for (const name of allowlist) {
    const value = source[name];
    if (value !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !secretLike.test(name))
      env[name] = value;
  }
  return env;
}
