// Prints which ioredis major this process loaded (ioredis 6 defaults to RESP3: `options.protocol` 3; 5 has no such option).
import { Redis } from "ioredis";

const redis = new Redis({ lazyConnect: true });
console.log(JSON.stringify({ major: (redis.options as { protocol?: number }).protocol === 3 ? 6 : 5 }));
redis.disconnect();
