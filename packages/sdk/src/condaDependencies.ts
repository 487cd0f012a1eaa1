import {
  type CondaEnvironment,
  canonicalizeName,
  defaultCondaEnvironment,
  defaultCoreConfig,
  type PipBlock,
  Requirement,
} from "@mlenv/core";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { MlenvError, preview, SdkErrorCodes } from "./errors";

/** A conda `environment.yml` document, as a plain JSON value (core's `CondaEnvironment`). */
export type CondaDocument = CondaEnvironment;

/** Options of {@link CondaDependencies.create}. */
export interface CondaDependenciesCreateOptions {
  /** e.g. "3.10"; becomes the conda package `python=3.10` (default: core's default Python, as the reference adds one). */
  pythonVersion?: string;
  condaPackages?: string[];
  pipPackages?: string[];
  /** Conda channels, highest priority first (default: anaconda, conda-forge). */
  channels?: string[];
  /** Pip options, e.g. ["--index-url https://pypi.example/simple"]. */
  pipOptions?: string[];
}

/** The default channels of a new conda document, as in the reference. */
export const DEFAULT_CHANNELS: readonly string[] = ["anaconda", "conda-forge"];

const HOSTILE = /[\n\r\0`]|\$\(/;

/**
 * The project name a pip block line installs, normalised (PEP 503), or null for an option line
 * (`--index-url ...`) or a line whose name cannot be told (a bare URL without `#egg=`).
 */
export function pipLineName(line: string): string | null {
  const s = line.trim();
  if (s.startsWith("-")) return null;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith("./") || s.startsWith("/")) {
    const egg = /[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(s);
    if (egg?.[1]) return canonicalizeName(egg[1].trim());
    const file = /\/([A-Za-z0-9][A-Za-z0-9._]*?)-[0-9][^/]*\.(?:whl|tar\.gz|zip)$/.exec(
      s.split(/[?#]/)[0] ?? "",
    );
    return file?.[1] ? canonicalizeName(file[1].trim()) : null;
  }
  try {
    return canonicalizeName(Requirement.parse(s).name);
  } catch {
    // Not a PEP 508 line (pip accepts more, e.g. a trailing option): fall back to its leading name.
    const m = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/.exec(s);
    return m?.[1] ? canonicalizeName(m[1].trim()) : null;
  }
}

/** The package name of a conda match spec (`conda-forge::numpy >=1.17` → `numpy`), lowercased. */
export function condaSpecName(spec: string): string {
  let s = spec.trim();
  const ch = s.lastIndexOf("::");
  if (ch >= 0) s = s.slice(ch + 2);
  const m = /^[^\s=<>!~[]+/.exec(s);
  return (m?.[0] ?? s).toLowerCase();
}

function pipOptionFlag(line: string): string {
  const s = line.trim();
  const m = /^(--?[A-Za-z0-9-]+)/.exec(s);
  return m?.[1] ?? s;
}

function check(kind: string, value: string, example: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a non-empty ${kind} such as ${example}; received ${preview(value)}`,
    );
  }
  if (HOSTILE.test(value)) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a ${kind} without newlines, NUL, backticks or "$(" (such as ${example}); received ${preview(value)}`,
    );
  }
  return value.trim();
}

/**
 * An editable conda environment document: conda packages, channels, a nested `pip:` block
 * (options first, then requirements) and the Python version. Mutating methods return `this`.
 * Adding a package that is already present (same normalised name) replaces it in place.
 */
export class CondaDependencies {
  #doc: CondaDocument;

  /**
   * Wrap a conda document; without one, the reference's default document: the default Python
   * and pip, an empty pip block, channels anaconda and conda-forge (so it builds as is).
   */
  constructor(doc?: CondaDocument) {
    this.#doc = structuredClone(doc ?? defaultCondaEnvironment());
  }

  /** A new document with the reference's defaults (the default Python, channels anaconda, conda-forge). */
  static create(options: CondaDependenciesCreateOptions = {}): CondaDependencies {
    const cd = new CondaDependencies({
      channels: [...(options.channels ?? DEFAULT_CHANNELS)],
      dependencies: [],
    });
    cd.setPythonVersion(options.pythonVersion ?? defaultCoreConfig.pythonVersion);
    for (const p of options.condaPackages ?? []) cd.addCondaPackage(p);
    for (const o of options.pipOptions ?? []) cd.setPipOption(o);
    for (const p of options.pipPackages ?? []) cd.addPipPackage(p);
    return cd;
  }

  /** Parse an `environment.yml` text. */
  static fromYaml(text: string): CondaDependencies {
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch (cause) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected a conda environment YAML document; it does not parse: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (value === null || value === undefined) value = {};
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected a conda environment YAML mapping such as "dependencies: [python=3.10]"; received ${preview(value)}`,
      );
    }
    return new CondaDependencies(value as CondaDocument);
  }

  get channels(): string[] {
    return [...(this.#doc.channels ?? [])];
  }

  /** Conda package specs (the pip block excluded). */
  get condaPackages(): string[] {
    return (this.#doc.dependencies ?? []).filter((d): d is string => typeof d === "string");
  }

  /** Pip requirement lines (options excluded). */
  get pipPackages(): string[] {
    return this.#pipBlock().filter((l) => !l.trim().startsWith("-"));
  }

  /** Pip option lines such as `--index-url https://...`. */
  get pipOptions(): string[] {
    return this.#pipBlock().filter((l) => l.trim().startsWith("-"));
  }

  /** The Python version named by the `python` conda package (e.g. "3.10"), or undefined. */
  get pythonVersion(): string | undefined {
    const spec = this.condaPackages.find((p) => condaSpecName(p) === "python");
    if (spec === undefined) return undefined;
    const m = /^[^\s=<>!~[]+\s*(?:={1,2}|\s)\s*(.+)$/.exec(spec.trim().replace(/^.*::/, ""));
    return m?.[1]?.trim() ?? undefined;
  }

  addChannel(channel: string): this {
    const c = check("conda channel", channel, "conda-forge");
    const channels = this.#doc.channels ?? [];
    if (!channels.includes(c)) channels.push(c);
    this.#doc.channels = channels;
    return this;
  }

  removeChannel(channel: string): this {
    this.#doc.channels = (this.#doc.channels ?? []).filter((c) => c !== channel.trim());
    return this;
  }

  /** Add (or replace by name) a conda package spec such as `numpy=1.26`. */
  addCondaPackage(spec: string): this {
    const s = check("conda package spec", spec, "numpy=1.26");
    const name = condaSpecName(s);
    const deps = this.#doc.dependencies ?? [];
    const i = deps.findIndex((d) => typeof d === "string" && condaSpecName(d) === name);
    if (i >= 0) deps[i] = s;
    else {
      const pipAt = deps.findIndex((d) => typeof d !== "string");
      if (pipAt >= 0) deps.splice(pipAt, 0, s);
      else deps.push(s);
    }
    this.#doc.dependencies = deps;
    return this;
  }

  /** Remove every conda package spec with this name. */
  removeCondaPackage(name: string): this {
    const n = condaSpecName(name);
    this.#doc.dependencies = (this.#doc.dependencies ?? []).filter(
      (d) => typeof d !== "string" || condaSpecName(d) !== n,
    );
    return this;
  }

  /** Set the Python version (`python=<version>`), replacing any python spec. */
  setPythonVersion(version: string): this {
    const v = check("Python version", version, "3.10");
    if (!/^[0-9][0-9.*]*$/.test(v)) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected a Python version such as 3.10 or 3.11.4; received ${preview(version)}`,
      );
    }
    return this.addCondaPackage(`python=${v}`);
  }

  /** Add (or replace by normalised name) a pip requirement such as `scikit-learn==1.4.2`. */
  addPipPackage(requirement: string): this {
    const r = check("pip requirement", requirement, "scikit-learn==1.4.2");
    if (r.startsWith("-")) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected a pip requirement such as scikit-learn==1.4.2 (use setPipOption for options); received ${preview(requirement)}`,
      );
    }
    const block = this.#ensurePipBlock();
    const name = pipLineName(r);
    const i = name === null ? block.indexOf(r) : block.findIndex((l) => pipLineName(l) === name);
    if (i >= 0) block[i] = r;
    else block.push(r);
    return this;
  }

  /** Remove the pip requirement(s) with this (normalised) name. */
  removePipPackage(name: string): this {
    const n = canonicalizeName(name.trim());
    const block = this.#pipList();
    if (block) {
      const kept = block.filter((l) => pipLineName(l) !== n);
      block.splice(0, block.length, ...kept);
    }
    return this;
  }

  /**
   * Set a pip option such as `--index-url https://pypi.example/simple`. An option with the same
   * flag is replaced, except repeatable ones (`--extra-index-url`, `--find-links`, `--trusted-host`).
   */
  setPipOption(option: string): this {
    const o = check("pip option", option, "--index-url https://pypi.example/simple");
    if (!o.startsWith("-")) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected a pip option starting with "-" such as --extra-index-url https://pypi.example/simple; received ${preview(option)}`,
      );
    }
    const block = this.#ensurePipBlock();
    const flag = pipOptionFlag(o);
    const repeatable = ["--extra-index-url", "--find-links", "-f", "--trusted-host"].includes(flag);
    const i = block.findIndex((l) => (repeatable ? l.trim() === o : pipOptionFlag(l) === flag));
    if (i >= 0) {
      block[i] = o;
      return this;
    }
    const firstReq = block.findIndex((l) => !l.trim().startsWith("-"));
    if (firstReq >= 0) block.splice(firstReq, 0, o);
    else block.push(o);
    return this;
  }

  /** Remove pip options with this flag (e.g. `--index-url`). */
  removePipOption(flag: string): this {
    const block = this.#pipList();
    if (block) {
      const kept = block.filter((l) => !(l.trim().startsWith("-") && pipOptionFlag(l) === flag.trim()));
      block.splice(0, block.length, ...kept);
    }
    return this;
  }

  /** Replace the whole pip block (options and requirements) with these lines. */
  setPipRequirements(lines: string[]): this {
    const checked = lines.map((l) => check("pip line", l, "numpy==1.26.4"));
    const block = this.#ensurePipBlock();
    block.splice(0, block.length, ...checked);
    return this;
  }

  /** A deep copy of the document. */
  toDocument(): CondaDocument {
    return structuredClone(this.#doc);
  }

  toJSON(): CondaDocument {
    return this.toDocument();
  }

  /** The document as `environment.yml` text. */
  serialize(): string {
    return stringifyYaml(this.#doc, { lineWidth: 0 });
  }

  #pipList(): string[] | undefined {
    const entry = (this.#doc.dependencies ?? []).find((d): d is PipBlock => typeof d !== "string");
    return entry?.pip;
  }

  #pipBlock(): string[] {
    return [...(this.#pipList() ?? [])];
  }

  #ensurePipBlock(): string[] {
    const existing = this.#pipList();
    if (existing) return existing;
    const deps = this.#doc.dependencies ?? [];
    if (!deps.some((d) => typeof d === "string" && condaSpecName(d) === "pip")) deps.push("pip");
    const entry = { pip: [] as string[] };
    deps.push(entry);
    this.#doc.dependencies = deps;
    return entry.pip;
  }
}
