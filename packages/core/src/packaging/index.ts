export { isPackagingError, PackagingError, PackagingErrorCode, type PackagingErrorOptions } from "./errors";
export { type ContainsOptions, canonicalizeVersion, Specifier, type SpecifierOperator } from "./specifier";
export { SpecifierSet } from "./specifierSet";
export {
  canonicalizeName,
  compareVersions,
  isValidName,
  type PreLabel,
  sortVersions,
  Version,
  type VersionParts,
} from "./version";
