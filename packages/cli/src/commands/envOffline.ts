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
    .action((opts: { directory: string; format: RenderFormat }) => {
      const loaded = loadOrReport(ctx, opts.directory);
      ctx.io.stdout(render(loaded.definition, opts.format));
    });
}

const RENDER_FORMATS = ["conda", "pip", "json"] as const;
type RenderFormat = (typeof RENDER_FORMATS)[number];

function render(def: EnvironmentDefinition, format: RenderFormat): string {
  switch (format) {
    case "conda":
      return renderCondaEnvironment(def.python.condaDependencies);
    case "pip": {
      const lines = pipEntries(def.python.condaDependencies);
      return lines.length ? `${lines.join("\n")}\n` : "";
    }
    case "json":
      return `${formatJson(toReferenceJson(def))}\n`;
  }
}
