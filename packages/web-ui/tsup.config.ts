import { packageConfig } from "../../tsup.base";

// from source only: a built package reads dist/ui/app.js
export default packageConfig({ external: ["esbuild"] });
