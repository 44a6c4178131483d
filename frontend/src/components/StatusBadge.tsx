import { label } from "../lib/format";
import { STATUS_ICON } from "./DagView";

/** A status in colour and in words (never colour alone). */
export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span className={`badge status-${status}`}>
      <span aria-hidden="true">{STATUS_ICON[status] ?? "•"} </span>
      <span data-testid={testId}>{testId ? status : label(status)}</span>
    </span>
  );
}
