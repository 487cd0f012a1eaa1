import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createDefinition,
  type DefinitionIssue,
  definitionHash,
  type EnvironmentDefinition,
  formatIssue,
  imageKey,
  isCoreError,
  type LoadedDefinition,
  pipEntries,
  renderCondaEnvironment,
  renderDockerBuild,
  saveDefinitionFolder,
  toReferenceJson,
  validateDefinition,
} from "@mlenv/core";
import { loadDefinitionPath, writeDefinitionFiles } from "@mlenv/sdk/node";
import { type Command, Option } from "commander";
import { type CliContext, CliError } from "../context";
import { formatJson, sanitize } from "../output";

/** Load a definition path; on a located parse error print `file:line: ...` lines and exit 1. */
export function loadOrReport(ctx: CliContext, path: string): LoadedDefinition {
  try {
    return loadDefinitionPath(ctx.path(path), { displayPath: path });
  } catch (e) {
    if (isCoreError(e)) {
      if (e.issues.length > 0) for (const i of e.issues) ctx.err(sanitize(formatIssue(i)));
      else
        ctx.err(
          sanitize(
            `${e.file ? `${e.file}${e.line ? `:${e.line}` : ""}: ` : ""}${e.message.replace(/\s*\n\s*/g, " ")}`,
          ),
        );
      throw new CliError(e.code, "", { cause: e });
    }
    throw e;
  }
}

/** Validate a loaded definition, printing every issue; throws (exit 1) on errors. */
export function validateOrReport(ctx: CliContext, loaded: LoadedDefinition): DefinitionIssue[] {
  const issues = [
    ...loaded.warnings,
    ...validateDefinition(loaded.definition, { locations: loaded.locations }),
  ];
  for (const i of issues) ctx.err(sanitize(formatIssue(i)));
  if (issues.some((i) => i.severity === "error")) throw new CliError("E_SPEC_INVALID", "");
  return issues;
}

/** The offline `env` commands: scaffold, validate, hash, render. */
export function registerOfflineCommands(env: Command, ctx: CliContext): void {
  env
    .command("scaffold")
    .description("Write a new definition folder with every default.")
    .requiredOption("-n, --name <name>", "environment name")
    .requiredOption("-d, --directory <dir>", "folder to create")
    .option("--overwrite", "write into a non-empty folder")
    .action((opts: { name: string; directory: string; overwrite?: boolean }) => {
      const def = createDefinition(opts.name);
      const files = saveDefinitionFolder(def);
      writeDefinitionFiles(ctx.path(opts.directory), files, {
        overwrite: opts.overwrite ?? false,
        displayPath: opts.directory,
      });
      ctx.out(`Scaffolded ${def.name} in ${opts.directory} (${Object.keys(files).sort().join(", ")})`);
    });

  env
    .command("validate")
    .description("Check a definition folder or file; prints `file:line: ...` lines and exits 1 on errors.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .option("--json", "print the issues as JSON")
    .action((opts: { directory: string; json?: boolean }) => {
      const loaded = loadOrReport(ctx, opts.directory);
      if (opts.json) {
        const issues = [
          ...loaded.warnings,
          ...validateDefinition(loaded.definition, { locations: loaded.locations }),
        ];
        ctx.out(formatJson({ valid: !issues.some((i) => i.severity === "error"), issues }));
        if (issues.some((i) => i.severity === "error")) throw new CliError("E_SPEC_INVALID", "");
        return;
      }
      const issues = validateOrReport(ctx, loaded);
      const warnings = issues.filter((i) => i.severity === "warning").length;
      ctx.out(
        sanitize(
          `${opts.directory}: valid (${loaded.definition.name}, ${warnings} warning${warnings === 1 ? "" : "s"})`,
        ),
      );
    });

  env
    .command("hash")
    .description("Print the definitionHash and imageKey of a definition.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .option("--json", "print JSON")
    .action((opts: { directory: string; json?: boolean }) => {
      const def = loadOrReport(ctx, opts.directory).definition;
      const out = { name: def.name, definitionHash: definitionHash(def), imageKey: imageKey(def) };
      if (opts.json) return ctx.out(formatJson(out));
      ctx.out(`definitionHash  ${out.definitionHash}`);
      ctx.out(`imageKey        ${out.imageKey}`);
    });

  env
    .command("render")
    .description("Render a definition as a conda environment.yml, pip requirements, a Dockerfile or JSON.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .addOption(
      new Option("-f, --format <format>", "output format").choices(RENDER_FORMATS).makeOptionMandatory(),
    )
    .option("-o, --output <dir>", "dockerfile: also write the whole build context into this folder")
    .option("--overwrite", "with --output: write into a non-empty folder")
    .action((opts: { directory: string; format: RenderFormat; output?: string; overwrite?: boolean }) => {
      const loaded = loadOrReport(ctx, opts.directory);
      if (opts.output !== undefined) {
        if (opts.format !== "dockerfile")
          throw new CliError("E_USAGE", "Expected --output only with --format dockerfile.");
        const build = renderDockerBuild(loaded.definition);
        const written = writeContext(
          ctx.path(opts.output),
          opts.output,
          build.context,
          opts.overwrite ?? false,
        );
        ctx.out(sanitize(`Wrote the build context (${written.join(", ")}) to ${opts.output}`));
        return;
      }
      ctx.io.stdout(render(loaded.definition, opts.format));
    });
}

const RENDER_FORMATS = ["conda", "pip", "dockerfile", "json"] as const;
type RenderFormat = (typeof RENDER_FORMATS)[number];

function render(def: EnvironmentDefinition, format: RenderFormat): string {
  switch (format) {
    case "conda":
      return renderCondaEnvironment(def.python.condaDependencies);
    case "pip": {
      const lines = pipEntries(def.python.condaDependencies);
      return lines.length ? `${lines.join("\n")}\n` : "";
    }
    case "dockerfile":
      return renderDockerBuild(def).dockerfile;
    case "json":
      return `${formatJson(toReferenceJson(def))}\n`;
  }
}

/** Write a build context (file name → bytes) into a new or empty folder (or any with overwrite). */
function writeContext(
  dir: string,
  shown: string,
  context: Record<string, Uint8Array>,
  overwrite: boolean,
): string[] {
  const names = Object.keys(context).sort();
  for (const name of names) {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") {
      throw new CliError(
        "E_IO",
        `Expected plain build-context file names; refusing ${JSON.stringify(name).slice(0, 200)}.`,
      );
    }
  }
  if (existsSync(dir) && !overwrite && readdirSync(dir).length > 0) {
    throw new CliError(
      "E_IO",
      `Expected an empty or new directory at ${shown}; it is not empty (--overwrite replaces its files).`,
    );
  }
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const target = join(dir, name);
    if (existsSync(target) && !lstatSync(target).isFile()) {
      throw new CliError("E_IO", `Expected ${target} to be a regular file or absent.`);
    }
    writeFileSync(target, context[name]!);
  }
  return names;
}
