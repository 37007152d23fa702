-- An enum in a compound unique key, one of its values mapped to another database name.
CREATE TYPE "Tier" AS ENUM ('BRONZE', 'SILVER', 'gold');

CREATE TABLE "Badge" (
    "id" SERIAL NOT NULL,
    "tier" "Tier" NOT NULL,
    "rank" INTEGER NOT NULL,
    "holder" TEXT NOT NULL,

    CONSTRAINT "Badge_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Badge_tier_rank_key" ON "Badge"("tier", "rank");
