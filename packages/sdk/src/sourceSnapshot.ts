import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import type { SnapshotFile } from "./runs";

/** Largest snapshot the SDK uploads by default (the server's default limit too): 25 MiB. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 25 * 1024 * 1024;

/** Always left out of a snapshot. */
const ALWAYS_IGNORED = [".git/", "__pycache__/", "*.pyc", ".mlenv/", ".venv/", ".ipynb_checkpoints/"];

export interface SnapshotOptions {
  /** Refuse a snapshot larger than this many bytes (default 25 MiB). */
  maxBytes?: number;
}

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  re: RegExp;
}

function globToRegExp(glob: string, anchored: boolean): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        out += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
        i += glob[i + 2] === "/" ? 2 : 1;
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(anchored ? `^${out}$` : `(?:^|/)${out}$`);
}

/** Parse ignore-file text (gitignore syntax: `#` comments, `!` negation, trailing `/`, `*`, `**`, `?`). */
export function parseIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trimEnd();
    if (!line || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.includes("/");
    if (line.startsWith("/")) line = line.slice(1);
    if (line) rules.push({ negate, dirOnly, re: globToRegExp(line, anchored) });
  }
  return rules;
}

function ignored(rules: Rule[], path: string, isDir: boolean): boolean {
  let out = false;
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.re.test(path)) out = !r.negate;
  }
  return out;
}

/**
 * The files of a source directory for a run snapshot, as the reference does: `.mlenvignore` (or
 * else `.amlignore`, else `.gitignore`) lists what to leave out; `.git`, `__pycache__`, `*.pyc` and
 * virtualenvs are always left out; symbolic links are skipped. Throws `E_SNAPSHOT_TOO_LARGE` naming
 * the largest files when the total exceeds the limit.
 */
export function snapshotDirectory(dir: string, options: SnapshotOptions = {}): SnapshotFile[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new MlenvError(
      SdkErrorCodes.io,
      `Expected a source directory such as ./src; ${preview(dir)} is not a directory`,
    );
  }
  const ignoreFile = [".mlenvignore", ".amlignore", ".gitignore"].map((f) => join(dir, f)).find(existsSync);
  const rules = parseIgnore(
    `${ALWAYS_IGNORED.join("\n")}\n${ignoreFile ? readFileSync(ignoreFile, "utf8") : ""}`,
  );
  const files: SnapshotFile[] = [];
  const sizes: { path: string; size: number }[] = [];
  let total = 0;
  const max = options.maxBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const rel = relative(dir, full).split(sep).join("/");
      const st = lstatSync(full);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (!ignored(rules, rel, true)) walk(full);
      } else if (st.isFile() && !ignored(rules, rel, false)) {
        total += st.size;
        sizes.push({ path: rel, size: st.size });
        if (total <= max) {
          files.push({
            path: rel,
            content: new Uint8Array(readFileSync(full)),
            executable: (st.mode & 0o111) !== 0,
          });
        }
      }
    }
  };
  walk(dir);
  if (total > max) {
    const largest = sizes
      .sort((a, b) => b.size - a.size)
      .slice(0, 3)
      .map((s) => `${s.path} (${s.size} bytes)`)
      .join(", ");
    throw new MlenvError(
      SdkErrorCodes.snapshotTooLarge,
      `Expected a source directory of at most ${max} bytes; ${preview(dir)} holds ${total} bytes (largest: ${largest}). List data and build outputs in ${ignoreFile ? relative(dir, ignoreFile) : ".mlenvignore"}, e.g. "data/"`,
      { details: { maxBytes: max, size: total } },
    );
  }
  return files;
}
