import type { ConformanceSuite } from "../suite";
import { condaMatchspecSuite } from "./condaMatchspec";
import { condaVersionsSuite } from "./condaVersions";
import { packseSuite } from "./packse";
import { pep440SpecifiersSuite } from "./pep440Specifiers";
import { pep440VersionsSuite } from "./pep440Versions";
import { pep508MarkersSuite, pep508RequirementsSuite } from "./pep508";
import { pipRequirementsSuite } from "./pipRequirements";
import { realWorldSuite } from "./realWorld";
import { repodataSuite } from "./repodata";

/** Every suite the runner knows. Add new suites here (each claims its index.json entries). */
export const suites: readonly ConformanceSuite[] = [
  pep440VersionsSuite,
  pep440SpecifiersSuite,
  pep508MarkersSuite,
  pep508RequirementsSuite,
  packseSuite,
  condaVersionsSuite,
  condaMatchspecSuite,
  pipRequirementsSuite,
  realWorldSuite,
  repodataSuite,
];
