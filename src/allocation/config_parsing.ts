// How a setting's text becomes a value: the only reader of process.env (SPEC section 6). The
// settings themselves are in config.ts and config_messaging.ts; each applies its own default.

/** A setting with an invalid value: the start stops with this one sentence, which names it. */
export class ConfigError extends Error {
  name = 'ConfigError';
}

export function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function intEnv(name: string, fallback: number): number {
  const value = env(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new ConfigError(`${name} must be an integer, got ${value}`);
  return parsed;
}

const DURATION_UNITS_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration such as `30m`, `12h` or `7d`, in milliseconds. */
export function durationEnv(name: string, fallback: string): number {
  const value = env(name) ?? fallback;
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match || Number(match[1]) <= 0) {
    throw new ConfigError(`${name} must be a duration such as 30m, 12h or 7d, got ${value}`);
  }
  return Number(match[1]) * DURATION_UNITS_MS[match[2]];
}
