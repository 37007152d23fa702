#!/usr/bin/env node
// `npx prisma-cache-shield <warm|stats|top|flush> --client ./module`: see USAGE in args.ts.
import { runCli } from "./run.js";

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
  // Exit now: the client module's own connections (its Redis, its pool) would keep the process alive.
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
