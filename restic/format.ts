// Stash's human formats for sizes and durations, as they appear in BackupSession
// status.targets[].stats[].snapshots[] and Repository status.totalSize.
//   formatBytes(n)   "%.3f TiB|GiB|MiB|KiB" above each power of 1024, else "%d B"
//   formatSeconds(s) "m:ss", or "h:mm:ss" from one hour (whole seconds, truncated)

export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [2 ** 40, "TiB"],
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [size, unit] of units) if (n > size) return `${(n / size).toFixed(3)} ${unit}`;
  return `${Math.trunc(n)} B`;
}

export function formatSeconds(seconds: number): string {
  let s = Math.max(0, Math.trunc(seconds));
  const h = Math.trunc(s / 3600);
  s -= h * 3600;
  const m = Math.trunc(s / 60);
  s -= m * 60;
  const two = (v: number) => String(v).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}
