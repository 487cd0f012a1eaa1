import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import {
  FolderFiles,
  type LoadedDefinition,
  type LoadOptions,
  loadDefinitionFile,
  loadDefinitionFolder,
  saveDefinitionFolder,
} from "@mlenv/core";
import { Environment } from "./environment";
import { MlenvError, SdkErrorCodes } from "./errors";

const FOLDER_FILE_NAMES: readonly string[] = Object.values(FolderFiles);

function ioError(what: string, path: string, cause: unknown): MlenvError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new MlenvError(SdkErrorCodes.io, `Expected ${what} at ${path}: ${why}`, { cause });
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw ioError("a readable path", path, e);
  }
}

/** Options of {@link loadDefinitionPath}. */
export interface LoadDefinitionPathOptions extends Pick<LoadOptions, "config" | "name"> {
  /** How file names appear in located messages (default: the path as given). */
  displayPath?: string;
}

/**
 * Load a definition from a folder (`azureml_environment.json` + `conda_dependencies.yml` +
 * `BaseDockerfile`) or from a single `.json`/`.yml`/`.yaml` file (a definition or a conda
 * document) or a requirements `.txt` file. Located messages name the files as `displayPath/...`.
 */
export function loadDefinitionPath(path: string, options: LoadDefinitionPathOptions = {}): LoadedDefinition {
  const shown = options.displayPath ?? path;
  const st = statOrNull(path);
  if (!st) {
    throw new MlenvError(
      SdkErrorCodes.io,
      `Expected a definition folder or a .yml/.json/.txt file at ${shown}; nothing is there.`,
    );
  }
  const core: LoadOptions = {};
  if (options.config) core.config = options.config;
  if (st.isDirectory()) {
    const files: Record<string, string> = {};
    for (const name of FOLDER_FILE_NAMES) {
      const p = join(path, name);
      if (statOrNull(p)?.isFile()) files[name] = readText(p);
    }
    core.name = options.name ?? basename(resolve(path));
    core.filePrefix = shown.endsWith("/") || shown.endsWith(sep) ? shown : `${shown}/`;
    return loadDefinitionFolder(files, core);
  }
  if (options.name) core.name = options.name;
  const dir = dirname(shown);
  if (dir !== ".") core.filePrefix = `${dir}/`;
  return loadDefinitionFile(basename(path), readText(path), core);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw ioError("a readable file", path, e);
  }
}

/** Options of {@link writeDefinitionFiles}. */
export interface WriteFilesOptions {
  /** Allow writing into a non-empty directory (replacing files of the same name). */
  overwrite?: boolean;
  /** How the directory appears in messages (default: `dir`). */
  displayPath?: string;
}

/**
 * Write `files` (name → text) into `dir`. Refuses names that would land outside `dir` (absolute,
 * `..`, nested, symlinks) and a non-empty `dir` unless `overwrite`. Each file is written to a
 * temporary name and renamed.
 */
export function writeDefinitionFiles(
  dir: string,
  files: Record<string, string>,
  options: WriteFilesOptions = {},
): string[] {
  const root = resolve(dir);
  const shown = options.displayPath ?? dir;
  for (const name of Object.keys(files)) {
    const target = resolve(root, name);
    const rel = relative(root, target);
    if (isAbsolute(name) || rel === "" || rel.startsWith("..") || rel.includes(sep) || name.includes("\0")) {
      throw new MlenvError(
        SdkErrorCodes.io,
        `Expected plain file names such as ${FolderFiles.definition} inside ${shown}; refusing ${JSON.stringify(name).slice(0, 200)} (outside the directory).`,
      );
    }
  }
  const st = statOrNull(root);
  if (st && !st.isDirectory()) {
    throw new MlenvError(SdkErrorCodes.io, `Expected ${shown} to be a directory; it is a file.`);
  }
  if (st && !options.overwrite && readdirSync(root).length > 0) {
    throw new MlenvError(
      SdkErrorCodes.io,
      `Expected an empty or new directory at ${shown}; it is not empty (overwrite, e.g. --overwrite, replaces its files).`,
    );
  }
  mkdirSync(root, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const target = join(root, name);
    const existing = lstatOrNull(target);
    if (existing && !existing.isFile()) {
      throw new MlenvError(
        SdkErrorCodes.io,
        `Expected ${target} to be a regular file or absent; refusing to replace a ${existing.isSymbolicLink() ? "symlink" : "directory"}.`,
      );
    }
    const tmp = join(root, `.${name}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, text, { flag: "wx" });
      renameSync(tmp, target);
    } catch (e) {
      throw ioError("a writable directory", root, e);
    }
    written.push(target);
  }
  // Files of the folder layout that the new definition does not have (e.g. an old BaseDockerfile)
  // must not survive an overwrite, or loading the folder would give a different definition.
  for (const name of FOLDER_FILE_NAMES) {
    if (!(name in files) && lstatOrNull(join(root, name))?.isFile()) {
      unlinkSync(join(root, name));
    }
  }
  return written;
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** Save an environment in the folder layout. Returns the written paths. */
export function saveToDirectory(env: Environment, dir: string, options: WriteFilesOptions = {}): string[] {
  return writeDefinitionFiles(dir, saveDefinitionFolder(env.toDefinition()), options);
}

/** Load an environment from a folder (or a single definition/conda/requirements file). */
export function loadFromDirectory(path: string, options: LoadDefinitionPathOptions = {}): Environment {
  const loaded = loadDefinitionPath(path, options);
  const env = Environment.fromDefinition(loaded.definition);
  env.warnings = loaded.warnings;
  return env;
}

/** The reference's `from_conda_specification(name, file_path)`: read a conda file, name it `name`. */
export function fromCondaSpecificationFile(name: string, path: string): Environment {
  return Environment.fromCondaSpecification(name, readText(path), { file: path });
}

/** The reference's `from_pip_requirements(name, file_path)`: read a requirements file, name it `name`. */
export function fromPipRequirementsFile(name: string, path: string): Environment {
  return Environment.fromPipRequirements(name, readText(path), { file: path });
}
