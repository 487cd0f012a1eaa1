import type { Confinement } from "./confinement";
import type { ProcessRegistry } from "./orphans";

/** What runs and services need to start user code on the local target (see docs/security.md). */
export interface LocalSandbox {
  confinement: Confinement;
  /** Process groups of user code, killed by the next start when this process crashes. */
  processes: ProcessRegistry;
  /** Throws `E_LOCAL_TARGET_REFUSED` when the local target may not be used (policy, unconfined with several workspaces). */
  checkLocalAllowed(): Promise<void>;
}
