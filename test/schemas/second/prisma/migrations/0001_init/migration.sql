-- The second test schema (test/schemas/second/prisma/schema.prisma), written as `prisma migrate diff`
-- would: the schema engine cannot run here.
CREATE EXTENSION IF NOT EXISTS citext;

-- CreateTable
CREATE TABLE "people" (
    "id" UUID NOT NULL,
    "code" CHAR(8) NOT NULL,
    "email" CITEXT NOT NULL,
    "name" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "meta" JSONB NOT NULL DEFAULT '{}',
    "motto" TEXT NOT NULL DEFAULT '} this is no end of a model { // nor a comment ) ]',
    "manager_id" UUID,
    "parent_id" UUID,

    CONSTRAINT "people_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Passport" (
    "id" SERIAL NOT NULL,
    "number" TEXT NOT NULL,
    "person_id" UUID NOT NULL,

    CONSTRAINT "Passport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Team" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "captain_id" INTEGER,

    CONSTRAINT "Team_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Player" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "team_id" INTEGER NOT NULL,

    CONSTRAINT "Player_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Membership" (
    "person_id" UUID NOT NULL,
    "team_id" INTEGER NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'member',
    "since" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Membership_pkey" PRIMARY KEY ("person_id","team_id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" SERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,
    "price" DECIMAL(10,2) NOT NULL,
    "event_label" TEXT NOT NULL,
    "extra" JSONB NOT NULL DEFAULT '{"a": {"b": "}"}}',

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "people_code_key" ON "people"("code");
CREATE UNIQUE INDEX "people_email_key" ON "people"("email");
CREATE UNIQUE INDEX "Passport_number_key" ON "Passport"("number");
CREATE UNIQUE INDEX "Passport_person_id_key" ON "Passport"("person_id");
CREATE UNIQUE INDEX "Team_name_key" ON "Team"("name");
CREATE UNIQUE INDEX "Team_captain_id_key" ON "Team"("captain_id");
CREATE UNIQUE INDEX "events_at_key" ON "events"("at");
CREATE UNIQUE INDEX "events_price_key" ON "events"("price");
CREATE UNIQUE INDEX "events_event_label_at_key" ON "events"("event_label", "at");

-- AddForeignKey
ALTER TABLE "people" ADD CONSTRAINT "people_manager_id_fkey" FOREIGN KEY ("manager_id") REFERENCES "people"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "people" ADD CONSTRAINT "people_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "people"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Passport" ADD CONSTRAINT "Passport_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Team" ADD CONSTRAINT "Team_captain_id_fkey" FOREIGN KEY ("captain_id") REFERENCES "Player"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "Player" ADD CONSTRAINT "Player_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Membership" ADD CONSTRAINT "Membership_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Membership" ADD CONSTRAINT "Membership_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- CreateView (views are not managed by migrate: written by hand, as Prisma's docs advise)
CREATE VIEW "active_people" AS SELECT "id", "name", "email" FROM "people" WHERE "active";
