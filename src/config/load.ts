// Reads the YAML config file named by --config or BRIDGE_CONFIG and validates it, naming the bad key.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type BridgeConfig } from './schema.js';

export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

export class ConfigError extends Error {}

/** The config path: `--config FILE` (or `--config=FILE`), else $BRIDGE_CONFIG, else config/default.yaml. */
export function configPath(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' && argv[i + 1]) return argv[i + 1]!;
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return env.BRIDGE_CONFIG || DEFAULT_CONFIG_PATH;
}

export function parseConfig(raw: unknown, source: string): BridgeConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw new ConfigError(`invalid config ${source}:\n${formatIssues(result.error.issues)}`);
}

export function loadConfig(path: string): BridgeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, path);
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const { path, message } = specific(issue);
      return `  ${keyOf(path) || '(top level)'}: ${message}`;
    })
    .join('\n');
}

/** For "udp: {...} | false" unions, the issue from the branch the value was meant for: the deepest one. */
function specific(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  if (issue.code === 'invalid_union') {
    const deepest = issue.errors.flat().reduce<z.core.$ZodIssue | undefined>((best, c) => (!best || c.path.length > best.path.length ? c : best), undefined);
    if (deepest && deepest.path.length > 0) {
      const inner = specific(deepest);
      return { path: [...issue.path, ...inner.path], message: inner.message };
    }
  }
  return { path: issue.path, message: issue.message };
}

function keyOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}
