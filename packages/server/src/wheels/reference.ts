import { received, WheelError, WheelErrorCodes } from "./errors";
import { parseWheelFilename } from "./wheelFilename";

/**
 * The stable, credential-free reference to a private wheel that definitions store in their pip
 * block:
 *
 *     mlenv+wheel://<workspace>/<filename>[#sha256=<64 hex>]
 *
 * Without the fragment it means the file's current bytes; with it, exactly those bytes (kept
 * even after an overwrite). At build/run time the server turns it into a short-lived signed URL.
 */
export interface WheelReference {
  workspace: string;
  filename: string;
  sha256: string | null;
}

export const WHEEL_REFERENCE_SCHEME = "mlenv+wheel://";
const WORKSPACE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** True when a pip-block line is a wheel reference (cheap check before parsing). */
export function isWheelReference(s: string): boolean {
  return s.trim().startsWith(WHEEL_REFERENCE_SCHEME);
}

export function formatWheelReference(ref: WheelReference): string {
  return `${WHEEL_REFERENCE_SCHEME}${ref.workspace}/${ref.filename}${ref.sha256 ? `#sha256=${ref.sha256}` : ""}`;
}

/** Parse a reference; every part is vetted (workspace name, PEP 427 file name, hex hash). */
export function parseWheelReference(s: string): WheelReference {
  const fail = (why: string) =>
    new WheelError(
      WheelErrorCodes.referenceInvalid,
      `Expected a wheel reference like "mlenv+wheel://default/my_pkg-1.0-py3-none-any.whl#sha256=<hex>", but ${why}; received "${received(s)}"`,
    );
  const text = s.trim();
  if (!text.startsWith(WHEEL_REFERENCE_SCHEME))
    throw fail(`it does not start with "${WHEEL_REFERENCE_SCHEME}"`);
  const rest = text.slice(WHEEL_REFERENCE_SCHEME.length);
  const hashAt = rest.indexOf("#");
  const path = hashAt < 0 ? rest : rest.slice(0, hashAt);
  const fragment = hashAt < 0 ? null : rest.slice(hashAt + 1);
  const slash = path.indexOf("/");
  if (slash < 0) throw fail("it has no /<filename> after the workspace");
  const workspace = path.slice(0, slash);
  const filename = path.slice(slash + 1);
  if (!WORKSPACE.test(workspace))
    throw fail("the workspace name is not lower-case letters, digits and dashes");
  try {
    parseWheelFilename(filename);
  } catch (cause) {
    throw new WheelError(
      WheelErrorCodes.referenceInvalid,
      `${fail("the file name is not a safe wheel name").message}`,
      { cause },
    );
  }
  let sha256: string | null = null;
  if (fragment !== null) {
    const m = /^sha256=([0-9a-f]{64})$/.exec(fragment);
    if (!m) throw fail('the fragment is not "#sha256=<64 lower-case hex>"');
    sha256 = m[1]!;
  }
  return { workspace, filename, sha256 };
}
