import { createHash } from "node:crypto";
import { canonicalJson, type EnvironmentDefinition, type Lock, toReferenceJson } from "@mlenv/core";
import type { WheelCatalog } from "../wheels/catalog";
import { parseWheelReference } from "../wheels/reference";

/**
 * What makes an image (or a local venv) private to a workspace: the workspace's wheels it
 * installs (by the bytes really used: a reference without `#sha256` is resolved to the file's
 * current sha256) and the secrets its pip step reads. Null when a definition has none.
 */
export interface PrivateInputs {
  workspaceId: string;
  wheels: { filename: string; sha256: string }[];
  secrets: string[];
}

const WHEEL_REF = /mlenv\+wheel:\/\/[^\s"'\\]+/g;
const SECRET_REF = /\$\{MLENV_SECRET_([A-Za-z][A-Za-z0-9_]{0,63})\}/g;

/** Finds a definition's private inputs in a workspace (see {@link PrivateInputs}). */
export type PrivateInputsSource = (
  definition: EnvironmentDefinition,
  lock: Lock | undefined | null,
  workspaceId: string | undefined,
) => Promise<PrivateInputs | null>;

/** The PrivateInputsSource of a server: wheel references resolved in the workspace's catalog. */
export function catalogPrivateInputs(catalog: Pick<WheelCatalog, "get">): PrivateInputsSource {
  return async (definition, lock, workspaceId) => {
    const text = JSON.stringify([toReferenceJson(definition), lock ?? null]);
    const refs = [...new Set(text.match(WHEEL_REF) ?? [])];
    const secrets = [...new Set([...text.matchAll(SECRET_REF)].map((m) => m[1]!))].sort();
    if (refs.length === 0 && secrets.length === 0) return null;
    // no workspace (a direct builder call): still private, scoped to "no workspace"
    const ws = workspaceId ?? "";
    const wheels: PrivateInputs["wheels"] = [];
    for (const raw of refs) {
      let ref: ReturnType<typeof parseWheelReference>;
      try {
        ref = parseWheelReference(raw.replace(/#$/, ""));
      } catch {
        // malformed: the build fails on it later; key it by its text
        wheels.push({ filename: raw, sha256: "invalid" });
        continue;
      }
      const sha256 = ref.sha256 ?? (ws ? await catalog.get(ws, ref.filename) : null)?.sha256 ?? "missing";
      wheels.push({ filename: `${ref.workspace}/${ref.filename}`, sha256 });
    }
    wheels.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    return { workspaceId: ws, wheels, secrets };
  };
}

/**
 * The image key of a definition with private inputs: core's key combined with the workspace and
 * the wheel bytes, so another workspace (or the same one after a wheel overwrite) never reuses
 * the image or venv; core's key unchanged when there are none.
 */
export function scopedImageKey(baseKey: string, inputs: PrivateInputs | null): string {
  if (!inputs) return baseKey;
  const hex = createHash("sha256")
    .update(canonicalJson({ scheme: "mlenv-private-image/1", base: baseKey, ...inputs }), "utf8")
    .digest("hex");
  return `mlenv1-sha256:${hex}`;
}
