import { canonicalizeName } from "@mlenv/core";
import { received, WheelError, WheelErrorCodes } from "./errors";

/** The parts of a PEP 427 wheel file name. */
export interface WheelFilename {
  filename: string;
  /** Distribution as written in the file name (escaped, e.g. `my_pkg`). */
  distribution: string;
  /** PEP 503 normalised project name (`my-pkg`). */
  project: string;
  version: string;
  buildTag: string | null;
  pythonTag: string;
  abiTag: string;
  platformTag: string;
}

const EXAMPLE = "example: my_pkg-1.0.2-py3-none-any.whl";
// Characters that mean something to a shell, a Dockerfile or a URL; none appear in a real wheel name.
const SHELL_META = /[\s`$&|;<>(){}[\]*?~'"\\#%^=,@:]/;
const WHEEL_RE =
  /^([A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)-([A-Za-z0-9_.!+]+)(?:-(\d[A-Za-z0-9_.]*))?-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)\.whl$/;

/** PEP 503 normalisation: core's `canonicalizeName`. */

function invalid(filename: string, why: string): WheelError {
  return new WheelError(
    WheelErrorCodes.filenameInvalid,
    `Expected a PEP 427 wheel file name (${EXAMPLE}), but ${why}; received "${received(filename)}"`,
    { details: { filename: received(filename) } },
  );
}

/**
 * Parse and vet a wheel file name. Anything that could be a path (`/`, `\`, `..`), a control
 * character (NUL...), or a shell metacharacter is refused before the PEP 427 pattern is tried,
 * so the error says what is wrong.
 */
export function parseWheelFilename(filename: string): WheelFilename {
  if (typeof filename !== "string" || filename.length === 0) throw invalid(String(filename), "it is empty");
  if (filename.length > 255) throw invalid(filename, "it is longer than 255 characters");
  if (/[\u0000-\u001f\u007f-\u009f]/.test(filename))
    throw invalid(filename, "it contains a control character (NUL, newline...)");
  if (filename.includes("/") || filename.includes("\\"))
    throw invalid(filename, "it contains a path separator");
  if (filename.includes("..")) throw invalid(filename, 'it contains ".."');
  if (SHELL_META.test(filename)) throw invalid(filename, "it contains a shell or URL metacharacter");
  if (!/^[\x20-\x7e]+$/.test(filename)) throw invalid(filename, "it contains non-ASCII characters");
  const m = WHEEL_RE.exec(filename);
  if (!m)
    throw invalid(
      filename,
      "it does not have the form {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl",
    );
  const [, distribution, version, buildTag, pythonTag, abiTag, platformTag] = m as unknown as [
    string,
    string,
    string,
    string | undefined,
    string,
    string,
    string,
  ];
  return {
    filename,
    distribution,
    project: canonicalizeName(distribution),
    version,
    buildTag: buildTag ?? null,
    pythonTag,
    abiTag,
    platformTag,
  };
}
