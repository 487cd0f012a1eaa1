import type { Compilable, CompiledQuery } from "kysely";
import { first, type StepResult } from "./database";

/**
 * A new content-addressed version of a name (a model, a datastore version): the same files under
 * a name make the same version.
 */
export interface DigestVersionInput<F> {
  workspaceId: string;
  name: string;
  /** `sha256:` of the sorted file manifest. */
  digest: string;
  files: F[];
  createdBy: string;
}

/** The columns every table of content-addressed versions has (`files` is JSON). */
export interface DigestVersionColumns {
  workspace_id: string;
  name: string;
  version: number;
  digest: string;
  files: string;
  created_by: string;
  created_at: string;
}

/**
 * Inside a transaction that holds the name (its lock key): the version of the name with the
 * input's digest when there is one (created false), else the row `insert` adds as the next version.
 */
export function* addDigestVersion<F, R>(
  input: DigestVersionInput<F>,
  steps: {
    /** The version of this name that has the digest, if any. */
    same: Compilable<R>;
    /** The name's last version number (0: none yet). */
    latest: () => Generator<CompiledQuery, number, StepResult>;
    /** Insert the new version (these columns and the table's own), returning its row. */
    insert: (row: DigestVersionColumns) => Compilable<R>;
  },
): Generator<CompiledQuery, { created: boolean; row: R }, StepResult> {
  const found = yield* first(steps.same);
  if (found) return { created: false, row: found };
  const row = yield* first(
    steps.insert({
      workspace_id: input.workspaceId,
      name: input.name,
      version: (yield* steps.latest()) + 1,
      digest: input.digest,
      files: JSON.stringify(input.files),
      created_by: input.createdBy,
      created_at: new Date().toISOString(),
    }),
  );
  return { created: true, row: row! };
}
