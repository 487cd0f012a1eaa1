import * as builds from "./builds";
import * as compute from "./compute";
import * as environments from "./environments";
import * as models from "./models";
import type { RouteDeclaration } from "./route";
import * as runs from "./runs";
import * as services from "./services";
import * as system from "./system";
import * as wheels from "./wheels";

export * as builds from "./builds";
export * as common from "./common";
export * as compute from "./compute";
export * as environments from "./environments";
export * as models from "./models";
export { openApiDocument } from "./openapi";
export type {
  Method,
  NonJsonResponse,
  Role,
  RouteBody,
  RouteBodyInput,
  RouteDeclaration,
  RouteParams,
  RouteQuery,
  RouteQueryInput,
  RouteResponse,
} from "./route";
export { honoPath, route, routePath } from "./route";
export * as runs from "./runs";
export * as services from "./services";
export * as system from "./system";
export * as wheels from "./wheels";

function declarations(mod: Record<string, unknown>): RouteDeclaration[] {
  return Object.values(mod).filter(
    (v): v is RouteDeclaration =>
      typeof v === "object" && v !== null && "method" in v && "path" in v && "responses" in v,
  );
}

/** Every route of each feature, in declaration order. */
export const featureRoutes = {
  system: declarations(system),
  environments: declarations(environments),
  builds: declarations(builds),
  runs: declarations(runs),
  models: declarations(models),
  services: declarations(services),
  compute: declarations(compute),
  wheels: declarations(wheels),
} as const;
