import { expect, it } from "vitest";
import { lapsedCandidates, supersededConnections } from "../../src/invalidation/lapsed-subscribers.ts";

it("takes from CLIENT LIST the subscriber connections of the namespace's other instances old enough to have registered", () => {
  const list = [
    "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name={ns}:sub:a age=12 idle=0 flags=P db=0 sub=2 psub=0",
    "id=8 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=10 name={ns}:sub:b age=2 idle=0 flags=P db=0 sub=2 psub=0",
    "id=9 addr=127.0.0.1:5002 laddr=127.0.0.1:6379 fd=11 name={ns}:sub:own age=30 idle=0 flags=P db=0 sub=2 psub=0",
    "id=10 addr=127.0.0.1:5003 laddr=127.0.0.1:6379 fd=12 name={other}:sub:c age=30 idle=0 flags=P db=0 sub=2 psub=0",
    "id=11 addr=127.0.0.1:5004 laddr=127.0.0.1:6379 fd=13 name= age=30 idle=0 flags=P db=0 sub=1 psub=0",
    "id=12 addr=127.0.0.1:5005 laddr=127.0.0.1:6379 fd=14 name={ns}:sub:d age=4 idle=0 flags=P db=0 sub=2 psub=0",
    "id=13 addr=127.0.0.1:5006 laddr=127.0.0.1:6379 fd=15 name=my-app/{ns}:sub:e age=9 idle=0 flags=P db=0 sub=2 psub=0",
    "id=14 addr=127.0.0.1:5007 laddr=127.0.0.1:6379 fd=16 name=x{ns}:sub:f age=9 idle=0 flags=P db=0 sub=2 psub=0",
    // Another fleet of the same namespace, in another database (its registry is there too).
    "id=15 addr=127.0.0.1:5008 laddr=127.0.0.1:6379 fd=17 name={ns}:sub:g age=9 idle=0 flags=P db=1 sub=2 psub=0",
    // A Cluster's subscriber connections, named by ioredis after their node options' name.
    "id=16 addr=127.0.0.1:5009 laddr=127.0.0.1:6379 fd=18 name=ioredis-cluster(subscriber):{ns}:sub:h age=9 idle=0 flags=P db=0 sub=2 psub=0",
    "id=17 addr=127.0.0.1:5010 laddr=127.0.0.1:6379 fd=19 name=ioredis-cluster(subscriber):my-app/{ns}:sub:i age=9 idle=0 flags=P db=0 sub=2 psub=0",
    "id=18 addr=127.0.0.1:5011 laddr=127.0.0.1:6379 fd=20 name=ioredis-cluster(subscriber):x{ns}:sub:j age=9 idle=0 flags=P db=0 sub=2 psub=0",
    "",
  ].join("\n");
  expect([...lapsedCandidates(list, "{ns}:sub:", "own", 0, 4_000)]).toEqual([
    ["7", "a"],
    ["12", "d"],
    ["13", "e"],
    ["16", "h"],
    ["17", "i"],
  ]);
});

it("takes the older connections of an instance that has a newer one on the same server, its own instance's too", () => {
  const list = [
    "id=30 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=ioredis-cluster(subscriber):{ns}:sub:a age=40 idle=0 flags=P db=0 sub=2 psub=0",
    "id=9 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=10 name=ioredis-cluster(subscriber):{ns}:sub:a age=90 idle=0 flags=P db=0 sub=2 psub=0",
    "id=100 addr=127.0.0.1:5002 laddr=127.0.0.1:6379 fd=11 name=ioredis-cluster(subscriber):{ns}:sub:a age=1 idle=0 flags=P db=0 sub=2 psub=0",
    "id=31 addr=127.0.0.1:5003 laddr=127.0.0.1:6379 fd=12 name={ns}:sub:own age=30 idle=0 flags=P db=0 sub=2 psub=0",
    "id=32 addr=127.0.0.1:5004 laddr=127.0.0.1:6379 fd=13 name={ns}:sub:own age=3 idle=0 flags=P db=0 sub=2 psub=0",
    "id=33 addr=127.0.0.1:5005 laddr=127.0.0.1:6379 fd=14 name={ns}:sub:b age=30 idle=0 flags=P db=0 sub=2 psub=0",
    // Another namespace, and this one's fleet in another database: not this fleet's connections.
    "id=34 addr=127.0.0.1:5006 laddr=127.0.0.1:6379 fd=15 name={other}:sub:b age=30 idle=0 flags=P db=0 sub=2 psub=0",
    "id=35 addr=127.0.0.1:5007 laddr=127.0.0.1:6379 fd=16 name={ns}:sub:b age=30 idle=0 flags=P db=1 sub=2 psub=0",
    "",
  ].join("\n");
  expect(supersededConnections(list, "{ns}:sub:", 0).sort()).toEqual(["30", "31", "9"]);
});
