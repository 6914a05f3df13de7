// Small pieces the bench's Markdown reports share: tables, numbers that may be missing, the workers label.

export const fixed = (value: number | undefined, digits: number) => (value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
export const pair = (a: number | undefined, b: number | undefined, digits: number) => (a === undefined || Number.isNaN(a) ? 'n/a' : `${fixed(a, digits)} / ${fixed(b, digits)}`);
export const mb = (bytes: number) => bytes / 1024 / 1024;

export function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** ` (workers N)` after the bridge's name when the run sets media.workers; nothing for the bridge's default. */
export const workersLabel = (workers: number | undefined) => (workers === undefined ? '' : ` (workers ${workers})`);

/**
 * A media.workers column, first, when the run sets media.workers (`workers` is the run's list); a row's `null` is a
 * row without a bridge in it (rtpengine or the floor alone).
 */
export function withWorkers(workers: readonly number[] | undefined, header: string[], rows: Array<{ workers: number | undefined | null; cells: string[] }>): string {
  if (!workers) return table(header, rows.map((r) => r.cells));
  const label = (w: number | undefined | null) => (w === null ? '-' : w === undefined ? 'default' : String(w));
  return table(['media.workers', ...header], rows.map((r) => [label(r.workers), ...r.cells]));
}
