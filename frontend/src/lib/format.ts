// Numbers and times as people read them.

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "n/a";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  const m = Math.floor(value / 60);
  const s = Math.round(value % 60);
  return `${m} min ${s} s`;
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return "n/a";
  return `${(ratio * 100).toFixed(1)}%`;
}

export function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function clock(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** "awaiting_approval" → "awaiting approval". */
export function label(status: string): string {
  return status.replace(/_/g, " ");
}
