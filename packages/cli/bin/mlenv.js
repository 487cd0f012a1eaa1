#!/usr/bin/env node
import module from "node:module";

// Node >= 22.1 keeps the compiled code of the CLI between runs (in the OS temp folder), as
// Python keeps __pycache__: start-up then skips most parsing. Older Node has no such cache.
module.enableCompileCache?.();
await import("../dist/bin.js");
