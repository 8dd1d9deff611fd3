// Small display helpers shared by the pages: times, money, token counts.
import { formatUsd } from '../../gateway/cost.ts';

export const usd = (x: number | null | undefined): string => (x === null ? '?' : formatUsd(x ?? undefined));
export const count = (n: number): string => n.toLocaleString('en-US');

/** "3 min ago" style, from an ISO time; the exact time goes in a title attribute. */
export function ago(iso: string | null, now: Date): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}
