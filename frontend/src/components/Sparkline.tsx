// A small line chart of recent samples (null: no value at that moment).
export function Sparkline({ values, label }: { values: (number | null)[]; label: string }) {
  const W = 220;
  const H = 48;
  const known = values.filter((v): v is number => v !== null);
  if (known.length < 2) {
    return (
      <svg width={W} height={H} role="img" aria-label={`${label}: not enough samples yet`} className="spark">
        <line x1="0" y1={H - 1} x2={W} y2={H - 1} className="spark-axis" />
      </svg>
    );
  }
  const min = Math.min(...known);
  const max = Math.max(...known);
  const span = max - min || 1;
  const step = W / Math.max(values.length - 1, 1);
  let d = "";
  values.forEach((v, i) => {
    if (v === null) return;
    const x = i * step;
    const y = H - 4 - ((v - min) / span) * (H - 8);
    d += `${d ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)} `;
  });
  return (
    <svg width={W} height={H} role="img" aria-label={`${label}: ${known.length} samples, from ${known[0]} to ${known[known.length - 1]}`} className="spark">
      <line x1="0" y1={H - 1} x2={W} y2={H - 1} className="spark-axis" />
      <path d={d} className="spark-line" />
    </svg>
  );
}
