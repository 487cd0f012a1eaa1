export type { CliContext, CliIo } from "./context";
export { CliError, createContext } from "./context";
export type { Column } from "./output";
export { formatJson, formatTable, printableLines, sanitize } from "./output";
export type { CommandModule } from "./program";
export { CLI_VERSION, createProgram, errorLine, errorLines, runCli } from "./program";
