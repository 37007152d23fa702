// `node --import ./test/helpers/ioredis6-register.mjs`: see ioredis6-hooks.mjs.
import { register } from "node:module";

register("./ioredis6-hooks.mjs", import.meta.url);
