-- Unique values the database computes: a generated column recomputed on every update that changes
-- `code`, and a UUID drawn once, at insert.
CREATE TABLE "Ticket" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "code_key" TEXT NOT NULL GENERATED ALWAYS AS (lower("code")) STORED,
    "serial" UUID NOT NULL DEFAULT gen_random_uuid(),
    "seats" INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT "Ticket_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Ticket_code_key_key" ON "Ticket"("code_key");
CREATE UNIQUE INDEX "Ticket_serial_key" ON "Ticket"("serial");
