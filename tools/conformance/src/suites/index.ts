import type { ConformanceSuite } from "../suite";
import { pep440SpecifiersSuite } from "./pep440Specifiers";
import { pep440VersionsSuite } from "./pep440Versions";

/** Every suite the runner knows. Add new suites here (each claims its index.json entries). */
export const suites: readonly ConformanceSuite[] = [pep440VersionsSuite, pep440SpecifiersSuite];
