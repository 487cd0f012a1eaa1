import { CodedError } from "@mlenv/core";

/** Why a run or a service could not be prepared or run (recorded on the run, never thrown over HTTP). */
export const RunFailureCode = {
  INTERPRETER_MISSING: "E_INTERPRETER_MISSING",
  VENV_FAILED: "E_VENV_FAILED",
  PIP_FAILED: "E_PIP_FAILED",
  SCRIPT_FAILED: "E_SCRIPT_FAILED",
  SCRIPT_MISSING: "E_SCRIPT_MISSING",
  SERVER_RESTARTED: "E_SERVER_RESTARTED",
  PREPARE_FAILED: "E_PREPARE_FAILED",
  SERVICE_FAILED: "E_SERVICE_FAILED",
  /** A service's GPUs are held by others (a service does not wait for them). */
  GPU_BUSY: "E_GPU_BUSY",
} as const;

export type RunFailureCode = (typeof RunFailureCode)[keyof typeof RunFailureCode];

/** An error of the run machinery with a `code` from {@link RunFailureCode}. */
export class RunFailure extends CodedError<RunFailureCode> {
  override readonly name = "RunFailure";
}

/** `{ code, message }` of any error, for a run record. */
export function failureOf(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return {
    code: typeof code === "string" && code.startsWith("E_") ? code : RunFailureCode.PREPARE_FAILED,
    message: (e instanceof Error ? e.message : String(e)).slice(0, 2000),
  };
}
