import { posix } from "node:path";
import type { BlobStore } from "../blobs/blobStore";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { RunArtifact, RunStore } from "../runs/runStore";
import { checkRelativePath, type SnapshotUploadFile } from "../runs/snapshot";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** Check a model name (the registry's environment name rule). */
export function checkModelName(name: string): string {
  if (!NAME.test(name)) {
    throw new ServerError(
      ServerErrorCode.NAME_INVALID,
      `Expected a model name of 1-255 characters [A-Za-z0-9._-] starting with a letter or digit, e.g. "churn-model"; received ${preview(name)}`,
    );
  }
  return name;
}

/** The digest of a set of model files (over their sorted paths and blob digests). */
async function filesDigest(blobs: BlobStore, files: RunArtifact[]): Promise<string> {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return blobs.put(new TextEncoder().encode(JSON.stringify({ files: sorted })));
}

/**
 * The artifacts of a run a model path selects: the file itself (kept under its base name) or every
 * file under a folder (kept under the folder's name), e.g. `outputs/model.json` → `model.json`.
 */
export function selectArtifacts(artifacts: RunArtifact[], path: string): RunArtifact[] {
  const clean = checkRelativePath(path.replace(/\/+$/, ""), "model path");
  const parent = posix.dirname(clean);
  const strip = (p: string) => (parent === "." ? p : p.slice(parent.length + 1));
  return artifacts
    .filter((a) => a.path === clean || a.path.startsWith(`${clean}/`))
    .map((a) => ({ ...a, path: strip(a.path) }));
}

/** Register a model from a run's outputs or from uploaded files (same files: same version). */
export async function registerModel(options: {
  store: RunStore;
  blobs: BlobStore;
  workspaceId: string;
  createdBy: string;
  name: string;
  description?: string | null | undefined;
  fromRun?: { runId: string; path: string } | undefined;
  files?: SnapshotUploadFile[] | undefined;
}) {
  checkModelName(options.name);
  let files: RunArtifact[];
  let runId: string | null = null;
  if (options.fromRun) {
    const run = await options.store.getRun(options.fromRun.runId);
    if (!run || run.workspaceId !== options.workspaceId) {
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No run ${preview(options.fromRun.runId)} in this workspace`,
      );
    }
    files = selectArtifacts(run.artifacts, options.fromRun.path);
    if (files.length === 0) {
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `Expected a path of the run's artifacts, e.g. "outputs/model.json"; ${preview(options.fromRun.path)} matches none of ${preview(run.artifacts.map((a) => a.path))}`,
      );
    }
    runId = run.id;
  } else if (options.files && options.files.length > 0) {
    files = [];
    for (const f of options.files) {
      checkRelativePath(f.path, "model file path");
      const bytes = new Uint8Array(Buffer.from(f.content, "base64"));
      files.push({ path: f.path, digest: await options.blobs.put(bytes), size: bytes.length });
    }
  } else {
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      'Expected {"runId":"…","path":"outputs/model.json"} or {"files":[{"path":"model.json","content":"<base64>"}]}; received neither',
    );
  }
  return options.store.registerModel({
    workspaceId: options.workspaceId,
    name: options.name,
    digest: await filesDigest(options.blobs, files),
    files,
    runId,
    description: options.description ?? null,
    createdBy: options.createdBy,
  });
}
