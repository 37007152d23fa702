-- A table held by Membership's compound primary key, which includes a foreign key of its own.
CREATE TABLE "Duty" (
    "id" SERIAL NOT NULL,
    "person_id" UUID NOT NULL,
    "team_id" INTEGER NOT NULL,
    "task" TEXT NOT NULL,

    CONSTRAINT "Duty_pkey" PRIMARY KEY ("id")
);

ALTER TABLE "Duty" ADD CONSTRAINT "Duty_person_id_team_id_fkey" FOREIGN KEY ("person_id", "team_id") REFERENCES "Membership"("person_id", "team_id") ON DELETE CASCADE ON UPDATE CASCADE;
