-- Fields named like members every JavaScript object inherits (a Formula 1 racer's constructor):
-- a unique one, and a compound unique of two more.
CREATE TABLE "Racer" (
    "id" SERIAL NOT NULL,
    "constructor" TEXT NOT NULL,
    "toString" TEXT NOT NULL,
    "hasOwnProperty" INTEGER NOT NULL,
    "valueOf" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "Racer_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Racer_constructor_key" ON "Racer"("constructor");
CREATE UNIQUE INDEX "Racer_toString_hasOwnProperty_key" ON "Racer"("toString", "hasOwnProperty");
