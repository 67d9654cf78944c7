// Builds the Cockpit page into dist/: one JavaScript bundle (React, PatternFly and the page) and
// one stylesheet (PatternFly's, with its fonts), beside index.html and manifest.json. Cockpit
// serves pages with default-src 'self', so nothing is inline. Run by `make -C packaging cockpit`
// (npm ci first, from package-lock.json); `node build.mjs` after a change.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;
rmSync(`${here}dist`, { recursive: true, force: true });
mkdirSync(`${here}dist`, { recursive: true });

await esbuild.build({
    entryPoints: { index: `${here}src/index.jsx` },
    bundle: true,
    minify: true,
    outdir: `${here}dist`,
    target: "es2022",
    jsx: "automatic",
    legalComments: "external",
    loader: { ".woff": "file", ".woff2": "file", ".svg": "file", ".png": "file", ".jpg": "file" },
    assetNames: "assets/[name]-[hash]",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
});
for (const file of ["index.html", "manifest.json"])
    copyFileSync(`${here}src/${file}`, `${here}dist/${file}`);
