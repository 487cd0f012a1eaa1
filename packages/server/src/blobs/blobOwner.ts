import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { processStartTime } from "../runs/orphans";

/** This machine in owner names: 12 hex of the SHA-256 of its host name. */
function hostTag(): string {
  return createHash("sha256").update(hostname()).digest("hex").slice(0, 12);
}

/**
 * A process as named in the blob store's temp files and pending marks: `<host>.<pid>.<start>`
 * (start: clock ticks since boot, so a reused pid is another owner). Defaults to this process.
 */
export function blobOwner(pid = process.pid, start = processStartTime(pid) ?? 0): string {
  return `${hostTag()}.${pid}.${start}`;
}

/**
 * Whether the process an owner name names is certainly gone: on this machine when no process
 * with its pid and start time runs; another machine's owner is never known to be gone.
 */
export function ownerGone(owner: string): boolean {
  const m = /^([0-9a-f]{12})\.(\d+)\.(\d+)$/.exec(owner);
  if (!m || m[1] !== hostTag()) return false;
  return processStartTime(Number(m[2])) !== Number(m[3]);
}
