/**
 * Worker thread entry of {@link WheelValidator}: validates one uploaded wheel file and posts the
 * result (or the wheel error) back. Runs off the main thread so a hostile archive (hundreds of
 * MiB to inflate and hash) never stalls the server's event loop.
 */
import { closeSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { isWheelError } from "./errors";
import { validateWheelSource } from "./validateWheel";
import { fileZipSource, type ZipLimits } from "./zipArchive";

/** What the validator hands the worker. */
export interface ValidateJob {
  filename: string;
  path: string;
  limits: Partial<ZipLimits>;
  sha256: string;
}

const job = workerData as ValidateJob;
let fd: number | undefined;
try {
  fd = openSync(job.path, "r");
  const wheel = validateWheelSource(job.filename, fileZipSource(fd), job.limits, { sha256: job.sha256 });
  parentPort?.postMessage({ ok: true, wheel });
} catch (e) {
  const error = isWheelError(e)
    ? { code: e.code, message: e.message, details: e.details }
    : { code: null, message: String(e).slice(0, 500), details: {} };
  parentPort?.postMessage({ ok: false, error });
} finally {
  if (fd !== undefined) closeSync(fd);
}
