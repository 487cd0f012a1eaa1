import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { definitionHash, imageKey } from "../hash/hash";
import { parseDefinition } from "../spec/definition";
import { parseCondaEnvironment, renderCondaEnvironment } from "./condaEnvironment";
import { loadDefinitionFolder, saveDefinitionFolder } from "./folder";

// Strings YAML likes to reinterpret: booleans, nulls, numbers, comments, indicators, unicode.
const tricky = fc.oneof(
  fc.constantFrom(
    "yes",
    "no",
    "on",
    "null",
    "~",
    "1.0",
    "0x1F",
    "1e3",
    "- x",
    "#c",
    "a: b",
    "'q'",
    '"dq"',
    "",
    " lead",
    "trail ",
  ),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}(?:[=<>!]{1,2}[0-9.*]{1,6})?$/),
);

const condaEnv = fc.record(
  {
    name: tricky,
    channels: fc.array(tricky, { maxLength: 4 }),
    dependencies: fc.array(fc.oneof(tricky, fc.record({ pip: fc.array(tricky, { maxLength: 4 }) })), {
      maxLength: 6,
    }),
    variables: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), tricky, { maxKeys: 3 }),
    prefix: tricky,
  },
  { requiredKeys: [] },
);

describe("round trips (property)", () => {
  it("conda environment.yml: render then parse gives the same document", () => {
    fc.assert(
      fc.property(condaEnv, (env) => {
        expect(parseCondaEnvironment(renderCondaEnvironment(env)).environment).toEqual(env);
      }),
      { numRuns: 300 },
    );
  });

  it("folder layout: save then load gives an equal definition with equal hashes", () => {
    fc.assert(
      fc.property(
        condaEnv,
        fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), tricky, { maxKeys: 3 }),
        fc.option(fc.string({ maxLength: 60 }), { nil: null }),
        fc.dictionary(tricky, tricky, { maxKeys: 3 }),
        (env, vars, dockerfile, tags) => {
          const def = parseDefinition({
            name: "prop",
            tags,
            environmentVariables: vars,
            python: { condaDependencies: env },
            ...(dockerfile === null ? {} : { docker: { baseDockerfile: dockerfile } }),
          });
          const loaded = loadDefinitionFolder(saveDefinitionFolder(def)).definition;
          expect(loaded).toEqual(def);
          expect(definitionHash(loaded)).toBe(definitionHash(def));
          expect(imageKey(loaded)).toBe(imageKey(def));
        },
      ),
      { numRuns: 200 },
    );
  });
});
