-- A unique Float: Prisma sends a whole number beyond i64's range given for it rounded to 16
-- significant digits (2 ** 64 as 18446744073709550000, another double).
ALTER TABLE "events" ADD COLUMN "weight" DOUBLE PRECISION;

CREATE UNIQUE INDEX "events_weight_key" ON "events"("weight");
